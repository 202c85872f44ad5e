"""archive(request) -> Archived | Suspended: the one use case everything else calls.

It reads as the steps docs/index.md describes: rules, (claim,) plan, a look at the key
(domain/held.py: another object is refused before any byte is sent, this archive found
verified is the answer), transfer (which verifies what S3 stored on completion), record,
announce.
"""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from ft_archiver import __version__
from ft_archiver.cancellation import Cancellation
from ft_archiver.domain.checkpoints import DownloadSpec, parse_checkpoint_type, resolve_download
from ft_archiver.domain.checksums import PROOF_OF_MODE
from ft_archiver.domain.events import ArchivedDetail
from ft_archiver.domain.held import Adopted, Refused, Unproven, WantedArchive, judge_held
from ft_archiver.domain.job import FineTuneJob
from ft_archiver.domain.manifest import build_manifest, checkpoint_entry
from ft_archiver.domain.requests import (
    ArchiveRequest,
    Destination,
    ValidatedRequest,
    idempotency_key,
    validate_request,
)
from ft_archiver.errors import ArchiveConflictError, ArchiveInProgressError, UploadGoneError
from ft_archiver.service.announce import Announcer
from ft_archiver.service.archive_hooks import ArchiveHooks
from ft_archiver.service.archive_plan import (
    ArchivePlan,
    TransferOptions,
    activity_of,
    plan_archive,
)
from ft_archiver.service.control import Archived, ArchiveOutcome, Suspended, TransferControl
from ft_archiver.service.delegation import Delegation
from ft_archiver.service.ports import (
    ArchiveStore,
    Digests,
    EventPublisher,
    FineTuneSource,
    HeldArchives,
)
from ft_archiver.service.provenance import write_manifest
from ft_archiver.service.resume import (
    UNCLAIMED,
    ArchiveLedger,
    Claim,
    FinishedArchive,
    Lease,
    NoLedger,
    Resume,
    ResumePoint,
    SavedProgress,
    failure_of,
)
from ft_archiver.service.spans import Span, no_span
from ft_archiver.service.transfer import (
    TransferResult,
    transfer_multipart,
    transfer_single,
)

log = logging.getLogger(__name__)

__all__ = ["Archiver", "TransferOptions"]


