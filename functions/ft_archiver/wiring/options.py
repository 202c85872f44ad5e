"""What the archiver and the distributed steps build alike from the settings: the
transfer's options, its S3 client, the event publisher. The steps must not import the
single-function archiver to get them (cold start)."""

from typing import Any

from ft_archiver.adapters.events import EventBridgePublisher, NoEvents
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.service.archive_plan import TransferOptions
from ft_archiver.service.ports import EventPublisher
from ft_archiver.settings import ArchivingSettings, TransferSettings
from ft_archiver.wiring.aws import aws_client


def transfer_options(settings: ArchivingSettings) -> TransferOptions:
    return TransferOptions(
        part_size=settings.part_size,
        part_size_floor=settings.part_size_floor,
        concurrency=settings.concurrency,
        upload_concurrency=settings.upload_concurrency,
        memory_budget=settings.memory_budget,
        algorithm=ALGORITHMS[settings.checksum_algorithm],
        max_archive_gib=settings.max_archive_gib,
    )


def transfer_s3_client(settings: ArchivingSettings) -> Any:
    """A connection for every UploadPart at once, and a few for the calls beside them."""
    return aws_client("s3", settings, settings.upload_concurrency + 4)


def event_publisher(settings: TransferSettings) -> EventPublisher:
    if not settings.event_bus_name:
        return NoEvents()
    return EventBridgePublisher(aws_client("events", settings), settings.event_bus_name)
