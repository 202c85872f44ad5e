"""The unpack's result on the bus: ``Fine-tune Unpacked`` once the folder is complete,
``Fine-tune Unpack Failed`` when a run fails (the command line's and the function's)."""

import logging

from ft_archiver.domain.events import UNPACK_FAILED, UNPACKED, UnpackedDetail, UnpackFailedDetail
from ft_archiver.domain.unpack.layout import unpack_layout
from ft_archiver.domain.unpack.request import UnpackMessage
from ft_archiver.errors import EventPublishError, RuleError, failure_report
from ft_archiver.service.ports import EventPublisher
from ft_archiver.service.unpack.unpacker import Unpacked

log = logging.getLogger(__name__)


def unpacked_detail(unpacked: Unpacked) -> UnpackedDetail:
    index = unpacked.index
    archive = index.archive
    if index.readiness is None:  # a complete index always has its verdicts
        raise ValueError(f"the index of s3://{index.bucket}/{index.folder} has no readiness")
    return UnpackedDetail(
        id=archive.fine_tune_id,
        checkpoint_step=archive.checkpoint_step,
        checkpoint_type=archive.checkpoint_type,
        bucket=index.bucket,
        archive_key=archive.key,
        archive_version_id=archive.version_id,
        archive_sha256=archive.sha256,
        folder=index.folder,
        folder_url=f"s3://{index.bucket}/{index.folder}",
        index_key=unpacked.index_key,
        files=index.file_count,
        bytes=index.total_bytes,
        checksum_algorithm=index.checksum_algorithm,
        readiness=index.readiness,
        uploaded=unpacked.uploaded,
        duration_s=round(unpacked.duration_s, 3),
    )


def unpack_failed_detail(
    message: UnpackMessage, unpack_prefix: str, exc: BaseException
) -> UnpackFailedDetail:
    """``exc``'s own message if it is ours (it carries no secret), else its type only."""
    error, retryable = failure_report(exc)
    folder: str | None = None
    index_key: str | None = None
    try:
        layout = unpack_layout(unpack_prefix, message.key)
        folder, index_key = layout.folder, layout.index_key
    except RuleError:  # the archive's name gives no folder
        pass
    return UnpackFailedDetail(
        id=message.id,
        checkpoint_step=message.checkpoint_step,
        checkpoint_type=message.checkpoint_type,
        bucket=message.bucket,
        archive_key=message.key,
        folder=folder,
        index_key=index_key,
        error_type=type(exc).__name__,
        error=error,
        retryable=retryable,
    )


class UnpackAnnouncer:
    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher

    def unpacked(self, unpacked: Unpacked) -> UnpackedDetail:
        detail = unpacked_detail(unpacked)
        try:
            self._publisher.publish(UNPACKED, detail)
        except EventPublishError as exc:
            raise EventPublishError(
                f"{exc}; the folder itself is complete at {detail.folder_url}"
            ) from None
        return detail

    def failed(
        self, message: UnpackMessage, unpack_prefix: str, exc: BaseException
    ) -> UnpackFailedDetail:
        """Never raises: the failure being reported is what the caller re-raises."""
        detail = unpack_failed_detail(message, unpack_prefix, exc)
        try:
            self._publisher.publish(UNPACK_FAILED, detail)
        except EventPublishError as failed:
            log.warning("the failure event for %s could not be published: %s",
                        message.key, failed)  # fmt: skip
        return detail
