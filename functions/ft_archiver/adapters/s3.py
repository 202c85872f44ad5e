"""S3 writes over boto3: single PutObject or a multipart upload that can only complete or abort.

``MultipartUpload`` is a context manager: leaving its block by any exception, including
KeyboardInterrupt, or without calling ``complete``, aborts the upload. ``complete``
verifies what S3 stored (size and checksum, or with ChecksumMode none the SHA-256 read
back) and deletes the object again if it does not match, so a key never holds
unverified bytes.

A store that takes the checksum headers and ignores them would let a whole archive
upload and then fail its verification: every PutObject and UploadPart answer must echo
the checksum sent, and the first part is answered before any other is sent (the
transfer waits for it), so such a store is stopped at part 1 (ChecksumNotKeptError).

An archive is written only where no object is (``If-None-Match: *`` on PutObject and
CompleteMultipartUpload), so that no request can replace another archive. When such a
write fails or is refused, the key is looked at (``after_failed_write``): S3 may have
stored the object before its answer was lost (Complete can fail after the object
exists), or the key may hold this very archive already.
"""

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ft_archiver.adapters.aws_errors import AWS_ERRORS, error_code
from ft_archiver.adapters.part_body import PartBody
from ft_archiver.domain.checksums import Buffer, ChecksumMode, CrcAlgorithm
from ft_archiver.domain.naming import MANIFEST_SUFFIX
from ft_archiver.errors import (
    ArchiveConflictError,
    ChecksumNotKeptError,
    IntegrityError,
    StorageAccessDeniedError,
    StorageError,
    UploadGoneError,
)
from ft_archiver.service.ports import ObjectSpec, StoredObject, UploadedPart

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

log = logging.getLogger(__name__)
# S3's answers that the caller has no authority for the request: a policy or a disabled
# account, or credentials S3 does not accept. No retry of the same call can succeed.
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
)
# S3's refusals of a conditional write: the key holds an object (412), or a conflicting
# write to it was under way (409).
CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
GONE_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
SERVER_CODES = frozenset({"InternalError", "ServiceUnavailable", "SlowDown"})
NEW_ONLY: dict[str, Any] = {"IfNoneMatch": "*"}
READ_BACK_CHUNK = 8 * 1024 * 1024


def stored_object(spec: ObjectSpec, response: Mapping[str, Any]) -> StoredObject:
    # "null" is the version of an object in a bucket without versioning: no version.
    version = response.get("VersionId")
    return StoredObject(
        spec.bucket, spec.key, response["ETag"], None if version == "null" else version
    )


def storage_error(
    action: str, bucket: str, key: str, exc: Exception, after: str = ""
) -> StorageError:
    """``after``: what was done about it, appended to the message."""
    where = f"S3 {action} of s3://{bucket}/{key}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "Error")
        detail = f"{code}: {error.get('Message', '')}".rstrip(": ")
        if code == "NoSuchUpload":
            return UploadGoneError(f"{where}: {detail}{after}")
        if code in ACCESS_DENIED_CODES:
            return StorageAccessDeniedError(f"{where} was refused ({detail}){after}")
        if code in UNSUPPORTED_CODES and "checksum" in detail.lower():
            return StorageError(f"{where} failed ({detail}){NONE_MODE_HINT}{after}")
    else:
        detail = type(exc).__name__
    return StorageError(f"{where} failed ({detail}){after}")


def may_have_written(exc: Exception) -> bool:
    """Whether a failed write may have stored its object, or was refused for an object
    that is there: a conflict (412, 409), a vanished upload (a retried Complete of one
    that completed), S3's own failure (5xx), or an answer lost on the way (a connection
    or read error). Any other refusal (access denied, a bad digest, a missing part)
    stored nothing."""
    if not isinstance(exc, ClientError):
        return True
    code = error_code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return code in CONFLICT_CODES | SERVER_CODES or code == "NoSuchUpload" or status >= 500


def multipart_etag(parts: list[UploadedPart]) -> str | None:
    """The ETag S3 gives the object that these parts make: the MD5 of the parts' MD5s,
    then their count. None if a part's ETag is not such a digest."""
    try:
        digests = b"".join(
            bytes.fromhex(part.etag.strip('"')) for part in sorted(parts, key=lambda p: p.number)
        )
    except ValueError:
        return None
    return f'"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(parts)}"'


