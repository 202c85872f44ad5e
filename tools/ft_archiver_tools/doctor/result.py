"""One finding of the doctor: what was checked, whether it holds, and how to fix it."""

from dataclasses import dataclass

from botocore.exceptions import ClientError

from ft_archiver.adapters.aws_errors import AWS_ERRORS, error_code
from ft_archiver.errors import ArchiverError


@dataclass(frozen=True)
class Check:
    """``name`` is a stable identifier for machines (``s3.bucket``); ``detail`` says what
    was found, as a sentence a person reads; ``fix`` what to do about it, when it fails."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


def passed(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, False, detail, fix)


def advised(name: str, detail: str, advice: str) -> Check:
    """Archiving works, but this is worth fixing: it holds (exit 0) and says how."""
    return Check(name, True, detail, advice)


def reason(exc: BaseException) -> str:
    """An error in words fit to print: our own errors' messages (they never carry a secret
    or a URL's query), AWS's error code, and only the type of anything else (a library's
    message may quote a signed URL)."""
    if isinstance(exc, ArchiverError):
        return str(exc)
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message") or "")
        return f"{code}: {message}" if message and message != code else code
    if isinstance(exc, AWS_ERRORS):
        return error_code(exc)
    return f"unexpected {type(exc).__name__}"
