"""archive(request) -> ArchivedDetail: the one use case everything else calls."""

import base64
import logging
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ft_archiver import __version__
from ft_archiver.cancellation import Cancellation
from ft_archiver.domain.checkpoints import (
    DownloadSpec,
    JobRef,
    parse_checkpoint_type,
    resolve_download,
)
from ft_archiver.domain.checksums import CrcAlgorithm
from ft_archiver.domain.events import (
    ARCHIVE_FAILED,
    ARCHIVED,
    ArchivedDetail,
    ArchiveFailedDetail,
)
from ft_archiver.domain.manifest import build_manifest, checkpoint_entry
from ft_archiver.domain.naming import (
    archive_filename,
    manifest_key,
    object_key,
)
from ft_archiver.domain.parts import Lanes, PartPlan, plan_lanes, plan_parts
from ft_archiver.domain.requests import (
    ArchiveRequest,
    Destination,
    idempotency_key,
    validate_request,
)
from ft_archiver.errors import (
    ArchiveInProgressError,
    ArchiverError,
    ContinuationLimitError,
    EventPublishError,
    TransferSuspendedError,
    UploadGoneError,
)
from ft_archiver.service.ports import (
    ArchiveLedger,
    ArchiveSource,
    ArchiveStore,
    Digests,
    EventPublisher,
    FineTuneSource,
    FinishedArchive,
    ObjectSpec,
)
from ft_archiver.service.provenance import write_manifest
from ft_archiver.service.transfer import (
    Checkpoint,
    ProgressCallback,
    RangeReader,
    ResumePoint,
    TransferResult,
    transfer_multipart,
    transfer_single,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransferOptions:
    part_size: int
    part_size_floor: int
    concurrency: int  # ranged GETs at once
    upload_concurrency: int  # UploadParts at once
    memory_budget: int
    algorithm: CrcAlgorithm


Span = Callable[[str], AbstractContextManager[Any]]


def no_span(name: str) -> AbstractContextManager[Any]:
    return nullcontext()


@dataclass(frozen=True)
class Resumption:
    """What one invocation knows about the archive's progress and its own deadline."""

    progress: dict[str, Any] | None
    save: Checkpoint | None
    should_suspend: Callable[[], bool] | None
    source_etag: str | None

    def point(self, key: str, plan: PartPlan) -> ResumePoint | None:
        """Saved progress, if it belongs to this very object, size and source version."""
        saved = self.progress
        if not saved or (saved.get("key"), saved.get("size"), saved.get("source_etag")) != (
            key, plan.size, self.source_etag,
        ):  # fmt: skip
            return None
        return ResumePoint(
            saved["upload_id"],
            int(saved["done"]),
            base64.b64decode(saved["digest_state"]),
            int(saved["prefix_crc"]),
        )


def _progress_saver(
    ledger: ArchiveLedger, ledger_key: str, owner: str, key: str, source: ArchiveSource
) -> Checkpoint:
    def save(upload_id: str, done: int, state: bytes, prefix_crc: int) -> None:
        ledger.save_progress(
            ledger_key,
            owner,
            {
                "key": key,
                "size": source.size,
                "source_etag": source.etag,
                "upload_id": upload_id,
                "done": done,
                "digest_state": base64.b64encode(state).decode("ascii"),
                "prefix_crc": prefix_crc,
            },
        )

    return save


class Archiver:
    def __init__(
        self,
        together: FineTuneSource,
        store: ArchiveStore,
        publisher: EventPublisher,
        options: TransferOptions,
        digests: Digests,
        ledger: ArchiveLedger | None = None,
        span: Span = no_span,
        lease_s: float = 960.0,
        ledger_ttl_s: int = 30 * 24 * 3600,
        deadline_margin_s: float = 60.0,
        max_continuations: int | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._together = together
        self._store = store
        self._publisher = publisher
        self._options = options
        self._digests = digests
        self._ledger = ledger
        self._span = span
        self._lease_s = lease_s
        self._ledger_ttl_s = ledger_ttl_s
        self._deadline_margin_s = deadline_margin_s
        self._max_continuations = max_continuations
        self._clock = clock

    def archive(
        self,
        request: ArchiveRequest,
        destination: Destination,
        on_progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
        on_size: Callable[[int], None] | None = None,
        remaining_s: Callable[[], float] | None = None,
        continuation: int = 0,
    ) -> ArchivedDetail:
        """Archive one fine-tune. Rule errors found before any lookup raise without an
        event; any failure after that publishes ``Fine-tune Archive Failed`` and re-raises.

        Once the object is verified and tagged, its provenance manifest is written next to
        it, before the ledger records the archive as done and before the success event.

        With a ledger, progress is checkpointed as parts finish and a claim resumes it;
        with ``remaining_s`` (the Lambda's time left), the transfer stops taking parts
        when that drops below the margin, and TransferSuspendedError asks the caller to
        continue in a new invocation. ``continuation`` counts the invocations that came
        before this one; once it reaches ``max_continuations``, the deadline fails the
        archive instead (ContinuationLimitError: upload aborted, failure event)."""
        valid = validate_request(request, destination.prefix if destination.confine_keys else None)
        resolved_type = valid.requested_type
        owner = uuid.uuid4().hex
        ledger_key: str | None = None
        progress: dict[str, Any] | None = None
        try:
            started = time.monotonic()
            with self._span("together.retrieve"):
                job = self._together.retrieve(valid.ref.id)
            spec = resolve_download(
                valid.ref, parse_checkpoint_type(valid.requested_type), job.training_type
            )
            resolved_type = spec.checkpoint
            if self._ledger is not None:
                candidate = idempotency_key(spec, destination, valid.key)
                claim = self._ledger.claim_archive(
                    candidate, owner, self._lease_s, self._ledger_ttl_s
                )
                if isinstance(claim, FinishedArchive):
                    return self._already_archived(candidate, claim)
                ledger_key, progress = candidate, claim
            # For the manifest: asked before any byte moves, so that its failure costs
            # nothing, and after the claim, so that a redelivery of a finished archive
            # asks nothing more of Together.
            with self._span("together.list_checkpoints"):
                checkpoints = self._together.list_checkpoints(spec.id)
            entry = checkpoint_entry(checkpoints, spec.checkpoint_step)
            with self._span("together.open_download"):
                source = self._together.open_download(spec)
            if on_size:
                on_size(source.size)
            filename = archive_filename(spec, job.model_output_name, source.content_type)
            key = object_key(destination.prefix, filename, valid.key)
            manifest_at = manifest_key(key)
            resumption = self._resumption(
                ledger_key, owner, key, source, progress, remaining_s, continuation
            )
            with self._span("s3.transfer"):
                result = self._transfer(
                    spec, source, destination.bucket, key, on_progress, stop, resumption
                )
            detail = ArchivedDetail(
                id=spec.id,
                checkpoint_step=spec.checkpoint_step,
                checkpoint_type=spec.checkpoint,
                training_type=spec.training_type.value,
                filename=f"s3://{destination.bucket}/{key}",
                bucket=destination.bucket,
                key=key,
                manifest_key=manifest_at,
                size=result.size,
                etag=result.stored.etag,
                version_id=result.stored.version_id,
                content_type=source.content_type,
                sha256=result.sha256,
                checksum_algorithm=self._options.algorithm.name,
                checksum=self._options.algorithm.encode(result.crc),
                parts=result.parts,
                part_size=result.part_size,
                model_output_name=job.model_output_name,
                duration_s=round(time.monotonic() - started, 3),
            )
            manifest = build_manifest(detail, job.document, entry, self._clock(), __version__)
            with self._span("s3.put_manifest"):
                write_manifest(
                    self._store, result.stored, manifest_at, manifest, self._options.algorithm
                )
            if self._ledger is not None and ledger_key is not None:
                self._ledger.finish_archive(ledger_key, owner, detail.model_dump(mode="json"))
        except ArchiveInProgressError:
            raise  # not a failure of this request: the lease holder reports the outcome
        except TransferSuspendedError:
            if self._ledger is not None and ledger_key is not None:
                self._ledger.pause_archive(ledger_key, owner)  # the next invocation goes on
            raise
        except BaseException as exc:
            if self._ledger is not None and ledger_key is not None:
                self._release(ledger_key, owner)
            self._publish_failure(valid.ref, resolved_type, exc)
            raise
        self._publish_success(detail, ledger_key)
        return detail

    def _publish_success(self, detail: ArchivedDetail, ledger_key: str | None) -> None:
        with self._span("eventbridge.put_events"):
            try:
                self._publisher.publish(ARCHIVED, detail)
            except EventPublishError as exc:
                raise EventPublishError(
                    f"{exc}; the archive itself is stored and verified at {detail.filename}"
                ) from None
        if self._ledger is not None and ledger_key is not None:
            self._ledger.mark_published(ledger_key)

    def _already_archived(self, ledger_key: str, finished: FinishedArchive) -> ArchivedDetail:
        """A redelivery of a finished request: publish its event only if that never happened.
        Nothing is written again. A result stored before manifests existed has none."""
        detail = ArchivedDetail.model_validate({"manifest_key": None, **finished.detail})
        log.info("already archived as %s", detail.filename)
        if not finished.published:
            self._publish_success(detail, ledger_key)
        return detail

    def _release(self, ledger_key: str, owner: str) -> None:
        assert self._ledger is not None
        try:
            self._ledger.release_archive(ledger_key, owner)
        except ArchiverError as exc:
            log.warning("could not release the lease on %s (%s); it expires", ledger_key, exc)

    def _transfer(
        self,
        spec: DownloadSpec,
        source: ArchiveSource,
        bucket: str,
        key: str,
        on_progress: ProgressCallback | None,
        stop: threading.Event | None,
        resumption: "Resumption",
    ) -> TransferResult:
        options = self._options
        plan = plan_parts(source.size, options.part_size, options.part_size_floor)
        object_spec = ObjectSpec(
            bucket=bucket,
            key=key,
            content_type=source.content_type,
            metadata={
                "fine-tune-id": spec.id,
                "checkpoint-step": "final"
                if spec.checkpoint_step is None
                else str(spec.checkpoint_step),
                "checkpoint-type": spec.checkpoint,
                "training-type": spec.training_type.value,
            },
            algorithm=options.algorithm,
        )
        stop = stop or threading.Event()

        def read(start: int, into: memoryview, cancelled: Cancellation) -> None:
            self._together.read_range(source, start, into, cancelled)

        if plan.single_request:
            result = transfer_single(self._store, object_spec, plan.size, read, stop)
            if on_progress:
                on_progress(plan.size)
        else:
            lanes = plan_lanes(
                options.concurrency, options.upload_concurrency, plan.part_size,
                options.memory_budget,
            )  # fmt: skip
            result = self._transfer_parts(
                object_spec, plan, read, lanes, stop, on_progress, resumption
            )
        # Metadata is fixed when an upload starts; the digest is known only at its end.
        self._store.tag(result.stored, {"sha256": result.sha256})
        return result

    def _transfer_parts(
        self,
        spec: ObjectSpec,
        plan: PartPlan,
        read: RangeReader,
        lanes: Lanes,
        stop: threading.Event,
        on_progress: ProgressCallback | None,
        resumption: "Resumption",
    ) -> TransferResult:
        """A multipart upload that vanished (aborted by someone else, or by the bucket's
        lifecycle rule), or whose saved progress S3 does not confirm, starts again from
        the first part, once."""

        def attempt(resume: ResumePoint | None) -> TransferResult:
            return transfer_multipart(
                self._store, spec, plan, read, lanes, stop, on_progress,
                resume=resume, on_checkpoint=resumption.save,
                should_suspend=resumption.should_suspend, digests=self._digests,
            )  # fmt: skip

        try:
            return attempt(resumption.point(spec.key, plan))
        except UploadGoneError:
            log.warning("the multipart upload of %s is gone; starting it again", spec.key)
            return attempt(None)

    def _resumption(
        self,
        ledger_key: str | None,
        owner: str,
        key: str,
        source: ArchiveSource,
        progress: dict[str, Any] | None,
        remaining_s: Callable[[], float] | None,
        continuation: int,
    ) -> "Resumption":
        ledger = self._ledger
        save: Checkpoint | None = None
        if not self._digests.resumable():
            # the digest cannot be saved: finish in this run or not at all
            return Resumption(None, None, None, source.etag)
        if ledger is not None and ledger_key is not None:
            save = _progress_saver(ledger, ledger_key, owner, key, source)
        suspend = None
        if remaining_s is not None:
            left, margin, limit = remaining_s, self._deadline_margin_s, self._max_continuations

            def suspend() -> bool:
                if left() >= margin:
                    return False
                if limit is not None and continuation >= limit:
                    # Raised into the transfer, which aborts the upload as for any failure.
                    raise ContinuationLimitError(
                        f"the archive needs more than {limit} continuations (the stack's "
                        f"MaxContinuations, FT_ARCHIVER_MAX_CONTINUATIONS): invocation "
                        f"{continuation + 1} reached its deadline and the upload was aborted; "
                        "raise MaxContinuations, or ArchiverMemorySize for more parts in "
                        "flight, and request the archive again"
                    )
                return True

        return Resumption(progress, save, suspend, source.etag)

    def _publish_failure(self, ref: JobRef, checkpoint_type: str, exc: BaseException) -> None:
        retryable = exc.retryable if isinstance(exc, ArchiverError) else True
        message = str(exc) if isinstance(exc, ArchiverError) else type(exc).__name__
        detail = ArchiveFailedDetail(
            id=ref.id,
            checkpoint_step=ref.checkpoint_step,
            checkpoint_type=checkpoint_type,
            error_type=type(exc).__name__,
            error=message,
            retryable=retryable,
        )
        try:
            self._publisher.publish(ARCHIVE_FAILED, detail)
        except EventPublishError as exc:
            log.warning("the failure event for %s could not be published: %s", ref.id, exc)
