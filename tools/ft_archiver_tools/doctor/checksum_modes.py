"""``doctor --write-test``: which checksum modes the archive bucket's store keeps.

Each of full-object and composite is tried the way an archive would use it, through the
archiver's own S3 adapter: a one-part multipart upload with that mode's checksum (the
store must echo it), a second part sent with a wrong checksum (the store must refuse
it), Complete, and HeadObject (the store must show the value the archiver expects). The
object is deleted, the upload aborted on any failure: nothing is left. Mode none needs
nothing of the store (each archive is read back), so it always works."""

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from ft_archiver.adapters.aws_errors import AWS_ERRORS, error_code
from ft_archiver.adapters.s3 import S3Store
from ft_archiver.domain.checksums import ALGORITHMS, COMPOSITE_ALGORITHMS, ChecksumMode
from ft_archiver.errors import ArchiverError, ChecksumNotKeptError
from ft_archiver.service.ports import ObjectSpec
from ft_archiver_tools.doctor.result import Check, failed, passed, reason

PROBE_BODY = b"ft-archiver doctor: a checksum probe, removed at once\n"
# the modes in the order the archiver prefers them: the strongest proof the store keeps
PREFERENCE: tuple[ChecksumMode, ...] = ("full-object", "composite", "none")


@dataclass(frozen=True)
class ModeFinding:
    mode: ChecksumMode
    algorithm: str
    kept: bool
    detail: str  # what the store did with it, as a phrase


def checksum_modes(
    s3: Any, bucket: str, prefix: str, configured: ChecksumMode, algorithm: str
) -> Check:
    """One check: the modes the store keeps, failed when the configured one is not
    among them (the fix names the best one it keeps)."""
    findings = [
        probe(s3, bucket, prefix, "full-object", algorithm if configured == "full-object"
              else "CRC64NVME"),
        probe(s3, bucket, prefix, "composite", algorithm if algorithm in COMPOSITE_ALGORITHMS
              else "CRC32C"),
    ]  # fmt: skip
    kept = [f.mode for f in findings if f.kept] + ["none"]
    said = "; ".join(f"{f.mode} {f.algorithm} {f.detail}" for f in findings)
    detail = f"{said}; none works with any store (each archive is read back)"
    if configured in kept:
        return passed(
            "s3.checksum_modes",
            f"the store keeps {', '.join(kept)} (configured: {configured}): {detail}",
        )
    best = kept[0]
    return failed(
        "s3.checksum_modes",
        f"the store does not keep the configured checksum mode {configured}: {detail}",
        f"set FT_ARCHIVER_CHECKSUM_MODE={best} (the stack's ChecksumMode parameter, "
        f"--checksum-mode {best} on the command line)",
    )


def probe(s3: Any, bucket: str, prefix: str, mode: ChecksumMode, name: str) -> ModeFinding:
    algorithm = ALGORITHMS[name]
    key = f"{prefix}ft-archiver-doctor/{uuid.uuid4().hex}-{mode}.txt"
    spec = ObjectSpec(bucket, key, "text/plain", {}, algorithm)
    crc = algorithm.compute(PROBE_BODY)
    store = S3Store(s3, mode)
    try:
        with store.start_multipart(spec) as upload:
            part = upload.upload_part(1, PROBE_BODY, crc)
            took_wrong = _takes_a_wrong_part(s3, spec, upload.upload_id, crc)
            if took_wrong:
                return ModeFinding(mode, name, False, took_wrong)  # the upload is aborted
            stored = upload.complete(
                [part], len(PROBE_BODY), crc, hashlib.sha256(PROBE_BODY).hexdigest()
            )
    except ChecksumNotKeptError:
        return ModeFinding(mode, name, False, "taken but not echoed: not kept")
    except ArchiverError as exc:
        return ModeFinding(mode, name, False, f"refused ({reason(exc)})")
    store.delete(stored)
    return ModeFinding(mode, name, True, "kept, and a wrong one refused")


def _takes_a_wrong_part(s3: Any, spec: ObjectSpec, upload_id: str, crc: int) -> str | None:
    """None when the store refuses a part whose checksum is wrong (as S3 does, with
    BadDigest), else what it did instead."""
    wrong = spec.algorithm.encode(crc ^ 1)
    try:
        s3.upload_part(
            Bucket=spec.bucket, Key=spec.key, UploadId=upload_id, PartNumber=2,
            Body=PROBE_BODY, **{spec.algorithm.s3_field: wrong},
        )  # fmt: skip
    except AWS_ERRORS as exc:
        code = error_code(exc)
        return (
            None
            if code in ("BadDigest", "InvalidDigest", "InvalidRequest")
            else (f"answered a wrong part checksum with {code}, not BadDigest")
        )
    return "took a part whose checksum was wrong: not checked"