def _checksum_arg(algorithm: CrcAlgorithm, crc: int) -> dict[str, Any]:
    return {algorithm.s3_field: algorithm.encode(crc)}


def _sent_checksum(mode: ChecksumMode, spec: ObjectSpec, crc: int) -> dict[str, Any]:
    """The checksum a PutObject or UploadPart carries: none with ChecksumMode none."""
    if mode == "none":
        return {}
    return {"ChecksumAlgorithm": spec.algorithm.name, **_checksum_arg(spec.algorithm, crc)}


# Errors a store gives a checksum header it does not take (S3-compatible stores vary).
UNSUPPORTED_CODES = frozenset({"InvalidArgument", "NotImplemented", "InvalidRequest"})
NONE_MODE_HINT = (
    "; a store that does not take S3's x-amz-checksum-* headers needs "
    "FT_ARCHIVER_CHECKSUM_MODE=none (the stack's ChecksumMode, --checksum-mode), which "
    "proves each object by reading it back"
)


def check_echo(
    mode: ChecksumMode, spec: ObjectSpec, action: str, response: Mapping[str, Any], crc: int
) -> None:
    """The store's answer must carry the checksum it was sent: one that takes the header
    and ignores it cannot verify the object (ChecksumNotKeptError, never retried)."""
    if mode == "none":
        return
    field = spec.algorithm.s3_field
    sent = spec.algorithm.encode(crc)
    echoed = response.get(field)
    if echoed != sent:
        said = f"answered {echoed!r}" if echoed else "did not echo it"
        raise ChecksumNotKeptError(
            f"s3://{spec.bucket}/{spec.key}: the store took {action} with "
            f"{spec.algorithm.name} {sent} and {said}: it does not keep S3 checksums, so "
            "it cannot verify the object. Set FT_ARCHIVER_CHECKSUM_MODE=none (the "
            "stack's ChecksumMode, --checksum-mode none) to prove each object by "
            "reading it back; `ft-archiver doctor --write-test` says which modes the "
            "store keeps"
        )


def version_arg(stored: StoredObject) -> dict[str, Any]:
    return {"VersionId": stored.version_id} if stored.version_id else {}


def _expected_checksum(
    mode: ChecksumMode, spec: ObjectSpec, crc: int, parts: list[UploadedPart] | None
) -> str:
    """The value HeadObject shows for these bytes: a multipart object's composite
    checksum of its parts', else the full-object CRC (a single PutObject's too)."""
    if mode == "composite" and parts is not None:
        return spec.algorithm.composite(p.crc for p in sorted(parts, key=lambda p: p.number))
    return spec.algorithm.encode(crc)


def _multipart_checksum(mode: ChecksumMode, spec: ObjectSpec) -> dict[str, Any]:
    if mode == "none":
        return {}
    kind = "COMPOSITE" if mode == "composite" else "FULL_OBJECT"
    return {"ChecksumAlgorithm": spec.algorithm.name, "ChecksumType": kind}