class Archiver:
    def __init__(
        self,
        together: FineTuneSource,
        store: ArchiveStore,
        publisher: EventPublisher,
        options: TransferOptions,
        digests: Digests,
        held: HeldArchives,
        ledger: ArchiveLedger | None = None,
        span: Span = no_span,
        lease_s: float = 960.0,
        ledger_ttl_s: int = 30 * 24 * 3600,
        deadline_margin_s: float = 60.0,
        max_continuations: int | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        delegation: Delegation | None = None,
    ) -> None:
        self._together = together
        self._store = store
        self._announcer = Announcer(publisher, span)
        self._options = options
        self._digests = digests
        self._held = held
        self._ledger = ledger or NoLedger()
        self._span = span
        self._lease_s = lease_s
        self._ledger_ttl_s = ledger_ttl_s
        self._deadline_margin_s = deadline_margin_s
        self._max_continuations = max_continuations
        self._clock = clock
        self._delegation = delegation

    def archive(
        self,
        request: ArchiveRequest,
        destination: Destination,
        control: TransferControl | None = None,
        force: bool = False,
    ) -> ArchiveOutcome:
        """Archive one fine-tune. Rule errors found before any lookup raise without an
        event; any failure after that publishes ``Fine-tune Archive Failed`` and re-raises.

        With a ledger, the archive is claimed once its request is resolved (a finished
        one is answered from the ledger), and progress is saved as parts finish. With
        the control's ``remaining_s`` (the Lambda's time left), the transfer stops taking
        parts when that drops below the margin and the result is Suspended: the caller
        continues in a new invocation. Once the control's ``continuation`` reaches
        ``max_continuations``, the deadline fails the archive instead
        (ContinuationLimitError: upload aborted, failure event). With a delegation, an
        archive at or above its threshold is handed to the distributed state machine
        (Delegated), which keeps the lease and announces the outcome.

        Before any byte is sent, the key is looked at: another object there is refused
        (ArchiveConflictError); this archive found verified beside its manifest is the
        answer (Archived, not transferred, no event). ``force`` sets both answers aside,
        the ledger's finished record and the verified object: the archive is made and
        announced again."""
        control = control or TransferControl()
        valid = validate_request(request, destination.prefix if destination.confine_keys else None)
        checkpoint_type = valid.requested_type  # the resolved one once known
        lease = UNCLAIMED
        try:
            started = time.monotonic()
            job, download = self._rules(valid)
            checkpoint_type = download.checkpoint
            claimed, claim = self._claim(download, destination, valid.key, force)
            if isinstance(claim, FinishedArchive):
                return Archived(self._announcer.already_archived(claim, claimed), False)
            lease = claimed
            plan = self._plan(download, job, destination, valid.key, control)
            found = self._look(plan, claim, force)
            if found is not None:
                lease.finish(found.model_dump(mode="json"))
                lease.mark_published()  # its event went out with the run that wrote it
                return Archived(found, False)
            distributed = self._delegation is not None and self._delegation.wants(plan)
            resumed = isinstance(claim, Resume)
            lease.describe(activity_of(plan, distributed, control.continuation, resumed))
            if self._delegation is not None and distributed:
                if isinstance(claim, Resume):
                    self._abort_earlier_upload(plan, claim.progress)
                return self._delegation.delegate(valid, destination, lease)
            transferred = self._transfer(plan, claim, lease, control)
            if isinstance(transferred, Suspended):
                lease.pause()  # the next invocation goes on
                return transferred
            detail = self._record(plan, transferred, lease, time.monotonic() - started)
        except ArchiveInProgressError:
            raise  # not a failure of this request: the lease holder reports the outcome
        except BaseException as exc:
            lease.release(failure_of(exc))
            self._announcer.failed(valid.ref, checkpoint_type, exc)
            raise
        self._announcer.archived(detail, lease)
        return Archived(detail)

    def _look(self, plan: ArchivePlan, claim: Claim, force: bool) -> ArchivedDetail | None:
        """The key before the first part: the archive found there verified, or None to
        transfer; another object is refused. Either way an upload an earlier invocation
        left open is aborted, since no part of it will be sent."""
        target = plan.target
        with self._span("s3.look"):
            held = self._held.held(target.bucket, target.key, target.algorithm)
            manifest = None
            if held is not None and held.size == plan.source.size:
                manifest = self._held.manifest(target.bucket, plan.manifest_key)
        wanted = WantedArchive(
            target.bucket, target.key, plan.source.size, target.metadata, target.algorithm.name
        )
        verdict = judge_held(wanted, held, manifest, plan.manifest_key, force)
        where = f"s3://{target.bucket}/{target.key}"
        if isinstance(verdict, Unproven):
            log.info("%s holds %s: the transfer's conditional Complete decides", where,
                     verdict.reason)  # fmt: skip
        if not isinstance(verdict, Refused | Adopted):
            return None
        if isinstance(claim, Resume):
            self._abort_earlier_upload(plan, claim.progress)
        if isinstance(verdict, Refused):
            raise ArchiveConflictError(
                f"{where} already holds another object ({verdict.reason}): ft-archiver "
                "never replaces an object. Archive to another key, or remove that object "
                f"(and its {plan.manifest_key.rsplit('/', 1)[-1]}) first; nothing was sent"
            )
        log.info("already archived as %s (verified, beside its manifest): nothing sent", where)
        return verdict.detail

    def _abort_earlier_upload(self, plan: ArchivePlan, progress: SavedProgress) -> None:
        """An archive this path had begun and now hands on (the threshold was lowered
        between invocations): its open upload is aborted, not left to the bucket's rule."""
        spec = replace(plan.target, key=progress.key)
        self._store.abort_multipart(spec, progress.point.upload_id)

    def _rules(self, valid: ValidatedRequest) -> tuple[FineTuneJob, DownloadSpec]:
        with self._span("together.retrieve"):
            job = self._together.retrieve(valid.ref.id)
        requested = parse_checkpoint_type(valid.requested_type)
        return job, resolve_download(valid.ref, requested, job.training_type)

    def _claim(
        self,
        download: DownloadSpec,
        destination: Destination,
        explicit_key: str | None,
        force: bool,
    ) -> tuple[Lease, Claim]:
        lease = Lease(
            self._ledger, idempotency_key(download, destination, explicit_key), uuid.uuid4().hex
        )
        claim = self._ledger.claim_archive(
            lease.key, lease.owner, self._lease_s, self._ledger_ttl_s, reopen=force
        )
        return lease, claim

    def _plan(
        self,
        download: DownloadSpec,
        job: FineTuneJob,
        destination: Destination,
        explicit_key: str | None,
        control: TransferControl,
    ) -> ArchivePlan:
        # The checkpoint list is for the manifest: asked before any byte moves, so that
        # its failure costs nothing, and after the claim, so that a redelivery of a
        # finished archive asks nothing more of Together.
        with self._span("together.list_checkpoints"):
            checkpoints = self._together.list_checkpoints(download.id)
        entry = checkpoint_entry(checkpoints, download.checkpoint_step, download.checkpoint)
        with self._span("together.open_download"):
            source = self._together.open_download(download)
        control.on_size(source.size)
        return plan_archive(download, job, entry, source, destination, explicit_key, self._options)

    def _transfer(
        self, plan: ArchivePlan, claim: Claim, lease: Lease, control: TransferControl
    ) -> TransferResult | Suspended:
        """A multipart upload that vanished (aborted by someone else, or by the bucket's
        lifecycle rule), or whose saved progress S3 does not confirm, starts again from
        the first part, once. The archive's SHA-256 is known only at the end, after its
        metadata was fixed: it becomes a tag."""
        source = plan.source

        def read(start: int, into: memoryview, cancel: Cancellation) -> None:
            self._together.read_range(source, start, into, cancel)

        with self._span("s3.transfer"):
            if plan.parts.single_request:
                result = transfer_single(
                    self._store, plan.target, plan.parts.size, read, control.cancel
                )
                control.on_progress(plan.parts.size)
            else:
                resumable = self._digests.resumable()
                hooks = ArchiveHooks(
                    control, lease, plan.target.key, source, resumable,
                    self._deadline_margin_s, self._max_continuations,
                )  # fmt: skip
                resume = _resume_point(claim, plan) if resumable else None

                def attempt(resume: ResumePoint | None) -> TransferResult | Suspended:
                    return transfer_multipart(
                        self._store, plan.target, plan.parts, read, plan.lanes, hooks,
                        resume=resume, digests=self._digests,
                    )  # fmt: skip

                try:
                    outcome = attempt(resume)
                except UploadGoneError:
                    log.warning(
                        "the multipart upload of %s is gone; starting again", plan.target.key
                    )
                    outcome = attempt(None)
                if isinstance(outcome, Suspended):
                    return outcome
                result = outcome
            self._store.tag(result.stored, {"sha256": result.sha256})
        return result

    def _record(
        self, plan: ArchivePlan, result: TransferResult, lease: Lease, duration_s: float
    ) -> ArchivedDetail:
        """The verified archive's manifest next to it, then its result in the ledger."""
        download, target = plan.download, plan.target
        algorithm = self._options.algorithm
        detail = ArchivedDetail(
            id=download.id,
            checkpoint_step=download.checkpoint_step,
            checkpoint_type=download.checkpoint,
            training_type=download.training_type.value,
            filename=f"s3://{target.bucket}/{target.key}",
            bucket=target.bucket,
            key=target.key,
            manifest_key=plan.manifest_key,
            size=result.size,
            etag=result.stored.etag,
            version_id=result.stored.version_id,
            content_type=plan.source.content_type,
            sha256=result.sha256,
            checksum_algorithm=algorithm.name,
            checksum=algorithm.encode(result.crc),
            proof=PROOF_OF_MODE[self._store.mode],
            parts=result.parts,
            part_size=result.part_size,
            model_output_name=plan.job.model_output_name,
            duration_s=round(duration_s, 3),
        )
        manifest = build_manifest(
            detail, plan.job.document, plan.checkpoint, self._clock(), __version__
        )
        with self._span("s3.put_manifest"):
            write_manifest(self._store, result.stored, plan.manifest_key, manifest, algorithm)
        lease.finish(detail.model_dump(mode="json"))
        return detail


def _resume_point(claim: Claim, plan: ArchivePlan) -> ResumePoint | None:
    """Saved progress, if it belongs to this very object, size and source version."""
    if not isinstance(claim, Resume):
        return None
    progress, source = claim.progress, plan.source
    if not progress.belongs_to(plan.target.key, source.size, source.etag):
        return None
    return progress.point
