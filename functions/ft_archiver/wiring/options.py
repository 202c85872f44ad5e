"""The transfer's options from the settings: shared by the archiver and the distributed
steps, which must not import the single-function archiver to get them (cold start)."""

from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.service.archive_plan import TransferOptions
from ft_archiver.settings import ArchivingSettings


def transfer_options(settings: ArchivingSettings) -> TransferOptions:
    return TransferOptions(
        part_size=settings.part_size,
        part_size_floor=settings.part_size_floor,
        concurrency=settings.concurrency,
        upload_concurrency=settings.upload_concurrency,
        memory_budget=settings.memory_budget,
        algorithm=ALGORITHMS[settings.checksum_algorithm],
    )
