"""The exceptions ft-archiver raises; ``ArchiverError`` is the base of them all.

Three families matter to callers, by whose fault it is: a ``RuleError`` is the request's
(fix the input; retrying will not help; CLI exit 2), a ``ConfigurationError`` the
deployment's (a missing or invalid setting; CLI exit 2), and an ``OperationalError``
the work's (Together, S3, the state table, EventBridge or the bytes themselves failed;
CLI exit 1). A refused webhook is a ``WebhookError`` (domain/webhook.py). ``retryable``
tells a queue consumer whether another attempt can succeed. No message ever contains a
secret.
"""


class ArchiverError(Exception):
    """Base of every error ft-archiver raises on purpose."""

    retryable: bool = False


class RuleError(ArchiverError, ValueError):
    """The request breaks one of Together's download rules or our naming rules."""


class InvalidFineTuneIdError(RuleError):
    """The fine-tune ID cannot name a Together fine-tune job."""


class StepGivenTwiceError(RuleError):
    """A compound ``ft-...:STEP`` ID and an explicit checkpoint step were both given."""


class InvalidCheckpointStepError(RuleError):
    """The checkpoint step is negative or absurdly large."""


class InvalidCheckpointTypeError(RuleError):
    """The checkpoint type is not one of default, merged, adapter."""


class CheckpointTypeNotAllowedError(RuleError):
    """The checkpoint type does not fit the job's training type."""


class UnsupportedTrainingTypeError(RuleError):
    """The job's training type is neither Full nor Lora."""


class InvalidObjectKeyError(RuleError):
    """An explicit S3 object key override is not a safe key."""


class InvalidSelectionError(RuleError):
    """A selection's ``checkpoints`` or ``checkpoint_types`` is not in its vocabulary."""


class UnknownCheckpointStepError(RuleError):
    """A selection names a step the job's checkpoint list does not have."""


class ArchiveTooLargeError(RuleError):
    """The archive cannot fit in 10,000 parts of at most 5 GiB."""


class ArchiveOverLimitError(RuleError):
    """The archive's size, learned by the Range probe, is above the deployment's limit
    (FT_ARCHIVER_MAX_ARCHIVE_GIB, the stack's MaxArchiveGiB): refused before any byte
    moves. Asking again finds the same size."""


class OperationalError(ArchiverError):
    """Something failed while doing the work for an accepted request."""


class ConfigurationError(ArchiverError):
    """A required setting is missing or invalid."""


class InvalidBucketNameError(ConfigurationError, ValueError):
    """The archive bucket's name is not one S3 accepts."""


class TogetherError(OperationalError):
    """The Together API or its download storage failed."""


class TogetherAuthError(TogetherError):
    """The Together API key was rejected (401/403)."""


class FineTuneNotFoundError(TogetherError):
    """Together has no such fine-tune job, or no such checkpoint (404)."""


class DownloadRefusedError(TogetherError):
    """Together's download endpoint answered 400 or 404 to a request that passed the
    rules (a LoRA job without a merged model, a step it does not have): asking again
    gets the same answer, so the message says what to ask for instead."""


class DownloadLinkRefusedError(TogetherError):
    """The storage host a download redirected to refused the link (401/403): an expired
    or revoked link, not the API key, which never goes there. A new attempt asks
    Together for a fresh link."""

    retryable = True


class UnsafeDownloadError(TogetherError):
    """The download led where a download may not go: a redirect that is not https, or
    to a host whose address is loopback, private, link-local, multicast, reserved or
    the instance metadata service. Another attempt would be led there again."""


class TogetherUnavailableError(TogetherError):
    """Connection errors, 429 or 5xx persisted after every retry."""

    retryable = True


class SourceChangedError(TogetherError):
    """The archive changed while it was being copied (ETag or size moved)."""

    retryable = True


class StorageError(OperationalError):
    """S3 refused or failed a request."""

    retryable = True


class StorageAccessDeniedError(StorageError):
    """S3 refused the request's authority (AccessDenied, AllAccessDisabled, a rejected
    access key or signature): the same role asking again is refused again."""

    retryable = False


class UploadGoneError(StorageError):
    """The multipart upload no longer exists (aborted under us): start a new one."""


class ChecksumNotKeptError(StorageError):
    """The store took a write with an S3 checksum and did not keep it (its answer did not
    echo it): it cannot verify what it holds. The same store answers the same way every
    time; the message names the checksum mode that works there."""

    retryable = False


class ArchiveConflictError(StorageError):
    """The key already holds another object, and ft-archiver never replaces one: S3
    refused the write (If-None-Match: 412 PreconditionFailed or 409
    ConditionalRequestConflict) and the object there is not this archive's bytes. The
    upload was aborted and the object left as it is; asking again gets the same answer."""

    retryable = False


class ManifestError(StorageError):
    """The provenance manifest could not be written; the archive object was removed, so
    that no archive is kept without its manifest. Another attempt archives it again."""


class IntegrityError(OperationalError):
    """What S3 stored is not what was read from Together."""

    retryable = True


class EventPublishError(OperationalError):
    """EventBridge did not accept the result event."""

    retryable = True


