"""The unpacker's settings: what any unpack reads (UnpackingSettings: the command line's
too), and UnpackFunction's (UnpackerSettings)."""

from typing import ClassVar

from pydantic import Field

from ft_archiver.settings.base import ArchivePrefix
from ft_archiver.settings.transfer import TransferSettings


class UnpackingSettings(TransferSettings):
    """An unpack, in Lambda or on the command line: beyond the transfer's settings, how
    often the incomplete index records the progress, so that a run killed without
    warning (out of memory, SIGKILL) leaves what it verified to the next one."""

    unpack_checkpoint_s: float = Field(
        30.0, ge=0, validation_alias="FT_ARCHIVER_UNPACK_CHECKPOINT_EVERY"
    )


class UnpackerSettings(UnpackingSettings):
    """UnpackFunction: unpacks the archives the stack's own Fine-tune Archived events name
    (UnpackQueue delivers them), and continues through the same queue."""

    FUNCTION: ClassVar[str] = "UnpackFunction"

    archive_bucket: str = Field(validation_alias="ARCHIVE_BUCKET")
    # Only archives under it are unpacked (the rule filters on it, the handler again).
    archive_prefix: ArchivePrefix = Field(validation_alias="ARCHIVE_PREFIX")
    # Where the folders and their indexes go (the stack gives ArchivePrefix when its
    # UnpackPrefix is empty): never the bucket's root.
    unpack_prefix: ArchivePrefix = Field(validation_alias="UNPACK_PREFIX")
    # Continuations past the 900 s deadline go back here.
    unpack_queue_url: str = Field(validation_alias="UNPACK_QUEUE_URL")
    # Unpack LoRA adapters too (the rule selects them; the handler holds to it as well).
    unpack_adapters: bool = Field(False, validation_alias="UNPACK_ADAPTERS")
