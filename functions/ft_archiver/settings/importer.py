"""ImportFunction's settings: which folders it imports, the service role Bedrock reads
them with, the queue it asks again through, and how long it follows a job."""

from typing import ClassVar

from pydantic import Field

from ft_archiver.domain.imports.schedule import POLL_FIRST_S, QUOTA_FIRST_S, SQS_MAX_DELAY_S
from ft_archiver.settings.base import ArchivePrefix, FunctionSettings

DAY_S = 24 * 3600


class ImportingSettings(FunctionSettings):
    """An import, in Lambda or on the command line: the role Bedrock assumes to read
    the folder, and the pace of the looks at a job."""

    import_role_arn: str | None = Field(None, validation_alias="IMPORT_ROLE_ARN")
    event_bus_name: str = Field("default", validation_alias="EVENT_BUS_NAME")
    # A job still InProgress this long after it started (or an import that waited this
    # long for a quota) is given up: Fine-tune Import Failed, retryable.
    import_max_wait_s: float = Field(DAY_S, gt=0, validation_alias="FT_ARCHIVER_IMPORT_MAX_WAIT")
    # The wait between looks at a running job for its first ten looks (five times
    # that afterwards), and after the first quota refusal (doubling).
    import_poll_s: int = Field(
        POLL_FIRST_S, ge=1, le=SQS_MAX_DELAY_S, validation_alias="FT_ARCHIVER_IMPORT_POLL_EVERY"
    )
    import_quota_wait_s: int = Field(
        QUOTA_FIRST_S, ge=1, le=SQS_MAX_DELAY_S, validation_alias="FT_ARCHIVER_IMPORT_QUOTA_WAIT"
    )
    # Imported models per account and region (Bedrock's default quota is 3): a start
    # that reaches it is warned of (ImportedModelsNearQuota).
    imported_model_quota: int = Field(3, ge=1, validation_alias="FT_ARCHIVER_IMPORTED_MODEL_QUOTA")


class ImporterSettings(ImportingSettings):
    """ImportFunction: imports the folders the stack's own Fine-tune Unpacked events name
    (ImportQueue delivers them) and follows each job through the same queue."""

    FUNCTION: ClassVar[str] = "ImportFunction"

    archive_bucket: str = Field(validation_alias="ARCHIVE_BUCKET")
    # Only folders under it are imported (the rule filters on it, the handler again).
    unpack_prefix: ArchivePrefix = Field(validation_alias="UNPACK_PREFIX")
    import_queue_url: str = Field(validation_alias="IMPORT_QUEUE_URL")
    import_role_arn: str = Field(validation_alias="IMPORT_ROLE_ARN")