class TransferCancelledError(OperationalError):
    """The transfer was stopped before it finished (interrupt or shutdown)."""

    retryable = True


class ArchiveInProgressError(OperationalError):
    """Another archiver holds the lease on this request; try again later."""

    retryable = True


class ContinuationLimitError(OperationalError):
    """The archive would need more continuations than allowed; its upload was aborted."""


class NoProgressError(OperationalError):
    """An invocation reached its deadline without finishing a single part."""

    retryable = True


class IncompleteUploadError(OperationalError):
    """A distributed archive's upload lacks parts when it is to be completed: its
    batches failed for good. Asking again finds the same parts missing."""


# --- Unpacking (issue 18): what the unpacker refuses to write -------------------------
# An archive whose contents break the unpacker's safety rules is refused with the member
# and the rule or limit it broke. The bytes in the bucket are verified and do not change,
# so asking again finds the same member: never retryable. A ``RuleError`` because it is
# the input's fault (exit 2), like a request that breaks a rule.


class UnpackRefusedError(RuleError):
    """The archive, or one of its members, cannot be unpacked safely."""


class UnsupportedArchiveNameError(UnpackRefusedError):
    """The archive's name does not end with .tar.zst or .tar.gz, the names we give."""


class InvalidMemberNameError(UnpackRefusedError):
    """A member's name is empty, not UTF-8, or has a NUL, control character or '\\'."""


class AbsoluteMemberPathError(UnpackRefusedError):
    """A member's name starts with '/': it would be written outside the folder."""


class MemberPathTraversalError(UnpackRefusedError):
    """A member's name has a '..' component: it could climb out of the folder."""


class LinkMemberError(UnpackRefusedError):
    """A member is a symbolic or hard link; S3 has no links, and a link can point out."""


class SpecialMemberError(UnpackRefusedError):
    """A member is a device, a FIFO or another type that is not a file or a folder."""


class MemberOutsideTopFolderError(UnpackRefusedError):
    """The first member named a top-level folder to strip and a later one is outside it."""


class MemberConflictError(UnpackRefusedError):
    """A member's path was already taken: the same file twice, or a file where a folder
    is (or the reverse). Writing it would replace or shadow a file already written."""


class UnpackKeyTooLongError(UnpackRefusedError):
    """A member's S3 key (or the folder's index key) is over S3's 1,024 UTF-8 bytes."""


class TooManyFilesError(UnpackRefusedError):
    """The archive holds more files than the unpack limit allows."""


class DecompressionBombError(UnpackRefusedError):
    """The archive decompresses to more than the limit allows relative to its size."""


class ZstdWindowTooLargeError(UnpackRefusedError):
    """The archive's zstd frames need a larger window (memory) than the unpacker's budget
    gives the decoder. Asking again with the same budget finds the same frames."""


class CorruptArchiveError(UnpackRefusedError):
    """The archive's bytes do not decompress, or are not a tar: they are verified in the
    bucket, so asking again reads the same bytes."""


class ArchiveMissingError(UnpackRefusedError):
    """No object at the key given to unpack."""


class UnverifiedArchiveError(UnpackRefusedError):
    """The object to unpack carries no ``sha256`` (or ``sha256-tree``) tag, which
    ft-archiver writes only on an archive it verified: only verified archives are
    unpacked."""


class UnpackedArchiveMismatchError(IntegrityError):
    """The archive's bytes, as the unpacker read them back from S3, do not hash to its
    ``sha256`` tag: the files made from them were removed. Another attempt reads again."""


class ImportRefusedError(RuleError):
    """The folder is not one Custom Model Import takes (an adapter, a verdict not ready,
    an incomplete index): refused before any call to Bedrock."""


class ModelImportError(OperationalError):
    """Base of the import stage's operational failures (Bedrock's answers)."""


class ImportQuotaError(ModelImportError):
    """Bedrock refused for a quota (one import job at a time per region, or the
    imported models per account): waited out, not failed."""

    retryable = True


class ImportConflictError(ModelImportError):
    """Bedrock's ConflictException: the job name or the model name is taken."""


class ImportRejectedError(ModelImportError):
    """Bedrock refused the request (ValidationException, AccessDeniedException,
    ResourceNotFoundException): asking again gets the same answer."""


class ImportUnavailableError(ModelImportError):
    """Bedrock throttled or failed past every retry."""

    retryable = True


class ImportJobFailedError(ModelImportError):
    """The import job ended Failed; the message is Bedrock's failureMessage."""


class ImportTimeoutError(ModelImportError):
    """The import waited past FT_ARCHIVER_IMPORT_MAX_WAIT_HOURS (a running job or a
    quota in the way): given up; asking again may succeed."""

    retryable = True


def failure_report(exc: BaseException) -> tuple[str, bool]:
    """What a failure event says of ``exc``: its message and whether another attempt may
    succeed. Ours carry no secret; anything else is named by its type only (its message
    may hold anything), and counted retryable."""
    if isinstance(exc, ArchiverError):
        return str(exc), exc.retryable
    return type(exc).__name__, True
