"""The checks as a person reads them, one line each as it is found: ``✓ what``,
``⚠ what: advice`` (it works, but is worth fixing) or ``✗ what: the fix``; or as one
JSON document for machines once all are in. Whatever is printed has the secrets it was
given blanked, whatever a message came to quote."""

import json
from collections.abc import Iterable
from typing import TextIO

from ft_archiver_tools.doctor.result import Check

REDACTED = "[redacted]"
MARKS = ("✓", "⚠", "✗")
PLAIN_MARKS = ("ok", "WARNING", "FAILED")  # for a terminal whose encoding has no ✓


def marks_for(out: TextIO) -> tuple[str, str, str]:
    try:
        "".join(MARKS).encode(getattr(out, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return PLAIN_MARKS
    return MARKS


class Report:
    def __init__(self, out: TextIO, as_json: bool, secrets: Iterable[str] = ()) -> None:
        self._out = out
        self._as_json = as_json
        self._secrets = [secret for secret in secrets if secret]
        self._marks = marks_for(out)
        self.checks: list[Check] = []

    def hide(self, secret: str) -> None:
        """Blank ``secret`` in every check added from now on."""
        if secret:
            self._secrets.append(secret)

    def add(self, check: Check) -> None:
        check = Check(
            check.name,
            check.ok,
            self._blank(check.detail),
            None if check.fix is None else self._blank(check.fix),
        )
        self.checks.append(check)
        if not self._as_json:
            print(line(check, self._marks), file=self._out, flush=True)

    def finish(self) -> bool:
        """Whether every check held; the JSON document is printed now."""
        if self._as_json:
            document = [check.as_json() for check in self.checks]
            print(json.dumps(document, indent=2, ensure_ascii=False), file=self._out, flush=True)
        return all(check.ok for check in self.checks)

    def _blank(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def line(check: Check, marks: tuple[str, str, str] = MARKS) -> str:
    good, advice, bad = marks
    if check.ok:
        return f"{advice} {check.detail}: {check.fix}" if check.fix else f"{good} {check.detail}"
    return f"{bad} {check.detail}: {check.fix}" if check.fix else f"{bad} {check.detail}"
