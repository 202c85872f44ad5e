"""Archiving's settings: ArchiverFunction's, and the command line's."""

from typing import ClassVar

from pydantic import Field

from ft_archiver.domain.distributed_defaults import DEFAULT_FAN_OUT_THRESHOLD_GIB
from ft_archiver.domain.parts import DEFAULT_CONCURRENCY, DEFAULT_MAX_ARCHIVE_GIB, GIB
from ft_archiver.domain.unpack.layout import folder_prefix
from ft_archiver.settings.base import TOGETHER_KEY, ArchivePrefix
from ft_archiver.settings.importer import ImportingSettings
from ft_archiver.settings.together import TogetherSettings
from ft_archiver.settings.transfer import TransferSettings
from ft_archiver.settings.unpacker import UnpackingSettings


class ArchivingSettings(TogetherSettings, TransferSettings):
    """What archiving reads, in Lambda or on the command line: beyond the bucket, the bus
    and the transfer (TransferSettings), Together's download lanes, the largest archive
    taken and the state table's leases."""

    concurrency: int = Field(
        DEFAULT_CONCURRENCY, ge=1, le=64, validation_alias="FT_ARCHIVER_CONCURRENCY"
    )
    # The largest archive taken, in GiB (the stack's MaxArchiveGiB); 0: no limit. Checked
    # on the probed size, before any byte moves.
    max_archive_gib: float = Field(
        DEFAULT_MAX_ARCHIVE_GIB, ge=0, validation_alias="FT_ARCHIVER_MAX_ARCHIVE_GIB"
    )

    # How long a claim on an archive holds if its holder dies: past the function's 900 s.
    lease_s: float = Field(960.0, gt=0, validation_alias="FT_ARCHIVER_LEASE")

    @property
    def together_connections(self) -> int:
        """The ranged GETs' connections, and a few for the API calls beside them."""
        return self.concurrency + 4


class ArchiverSettings(ArchivingSettings):
    """ArchiverFunction: archives what ArchiveQueue delivers, and continues through it."""

    FUNCTION: ClassVar[str] = "ArchiverFunction"
    REQUIRED_ONE_OF: ClassVar[tuple[tuple[str, ...], ...]] = (TOGETHER_KEY,)

    archive_bucket: str = Field(validation_alias="ARCHIVE_BUCKET")
    archive_prefix: ArchivePrefix = Field(validation_alias="ARCHIVE_PREFIX")
    state_table_name: str = Field(validation_alias="STATE_TABLE_NAME")
    # Continuations past the 900 s deadline, and requests held elsewhere, go back here.
    archive_queue_url: str = Field(validation_alias="ARCHIVE_QUEUE_URL")
    # A request whose archive another invocation holds is asked again this much later, in
    # a fresh message (SQS delays a message 900 s at most).
    lease_wait_s: int = Field(900, ge=0, le=900, validation_alias="FT_ARCHIVER_LEASE_WAIT")
    # Archives of at least this size go to the distributed state machine, when it is set
    # (the stack's FanOutThreshold, in GiB).
    state_machine_arn: str | None = Field(None, validation_alias="ARCHIVE_STATE_MACHINE_ARN")
    fan_out_threshold_gib: float = Field(
        DEFAULT_FAN_OUT_THRESHOLD_GIB, gt=0, validation_alias="FT_ARCHIVER_FAN_OUT_THRESHOLD_GIB"
    )

    @property
    def fan_out_threshold(self) -> int:
        return int(self.fan_out_threshold_gib * GIB)


class CliSettings(ArchivingSettings, UnpackingSettings, ImportingSettings):
    """The command line: every resource optional. The bucket (or --bucket) is checked by
    the commands that need it, the Together key when Together is first asked, the queue
    by ``backfill --enqueue``; without STATE_TABLE_NAME archives are not idempotent."""

    FUNCTION: ClassVar[str] = "ft-archiver"

    # Where ``unpack`` puts an archive's folder and index; unset: beside the archive.
    unpack_prefix_setting: str | None = Field(None, validation_alias="UNPACK_PREFIX")
    # The stack's distributed state machine, whose executions ``status`` describes.
    state_machine_arn: str | None = Field(None, validation_alias="ARCHIVE_STATE_MACHINE_ARN")

    def unpack_prefix_for(self, archive_key: str) -> str:
        """Where the archive's folder goes (domain/unpack/layout.py ``folder_prefix``):
        under UNPACK_PREFIX when set, else beside the archive."""
        return folder_prefix(archive_key, self.archive_prefix, self.unpack_prefix_setting)
