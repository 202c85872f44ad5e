"""One look at an import: start the job, follow it, or finish it (the record, then the
event). The function calls ``advance`` once per ImportQueue message; the command line
calls it in a loop. Neither sleeps inside: the caller waits ``delay_s`` between looks."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from ft_archiver.domain.events import (
    IMPORT_FAILED,
    IMPORTED,
    ImportedDetail,
    ImportFailedDetail,
)
from ft_archiver.domain.imports.message import ImportMessage
from ft_archiver.domain.imports.names import ImportNames, import_names
from ft_archiver.domain.imports.record import ImportRecord, record_key
from ft_archiver.domain.imports.request import (
    ImportSource,
    create_job_request,
    why_not_importable,
)
from ft_archiver.domain.imports.schedule import overdue, poll_delay_s, quota_delay_s
from ft_archiver.errors import (
    ImportConflictError,
    ImportJobFailedError,
    ImportQuotaError,
    ImportRefusedError,
    ImportTimeoutError,
    ModelImportError,
    failure_report,
)
from ft_archiver.service.imports.ports import ImportedModel, ImportJob, ImportRecords, ModelImports
from ft_archiver.service.ports import EventPublisher

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportOptions:
    role_arn: str  # the service role Bedrock assumes to read the folder
    max_wait_s: float = 24 * 3600
    poll_first_s: int = 60
    quota_first_s: int = 300
    model_quota: int = 3  # imported models per account: warned of before it is reached


@dataclass(frozen=True)
class Waiting:
    """The job runs: look again after ``delay_s``, with ``message``."""

    message: ImportMessage
    delay_s: int
    started: bool  # this look started the job
    models_in_account: int | None = None  # counted before a start


@dataclass(frozen=True)
class Deferred:
    """A quota is in the way: ask again after ``delay_s``, with ``message``."""

    message: ImportMessage
    delay_s: int
    reason: str


@dataclass(frozen=True)
class Finished:
    """The import ended; ``announced``: this run published its event (False when
    another delivery had, or will)."""

    result: ImportedDetail | ImportFailedDetail
    announced: bool


ImportOutcome = Waiting | Deferred | Finished


def plan_import(
    source: ImportSource, options: ImportOptions
) -> tuple[ImportNames, dict[str, object]]:
    """The names and the exact request; raises ImportRefusedError for a folder Custom
    Model Import would not take."""
    names = import_names(source.bucket, source.folder, source.archive_sha256, options.role_arn)
    refused = why_not_importable(source)
    if refused is not None:
        raise ImportRefusedError(refused)
    return names, create_job_request(source, names, options.role_arn)


def imported_detail(
    source: ImportSource, job: ImportJob, model: ImportedModel | None
) -> ImportedDetail:
    model_arn = model.arn if model else job.model_arn
    if model_arn is None:
        raise ImportJobFailedError(f"import job {job.arn} is Completed but names no model")
    duration = (
        round((job.ended - job.created).total_seconds(), 3) if job.created and job.ended else None
    )
    return ImportedDetail(
        **source.event_fields(),
        job_arn=job.arn,
        job_name=job.name,
        imported_model_name=(model.name if model else job.model_name) or job.name,
        imported_model_arn=model_arn,
        model_id=model_arn,
        model_architecture=model.architecture if model else None,
        instruct_supported=model.instruct_supported if model else None,
        custom_model_units_per_copy=model.units_per_copy if model else None,
        custom_model_units_version=model.units_version if model else None,
        duration_s=duration,
    )


def import_failed_detail(
    source: ImportSource, names: ImportNames, job_arn: str | None, exc: BaseException
) -> ImportFailedDetail:
    error, retryable = failure_report(exc)
    return ImportFailedDetail(
        **source.event_fields(),
        job_arn=job_arn,
        job_name=names.job_name,
        imported_model_name=names.model_name,
        error_type=type(exc).__name__,
        error=error,
        retryable=retryable,
    )


class Importer:
    def __init__(
        self,
        imports: ModelImports,
        records: ImportRecords,
        publisher: EventPublisher,
        options: ImportOptions,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._imports = imports
        self._records = records
        self._publisher = publisher
        self.options = options
        self._clock = clock

    def advance(self, message: ImportMessage) -> ImportOutcome:
        source = message.source
        key = record_key(source.index_key)
        record = self._records.read(source.bucket, key)
        if record is not None and record.for_archive(source.archive_sha256):
            if not record.superseded_by(message.run_id):
                return self._finished_before(message, key, record)
            log.info("the import of %s gave up before: asked again", source.folder_url)
            self._records.remove(source.bucket, key)
        names = import_names(
            source.bucket, source.folder, source.archive_sha256, self.options.role_arn
        )
        try:
            _, request = plan_import(source, self.options)
            if message.job_arn is None:
                return self._start(message, names, request)
            return self._follow(message, names, message.job_arn)
        except (ImportRefusedError, ModelImportError) as exc:
            if exc.retryable:
                raise
            return self._finish(
                message, key, import_failed_detail(source, names, message.job_arn, exc)
            )

    def _start(
        self, message: ImportMessage, names: ImportNames, request: dict[str, object]
    ) -> ImportOutcome:
        now = self._clock()
        if overdue(message.first_seen_s, now, self.options.max_wait_s):
            late = ImportTimeoutError(
                f"{message.source.folder_url} waited {self._hours()} h for Bedrock's import "
                "quota and was given up; ask again once other imports are done"
            )
            key = record_key(message.source.index_key)
            return self._finish(
                message, key, import_failed_detail(message.source, names, None, late)
            )
        models = self._imports.model_count()
        try:
            job_arn = self._imports.start(dict(request))
        except ImportConflictError:
            existing = self._imports.job(names.job_name)
            if existing is None:
                raise
            log.info("import job %s exists already: followed", existing.arn)
            job_arn = existing.arn
        except ImportQuotaError as exc:
            deferred = message.deferred()
            return Deferred(
                deferred, quota_delay_s(deferred.deferrals, self.options.quota_first_s), str(exc)
            )
        return Waiting(
            message.started(job_arn, now), poll_delay_s(0, self.options.poll_first_s), True, models
        )

    def _follow(self, message: ImportMessage, names: ImportNames, job_arn: str) -> ImportOutcome:
        job = self._imports.job(job_arn)
        source = message.source
        key = record_key(source.index_key)
        if job is None:
            gone = ImportJobFailedError(f"import job {job_arn} is not known to Bedrock")
            return self._finish(message, key, import_failed_detail(source, names, job_arn, gone))
        if job.status == "InProgress":
            since = message.started_s if message.started_s is not None else message.first_seen_s
            if overdue(since, self._clock(), self.options.max_wait_s):
                late = ImportTimeoutError(
                    f"import job {job.arn} was still InProgress after {self._hours()} h"
                )
                return self._finish(
                    message, key, import_failed_detail(source, names, job.arn, late)
                )
            polled = message.polled()
            return Waiting(polled, poll_delay_s(polled.polls, self.options.poll_first_s), False)
        if job.status == "Failed":
            failed = ImportJobFailedError(job.failure_message or "Bedrock gave no failureMessage")
            return self._finish(message, key, import_failed_detail(source, names, job.arn, failed))
        model = self._imports.model(job.model_arn or names.model_name)
        return self._finish(message, key, imported_detail(source, job, model))

    def _hours(self) -> str:
        return f"{self.options.max_wait_s / 3600:g}"

    def _finish(
        self, message: ImportMessage, key: str, result: ImportedDetail | ImportFailedDetail
    ) -> Finished:
        source = message.source
        record = ImportRecord(
            status="Completed" if isinstance(result, ImportedDetail) else "Failed",
            run_id=message.run_id,
            announced=False,
            archive_sha256=source.archive_sha256,
            result=result,
        )
        if self._records.claim(source.bucket, key, record):
            return self._announce(source.bucket, key, record)
        existing = self._records.read(source.bucket, key)
        if existing is None:  # claimed, then removed: this run's result stands unannounced
            return Finished(result, announced=False)
        return self._finished_before(message, key, existing)

    def _finished_before(self, message: ImportMessage, key: str, record: ImportRecord) -> Finished:
        """A record is there: announce it if it is this run's and not announced yet (the
        publish failed last time), else nothing."""
        if record.run_id == message.run_id and not record.announced:
            return self._announce(message.source.bucket, key, record)
        return Finished(record.result, announced=False)

    def _announce(self, bucket: str, key: str, record: ImportRecord) -> Finished:
        detail_type = IMPORTED if isinstance(record.result, ImportedDetail) else IMPORT_FAILED
        self._publisher.publish(detail_type, record.result)
        self._records.put(bucket, key, record.model_copy(update={"announced": True}))
        return Finished(record.result, announced=True)
