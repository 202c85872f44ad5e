"""The last step of an archive: its event on the bus, once, and the ledger told so."""

import logging

from ft_archiver.domain.checkpoints import JobRef
from ft_archiver.domain.events import ARCHIVE_FAILED, ARCHIVED, ArchivedDetail, ArchiveFailedDetail
from ft_archiver.errors import EventPublishError, failure_report
from ft_archiver.service.ports import EventPublisher
from ft_archiver.service.resume import FinishedArchive, Lease
from ft_archiver.service.spans import Span

log = logging.getLogger(__name__)


class Announcer:
    def __init__(self, publisher: EventPublisher, span: Span) -> None:
        self._publisher = publisher
        self._span = span

    def archived(self, detail: ArchivedDetail, lease: Lease) -> None:
        with self._span("eventbridge.put_events"):
            try:
                self._publisher.publish(ARCHIVED, detail)
            except EventPublishError as exc:
                raise EventPublishError(
                    f"{exc}; the archive itself is stored and verified at {detail.filename}"
                ) from None
        lease.mark_published()

    def already_archived(self, finished: FinishedArchive, lease: Lease) -> ArchivedDetail:
        """A redelivery of a finished request: publish its event only if that never happened.
        Nothing is written again. A result stored before manifests existed has none."""
        detail = ArchivedDetail.model_validate({"manifest_key": None, **finished.detail})
        log.info("already archived as %s", detail.filename)
        if not finished.published:
            self.archived(detail, lease)
        return detail

    def failed(self, ref: JobRef, checkpoint_type: str, exc: BaseException) -> None:
        """Never raises: the failure being reported is what the caller re-raises."""
        message, retryable = failure_report(exc)
        self.failure(ref, checkpoint_type, type(exc).__name__, message, retryable)

    def failure(
        self, ref: JobRef, checkpoint_type: str, error_type: str, error: str, retryable: bool
    ) -> None:
        detail = ArchiveFailedDetail(
            id=ref.id,
            checkpoint_step=ref.checkpoint_step,
            checkpoint_type=checkpoint_type,
            error_type=error_type,
            error=error,
            retryable=retryable,
        )
        try:
            self._publisher.publish(ARCHIVE_FAILED, detail)
        except EventPublishError as exc:
            log.warning("the failure event for %s could not be published: %s", ref.id, exc)
