"""The state a distributed archive carries from step to step of its state machine.

The archiver starts an execution with a ``DistributedStart``; Plan answers with the
``DistributedPlan`` (small: it goes to every batch) and the batches; each batch
invocation answers ``BatchProgress``; Complete answers ``CompletedUpload``; the optional
read-back answers ``Sha256Progress``. Step Functions keeps them as JSON between steps.

The digest of a parallel archive: SHA-256 cannot be computed in parallel over one
stream, so every part's SHA-256 is recorded, and the archive's ``sha256_tree`` is the
SHA-256 of the parts' 32-byte digests concatenated in part order (parts of
``part_size`` bytes, the last one shorter). Anyone holding the archive and the part size
can recompute it; the whole-archive ``sha256`` is added when the archive is read back.
"""

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict


class StepModel(BaseModel):
    # Built on first use: ArchiverFunction imports these to hand an archive on, which
    # most of its invocations never do, and their schemas cost milliseconds of cold start.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class DistributedStart(StepModel):
    """What the archiver hands the state machine: the request as resolved, and its lease."""

    fine_tune_id: str
    checkpoint_step: int | None
    requested_type: str
    explicit_key: str | None
    bucket: str
    prefix: str
    confine_keys: bool
    lease_key: str
    owner: str


class DistributedPlan(StepModel):
    start: DistributedStart
    checkpoint_type: str  # resolved
    training_type: str
    key: str
    manifest_key: str
    content_type: str
    metadata: dict[str, str]
    size: int
    part_size: int
    parts: int
    source_etag: str | None
    upload_id: str
    algorithm: str
    workers: int
    batch_timeout_s: int
    verify_sha256: bool


class BatchItem(StepModel):
    first: int
    last: int


class BatchProgress(StepModel):
    more: bool  # the invocation's deadline came first: the next one goes on
    parts_done: int


class CompletedUpload(StepModel):
    etag: str
    version_id: str | None
    checksum: str  # the full-object CRC, as S3 encodes it
    sha256_tree: str
    # the key held these very bytes after a refused or failed Complete: never deleted
    adopted: bool = False


class Sha256Progress(StepModel):
    more: bool
    offset: int
    digest_state: str  # base64 of the SHA-256 midstate after ``offset`` bytes
    sha256: str | None


def sha256_tree(part_digests: Iterable[str]) -> str:
    """SHA-256 over the parts' SHA-256 digests (hex, in part order) as raw bytes."""
    tree = hashlib.sha256()
    for digest in part_digests:
        tree.update(bytes.fromhex(digest))
    return tree.hexdigest()


# Step errors that another request of the same archive may not meet again: those the
# state machine retries (infra/archive.asl.json's Retry lists; a test compares).
TRANSIENT_STEP_ERRORS = frozenset(
    {
        "RetryableStepError",
        "States.Timeout",
        "Lambda.Unknown",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    }
)


def step_failure(error: dict[str, Any]) -> tuple[str, str, bool]:
    """A failed step, as a Catch hands it on (``{"Error", "Cause"}``): the error's type,
    its message and whether a later request could succeed. A Lambda function's Cause is
    JSON with ``errorMessage``; our steps write it as ``"{type}: {message}"``."""
    name = str(error.get("Error", "States.Runtime"))
    cause = str(error.get("Cause") or "")
    try:
        message = str(json.loads(cause).get("errorMessage", cause))
    except (ValueError, AttributeError):
        message = cause
    error_type, _, rest = message.partition(": ")
    if not rest or not error_type.isidentifier():
        error_type, rest = name, message or name
    return error_type, rest, name in TRANSIENT_STEP_ERRORS