class S3Store:
    """The archive bucket, through one thread-safe boto3 client. ``mode``: what the
    store is asked to check (ChecksumMode), a property of the store, as its settings say."""

    def __init__(self, client: S3Client, mode: ChecksumMode = "full-object") -> None:
        self._client = client
        self.mode: ChecksumMode = mode

    def put_object(
        self, spec: ObjectSpec, body: Buffer, crc: int, *, overwrite: bool = False
    ) -> StoredObject:
        """One request for small archives; S3 checks the checksum before it stores
        anything. A new object only, unless ``overwrite`` (a manifest)."""
        try:
            response = self._client.put_object(
                Bucket=spec.bucket,
                Key=spec.key,
                Body=PartBody(memoryview(body)),  # type: ignore[arg-type]
                ContentType=spec.content_type,
                Metadata=spec.metadata,
                **_sent_checksum(self.mode, spec, crc),
                **({} if overwrite else NEW_ONLY),
            )
        except AWS_ERRORS as exc:
            if overwrite or not may_have_written(exc):
                raise storage_error("PutObject", spec.bucket, spec.key, exc) from None
            # S3 checked the bytes against their checksum: none of ours can mismatch
            digest = hashlib.sha256(body).hexdigest() if self.mode == "none" else None
            return self.after_failed_write("PutObject", spec, exc, len(body), crc, sha256=digest)
        stored = stored_object(spec, response)
        try:
            check_echo(self.mode, spec, "PutObject", response, crc)
        except ChecksumNotKeptError:
            self.delete(stored)
            raise
        sha256 = hashlib.sha256(body).hexdigest() if self.mode == "none" else None
        self.verify(spec, stored, len(body), crc, sha256=sha256)
        return stored

    def after_failed_write(
        self,
        action: str,
        spec: ObjectSpec,
        exc: Exception,
        size: int,
        crc: int,
        own_etag: str | None = None,
        after: str = "",
        *,
        parts: list[UploadedPart] | None = None,
        sha256: str | None = None,
    ) -> StoredObject:
        """Look at the key after a write that failed or was refused (HeadObject, current
        version). It holds these very bytes (size and full-object checksum): they are
        verified and the archive goes on with that object, ``adopted``. It holds bytes
        this upload made (``own_etag``) that do not match: that version is removed
        (IntegrityError, retryable). It holds another object: ArchiveConflictError, the
        object left as it is. It holds nothing: the write's own error."""
        failure = storage_error(action, spec.bucket, spec.key, exc, after)
        where = f"s3://{spec.bucket}/{spec.key}"
        checked: dict[str, Any] = {} if self.mode == "none" else {"ChecksumMode": "ENABLED"}
        try:
            head = self._client.head_object(Bucket=spec.bucket, Key=spec.key, **checked)
            found = stored_object(spec, head)
            same = self._holds(spec, found, head, size, crc, parts, sha256)
        except AWS_ERRORS as looked:
            if not (isinstance(looked, ClientError) and error_code(looked) in GONE_CODES):
                log.warning("could not look at %s after the failed %s (%s)",
                            where, action, error_code(looked))  # fmt: skip
            raise failure from None
        except StorageError as unreadable:  # its read-back failed: it may be ours
            log.warning("could not read %s back after the failed %s (%s)",
                        where, action, unreadable)  # fmt: skip
            raise failure from None
        algorithm = spec.algorithm
        expected = _expected_checksum(self.mode, spec, crc, parts)
        checksum = head.get(algorithm.s3_field)
        held = f"{head['ContentLength']:,} bytes with {algorithm.name} {checksum or '(none)'}"
        if same:
            log.warning("%s of %s failed (%s), but the key holds these very bytes (%s): "
                        "verified", action, where, error_code(exc), held)  # fmt: skip
            return replace(found, adopted=True)
        if own_etag is not None and head["ETag"] == own_etag:
            self.delete(found)
            raise IntegrityError(
                f"after a failed {action}, {where} holds {held} made of this upload's "
                f"parts, expected {size:,} bytes with {expected}; that version was removed"
            )
        raise ArchiveConflictError(
            f"{where} already holds another object ({held}; {error_code(exc)}): "
            "ft-archiver never replaces an object. Archive to another key, or remove that "
            f"object (and its {MANIFEST_SUFFIX}) first{after}"
        )

    def _holds(
        self,
        spec: ObjectSpec,
        found: StoredObject,
        head: Mapping[str, Any],
        size: int,
        crc: int,
        parts: list[UploadedPart] | None,
        sha256: str | None,
    ) -> bool:
        """Whether the object at the key is these very bytes: by its checksum, or with
        ChecksumMode none by reading it back (only when the size already matches)."""
        if head["ContentLength"] != size:
            return False
        if self.mode == "none":
            return sha256 is not None and self.read_back_sha256(found) == sha256
        return bool(
            head.get(spec.algorithm.s3_field) == _expected_checksum(self.mode, spec, crc, parts)
        )

    def start_multipart(self, spec: ObjectSpec) -> "MultipartUpload":
        try:
            response = self._client.create_multipart_upload(
                Bucket=spec.bucket,
                Key=spec.key,
                ContentType=spec.content_type,
                Metadata=spec.metadata,
                **_multipart_checksum(self.mode, spec),
            )
        except AWS_ERRORS as exc:
            raise storage_error("CreateMultipartUpload", spec.bucket, spec.key, exc) from None
        return MultipartUpload(self._client, spec, response["UploadId"], self)

    def resume_multipart(self, spec: ObjectSpec, upload_id: str) -> "MultipartUpload":
        """An upload an earlier invocation left open; UploadGoneError if it is not."""
        upload = MultipartUpload(self._client, spec, upload_id, self)
        upload.list_parts()
        return upload

    def abort_multipart(self, spec: ObjectSpec, upload_id: str) -> None:
        MultipartUpload(self._client, spec, upload_id, self).abort()

    def tag(self, stored: StoredObject, tags: dict[str, str]) -> None:
        extra = version_arg(stored)
        try:
            self._client.put_object_tagging(
                Bucket=stored.bucket,
                Key=stored.key,
                Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]},
                **extra,
            )
        except AWS_ERRORS as exc:
            self.delete(stored)
            done = "left in place" if stored.adopted else "removed"
            raise storage_error(
                "PutObjectTagging", stored.bucket, stored.key, exc, f"; the object was {done}"
            ) from None

    def verify(
        self,
        spec: ObjectSpec,
        stored: StoredObject,
        size: int,
        crc: int,
        *,
        parts: list[UploadedPart] | None = None,
        sha256: str | None = None,
    ) -> None:
        """Read back size and checksum (a multipart object's composite one from its
        ``parts``), or with ChecksumMode none the whole object's SHA-256 (``sha256``);
        remove the object and raise if the store holds other bytes."""
        extra = version_arg(stored)
        checked: dict[str, Any] = {} if self.mode == "none" else {"ChecksumMode": "ENABLED"}
        try:
            head = self._client.head_object(Bucket=spec.bucket, Key=spec.key, **checked, **extra)
        except AWS_ERRORS as exc:
            self.delete(stored)
            raise storage_error("HeadObject", spec.bucket, spec.key, exc) from None
        if self.mode == "none":
            self._verify_read_back(spec, stored, size, head["ContentLength"], sha256)
            return
        expected = _expected_checksum(self.mode, spec, crc, parts)
        found = head.get(spec.algorithm.s3_field)
        if head["ContentLength"] != size or found != expected:
            self.delete(stored)
            raise IntegrityError(
                f"s3://{spec.bucket}/{spec.key} holds {head['ContentLength']} bytes with "
                f"{spec.algorithm.name} {found}, expected {size} bytes with {expected}; "
                "the object was removed"
            )

    def _verify_read_back(
        self, spec: ObjectSpec, stored: StoredObject, size: int, held: int, sha256: str | None
    ) -> None:
        where = f"s3://{spec.bucket}/{spec.key}"
        if sha256 is None:  # a caller without the digest cannot prove these bytes
            self.delete(stored)
            raise IntegrityError(f"{where}: no SHA-256 to read it back against; removed")
        try:
            found = self.read_back_sha256(stored) if held == size else None
        except StorageError:
            self.delete(stored)
            raise
        if found != sha256:
            self.delete(stored)
            what = f"SHA-256 {found}" if found else f"{held:,} bytes"
            raise IntegrityError(
                f"{where} read back as {what}, expected {size:,} bytes with SHA-256 "
                f"{sha256}; the object was removed"
            )

    def read_back_sha256(self, stored: StoredObject) -> str:
        """The SHA-256 of the object's bytes as the store serves them, 8 MiB at a time."""
        try:
            body = self._client.get_object(
                Bucket=stored.bucket, Key=stored.key, **version_arg(stored)
            )["Body"]
            digest = hashlib.sha256()
            for chunk in iter(lambda: body.read(READ_BACK_CHUNK), b""):
                digest.update(chunk)
        except AWS_ERRORS as exc:
            raise storage_error("GetObject (read-back)", stored.bucket, stored.key, exc) from None
        return digest.hexdigest()

    def delete(self, stored: StoredObject) -> None:
        if stored.adopted:
            log.warning("left s3://%s/%s in place: it was found there, not written by this "
                        "attempt", stored.bucket, stored.key)  # fmt: skip
            return
        extra = version_arg(stored)
        try:
            self._client.delete_object(Bucket=stored.bucket, Key=stored.key, **extra)
        except AWS_ERRORS as exc:
            log.error(
                "could not remove s3://%s/%s (%s)", stored.bucket, stored.key, error_code(exc)
            )


def _completed_part(mode: ChecksumMode, spec: ObjectSpec, part: UploadedPart) -> dict[str, Any]:
    """A part as Complete lists it. Full-object: a resumed part whose checksum ListParts
    did not return goes without (the full-object checksum still covers its bytes);
    composite: every part has its checksum (resume_multipart made sure)."""
    entry: dict[str, Any] = {"PartNumber": part.number, "ETag": part.etag}
    if mode != "none" and part.crc >= 0:
        entry.update(_checksum_arg(spec.algorithm, part.crc))
    return entry


def _completed_checksum(mode: ChecksumMode, spec: ObjectSpec, crc: int) -> dict[str, Any]:
    if mode == "full-object":
        return {"ChecksumType": "FULL_OBJECT", **_checksum_arg(spec.algorithm, crc)}
    if mode == "composite":
        return {"ChecksumType": "COMPOSITE"}
    return {}


class MultipartUpload:
    """One open multipart upload. Thread-safe: parts may be uploaded concurrently."""

    def __init__(self, client: S3Client, spec: ObjectSpec, upload_id: str, store: S3Store) -> None:
        self._client = client
        self._spec = spec
        self._store = store
        self.upload_id = upload_id
        self._finished = False

    def __enter__(self) -> "MultipartUpload":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._finished:
            self.abort()

    def upload_part(self, number: int, body: Buffer, crc: int) -> UploadedPart:
        spec = self._spec
        try:
            response = self._client.upload_part(
                Bucket=spec.bucket,
                Key=spec.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=PartBody(memoryview(body)),  # type: ignore[arg-type]
                **_sent_checksum(self._store.mode, spec, crc),
            )
        except AWS_ERRORS as exc:
            raise storage_error(f"UploadPart {number}", spec.bucket, spec.key, exc) from None
        check_echo(self._store.mode, spec, f"UploadPart {number}", response, crc)
        return UploadedPart(number, response["ETag"], crc, len(body))

    def complete(
        self, parts: list[UploadedPart], size: int, crc: int, sha256: str | None = None
    ) -> StoredObject:
        """The object, verified; if Complete fails or is refused, what the key holds
        decides (``S3Store.after_failed_write``): this archive goes on, the version these
        parts made is removed, or another object is there (ArchiveConflictError).
        ``sha256``: what the read-back must find (ChecksumMode none)."""
        spec, mode = self._spec, self._store.mode
        ordered = sorted(parts, key=lambda p: p.number)
        try:
            response = self._client.complete_multipart_upload(
                Bucket=spec.bucket,
                Key=spec.key,
                UploadId=self.upload_id,
                **NEW_ONLY,
                MultipartUpload={"Parts": [_completed_part(mode, spec, part) for part in ordered]},  # type: ignore[misc]
                **_completed_checksum(mode, spec, crc),
            )
        except AWS_ERRORS as exc:
            action = "CompleteMultipartUpload"
            if not may_have_written(exc):
                raise storage_error(action, spec.bucket, spec.key, exc) from None
            found = self._store.after_failed_write(
                action, spec, exc, size, crc, multipart_etag(parts), "; the upload is aborted",
                parts=ordered, sha256=sha256,
            )  # fmt: skip
            self.abort()  # kept open by a key that held these bytes, or gone: completed
            return found
        self._finished = True
        stored = stored_object(spec, response)
        self._store.verify(spec, stored, size, crc, parts=ordered, sha256=sha256)
        return stored

    def suspend(self) -> None:
        """Leave the upload open: a later invocation resumes it (or the lifecycle rule
        aborts it after two days)."""
        self._finished = True

    def list_parts(self) -> list[UploadedPart]:
        """The parts S3 holds for this upload, with their ETags and checksums."""
        spec = self._spec
        parts: list[UploadedPart] = []
        marker = 0
        try:
            while True:
                page = self._client.list_parts(
                    Bucket=spec.bucket, Key=spec.key, UploadId=self.upload_id,
                    PartNumberMarker=marker,
                )  # fmt: skip
                for item in page.get("Parts", []):
                    encoded = str(dict(item).get(spec.algorithm.s3_field) or "")
                    crc = spec.algorithm.decode(encoded) if encoded else -1
                    parts.append(UploadedPart(item["PartNumber"], item["ETag"], crc, item["Size"]))
                if not page.get("IsTruncated"):
                    return parts
                marker = page["NextPartNumberMarker"]
        except AWS_ERRORS as exc:
            raise storage_error("ListParts", spec.bucket, spec.key, exc) from None

    def abort(self) -> None:
        self._finished = True
        try:
            self._client.abort_multipart_upload(
                Bucket=self._spec.bucket, Key=self._spec.key, UploadId=self.upload_id
            )
        except AWS_ERRORS as exc:
            if error_code(exc) == "NoSuchUpload":
                return  # completed, or aborted already
            log.error(
                "could not abort upload %s of s3://%s/%s (%s); the bucket's lifecycle rule will",
                self.upload_id,
                self._spec.bucket,
                self._spec.key,
                error_code(exc),
            )
