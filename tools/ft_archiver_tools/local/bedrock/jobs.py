"""The fake's state: model import jobs and imported models. Pure Python, thread-safe.

Each operation takes parameters the model has already accepted (``service_model``) and
returns the output dict, or raises ``BedrockError`` with a code the operation models.

Sources, and where the fake assumes:

- CreateModelImportJob, https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateModelImportJob.html:
  ``clientRequestToken``: "If this token matches a previous request, Amazon Bedrock
  ignores the request, but does not return an error": the first job's ARN, nothing new.
  Assumed: the same token with other parameters is a ConflictException (as EC2's
  idempotency, which that page links, answers IdempotentParameterMismatch); a job name
  already used, by a job of any status, is a ConflictException, and so is a model name
  that an imported model or a job in progress has.
- GetModelImportJob, https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetModelImportJob.html:
  "A successful job transitions from in-progress to completed when the imported model is
  ready to use. If the job failed, the failure message contains information about why the
  job failed." The fake's job is InProgress for its first ``polls_to_finish`` Gets and
  ends right after the last of them (an assumption: time, for a fake, is polls).
- Quotas, https://docs.aws.amazon.com/bedrock/latest/userguide/quotas.html (values in
  https://docs.aws.amazon.com/general/latest/gr/bedrock.html#limits_bedrock): "Concurrent
  model import jobs" and "Imported models per account", whose defaults the constructor
  takes (1 and 3, as the brief gives them: the stored pages read for this did not show the
  table's rows). Assumed: a job in progress holds a model's place, and going over either
  quota is a ServiceQuotaExceededException at Create.
- The folder, https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-import-model.html:
  see ``folder``. The user guide has Bedrock check the architecture "during the job"; the
  issue asks for a ValidationException at Create, the default here
  (``unsupported_architecture="refuse"``); ``"fail"`` makes it the job's failure instead.
- Assumed for the lists: newest first unless ``sortOrder`` says otherwise, every entry on
  one page unless ``maxResults`` says otherwise, ``nameContains`` case-sensitive, and the
  creation-time filters strict.
"""

import copy
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from ft_archiver_tools.local.bedrock.folder import FolderRefusedError, FolderVerdict, inspect_folder

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
UNITS_VERSION = "v1.0"  # CustomModelUnitsVersion's pattern is v\d+.\d+
Handler = Callable[[dict[str, Any]], dict[str, Any]]


class BedrockError(Exception):
    """An answer of the service's: ``code`` is the error shape's name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Call(NamedTuple):
    """A request the model accepted, whatever the state answered it."""

    operation: str
    params: dict[str, Any]


class Refusal(NamedTuple):
    """A request refused before the state saw it: why, one line a reason."""

    operation: str
    params: dict[str, Any]
    problems: list[str]


@dataclass
class ImportJob:
    arn: str
    name: str
    imported_model_name: str
    role_arn: str
    model_data_source: dict[str, Any]
    request: dict[str, Any]  # the Create's parameters, compared on a repeated token
    verdict: FolderVerdict
    created: datetime
    sequence: int  # orders jobs created in the same instant
    status: str = "InProgress"
    polls: int = 0
    last_modified: datetime | None = None
    ended: datetime | None = None
    failure_message: str | None = None
    model_arn: str | None = None


@dataclass
class ImportedModel:
    arn: str
    name: str
    job: ImportJob
    created: datetime
    sequence: int


class ImportJobs:
    """Import jobs and imported models of one account in one region."""

    def __init__(
        self,
        *,
        region: str = DEFAULT_REGION,
        account: str = DEFAULT_ACCOUNT,
        concurrent_jobs: int = 1,
        max_models: int = 3,
        polls_to_finish: int = 2,
        s3_client: "S3Client | None" = None,
        unsupported_architecture: Literal["refuse", "fail"] = "refuse",
    ) -> None:
        self.region = region
        self.account = account
        self.concurrent_jobs = concurrent_jobs
        self.max_models = max_models
        self.polls_to_finish = polls_to_finish
        self.s3_client = s3_client
        self.unsupported_architecture = unsupported_architecture
        self._lock = threading.RLock()
        self._jobs: dict[str, ImportJob] = {}  # by ARN, in creation order
        self._models: dict[str, ImportedModel] = {}
        self._by_token: dict[str, ImportJob] = {}
        self._requests: list[Call] = []
        self._refused: list[Refusal] = []
        self._roles: list[str] = []
        self._fail_next: list[str] = []
        self._throttle = 0
        self._sequence = 0
        self._handlers: dict[str, Handler] = {
            "CreateModelImportJob": self.create_model_import_job,
            "GetModelImportJob": self.get_model_import_job,
            "ListModelImportJobs": self.list_model_import_jobs,
            "GetImportedModel": self.get_imported_model,
            "ListImportedModels": self.list_imported_models,
            "DeleteImportedModel": self.delete_imported_model,
        }

    # -- what tests read and switch ------------------------------------------------------

    @property
    def operations(self) -> frozenset[str]:
        return frozenset(self._handlers)

    @property
    def jobs(self) -> dict[str, ImportJob]:
        with self._lock:
            return dict(self._jobs)

    @property
    def models(self) -> dict[str, ImportedModel]:
        with self._lock:
            return dict(self._models)

    @property
    def requests(self) -> list[Call]:
        with self._lock:
            return list(self._requests)

    @property
    def refused(self) -> list[Refusal]:
        with self._lock:
            return list(self._refused)

    @property
    def roles_seen(self) -> list[str]:
        """The ``roleArn`` of every CreateModelImportJob the model accepted, in order."""
        with self._lock:
            return list(self._roles)

    def fail_next_job(self, message: str) -> None:
        """The next job created ends Failed with this ``failureMessage``."""
        with self._lock:
            self._fail_next.append(message)

    def throttle_next(self, count: int = 1) -> None:
        """The next ``count`` requests answer ThrottlingException."""
        with self._lock:
            self._throttle += count

    def take_throttle(self) -> bool:
        with self._lock:
            if self._throttle <= 0:
                return False
            self._throttle -= 1
            return True

    def refuse(self, operation: str, params: Mapping[str, Any], problems: list[str]) -> None:
        with self._lock:
            self._refused.append(Refusal(operation, copy.deepcopy(dict(params)), problems))

    def handle(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One accepted request: recorded, then answered (or ``BedrockError``)."""
        request = copy.deepcopy(dict(params))
        with self._lock:
            self._requests.append(Call(operation, copy.deepcopy(request)))
            if operation == "CreateModelImportJob":
                self._roles.append(request["roleArn"])
        return self._handlers[operation](request)

    # -- CreateModelImportJob ------------------------------------------------------------

    def create_model_import_job(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if (repeated := self._repeated(params)) is not None:
                return {"jobArn": repeated.arn}
            self._refuse_conflicts(params)
        verdict = self._inspect(params["modelDataSource"]["s3DataSource"]["s3Uri"])
        with self._lock:  # S3 was read without the lock: look again
            if (repeated := self._repeated(params)) is not None:
                return {"jobArn": repeated.arn}
            self._refuse_conflicts(params)
            if self._fail_next:
                verdict = replace(verdict, failure=self._fail_next.pop(0))
            job = self._new_job(params, verdict)
            if self.polls_to_finish <= 0:
                self._finish(job)
            return {"jobArn": job.arn}

    def _repeated(self, params: dict[str, Any]) -> ImportJob | None:
        token = params.get("clientRequestToken")
        job = self._by_token.get(token) if token is not None else None
        if job is not None and job.request != params:
            raise BedrockError(
                "ConflictException",
                f"clientRequestToken {token} was used by a request with other parameters",
            )
        return job

    def _refuse_conflicts(self, params: dict[str, Any]) -> None:
        name, model_name = params["jobName"], params["importedModelName"]
        if any(job.name == name for job in self._jobs.values()):
            raise BedrockError("ConflictException", f"A model import job named {name} exists")
        running = [job for job in self._jobs.values() if job.status == "InProgress"]
        taken = {model.name for model in self._models.values()}
        taken |= {job.imported_model_name for job in running}
        if model_name in taken:
            raise BedrockError(
                "ConflictException", f"An imported model named {model_name} exists or is importing"
            )
        if len(running) >= self.concurrent_jobs:
            raise BedrockError(
                "ServiceQuotaExceededException",
                f"{len(running)} model import jobs are in progress: the quota of concurrent "
                f"model import jobs is {self.concurrent_jobs}",
            )
        if len(self._models) + len(running) >= self.max_models:
            raise BedrockError(
                "ServiceQuotaExceededException",
                f"{len(self._models)} imported models and {len(running)} imports in progress: "
                f"the quota of imported models per account is {self.max_models}",
            )

    def _inspect(self, s3_uri: str) -> FolderVerdict:
        if self.s3_client is None:
            return FolderVerdict()
        try:
            return inspect_folder(
                self.s3_client,
                s3_uri,
                unsupported_architecture_fails=self.unsupported_architecture == "fail",
            )
        except FolderRefusedError as exc:
            raise BedrockError("ValidationException", str(exc)) from exc

    def _new_job(self, params: dict[str, Any], verdict: FolderVerdict) -> ImportJob:
        now = datetime.now(UTC)
        job = ImportJob(
            arn=self._arn("model-import-job"),
            name=params["jobName"],
            imported_model_name=params["importedModelName"],
            role_arn=params["roleArn"],
            model_data_source=copy.deepcopy(params["modelDataSource"]),
            request=copy.deepcopy(params),
            verdict=verdict,
            created=now,
            sequence=self._next(),
            last_modified=now,
        )
        self._jobs[job.arn] = job
        if (token := params.get("clientRequestToken")) is not None:
            self._by_token[token] = job
        return job

    # -- the rest ------------------------------------------------------------------------

    def get_model_import_job(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            job = self._job(params["jobIdentifier"])
            answer = self._describe_job(job)
            if job.status == "InProgress":
                job.polls += 1
                if job.polls >= self.polls_to_finish:
                    self._finish(job)
            return answer

    def list_model_import_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            jobs = [
                (job.created, job.sequence, self._job_summary(job))
                for job in self._jobs.values()
                if _listed(job.name, job.created, params)
                and params.get("statusEquals") in (None, job.status)
            ]
        page, token = _page(jobs, params)
        return _with_token({"modelImportJobSummaries": page}, token)

    def get_imported_model(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._describe_model(self._model(params["modelIdentifier"]))

    def list_imported_models(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            models = [
                (model.created, model.sequence, self._model_summary(model))
                for model in self._models.values()
                if _listed(model.name, model.created, params)
            ]
        page, token = _page(models, params)
        return _with_token({"modelSummaries": page}, token)

    def delete_imported_model(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            del self._models[self._model(params["modelIdentifier"]).arn]
            return {}

    # -- helpers -------------------------------------------------------------------------

    def _finish(self, job: ImportJob) -> None:
        now = datetime.now(UTC)
        job.ended = job.last_modified = now
        if job.verdict.failure is not None:
            job.status, job.failure_message = "Failed", job.verdict.failure
            return
        model = ImportedModel(self._arn("imported-model"), job.imported_model_name, job, now,
                              self._next())  # fmt: skip
        self._models[model.arn] = model
        job.status, job.model_arn = "Completed", model.arn

    def _job(self, identifier: str) -> ImportJob:
        for job in self._jobs.values():
            if identifier in (job.arn, job.name):
                return job
        raise BedrockError("ResourceNotFoundException", f"No model import job {identifier}")

    def _model(self, identifier: str) -> ImportedModel:
        for model in self._models.values():
            if identifier in (model.arn, model.name):
                return model
        raise BedrockError("ResourceNotFoundException", f"No imported model {identifier}")

    def _describe_job(self, job: ImportJob) -> dict[str, Any]:
        answer = {
            "jobArn": job.arn,
            "jobName": job.name,
            "importedModelName": job.imported_model_name,
            "importedModelArn": job.model_arn,
            "roleArn": job.role_arn,
            "modelDataSource": copy.deepcopy(job.model_data_source),
            "status": job.status,
            "failureMessage": job.failure_message,
            "creationTime": job.created,
            "lastModifiedTime": job.last_modified,
            "endTime": job.ended,
            "vpcConfig": copy.deepcopy(job.request.get("vpcConfig")),
            "importedModelKmsKeyArn": self._key_arn(job),
        }
        return {name: value for name, value in answer.items() if value is not None}

    def _job_summary(self, job: ImportJob) -> dict[str, Any]:
        answer = {
            "jobArn": job.arn,
            "jobName": job.name,
            "status": job.status,
            "lastModifiedTime": job.last_modified,
            "creationTime": job.created,
            "endTime": job.ended,
            "importedModelArn": job.model_arn,
            "importedModelName": job.imported_model_name,
        }
        return {name: value for name, value in answer.items() if value is not None}

    def _describe_model(self, model: ImportedModel) -> dict[str, Any]:
        job, verdict = model.job, model.job.verdict
        answer = {
            "modelArn": model.arn,
            "modelName": model.name,
            "jobName": job.name,
            "jobArn": job.arn,
            "modelDataSource": copy.deepcopy(job.model_data_source),
            "creationTime": model.created,
            "modelArchitecture": verdict.architecture,
            "modelKmsKeyArn": self._key_arn(job),
            "instructSupported": verdict.instruct_supported,
            "customModelUnits": {
                "customModelUnitsPerModelCopy": verdict.custom_model_units,
                "customModelUnitsVersion": UNITS_VERSION,
            },
        }
        return {name: value for name, value in answer.items() if value is not None}

    def _model_summary(self, model: ImportedModel) -> dict[str, Any]:
        return {
            "modelArn": model.arn,
            "modelName": model.name,
            "creationTime": model.created,
            "instructSupported": model.job.verdict.instruct_supported,
            "modelArchitecture": model.job.verdict.architecture,
        }

    def _key_arn(self, job: ImportJob) -> str | None:
        """The KMS key's ARN: the one given, or a key id's; an alias is not resolved (the
        service would resolve it; the fake has no KMS), so it reports none."""
        key: str | None = job.request.get("importedModelKmsKeyId")
        if key is None or "alias/" in key:
            return None
        if key.startswith("arn:"):
            return key
        return f"arn:aws:kms:{self.region}:{self.account}:key/{key}"

    def _arn(self, kind: str) -> str:
        return f"arn:aws:bedrock:{self.region}:{self.account}:{kind}/{uuid.uuid4().hex[:12]}"

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence


def _listed(name: str, created: datetime, params: dict[str, Any]) -> bool:
    after, before = params.get("creationTimeAfter"), params.get("creationTimeBefore")
    return (
        params.get("nameContains", "") in name
        and (after is None or created > after)
        and (before is None or created < before)
    )


def _page(
    entries: list[tuple[datetime, int, dict[str, Any]]], params: dict[str, Any]
) -> tuple[list[dict[str, Any]], str | None]:
    """``maxResults`` entries from ``nextToken`` (an offset, as text) on, sorted by
    creation time, and the token of the next page, if there is one."""
    descending = params.get("sortOrder", "Descending") == "Descending"
    ordered = [entry for *_, entry in sorted(entries, key=lambda e: e[:2], reverse=descending)]
    token = params.get("nextToken")
    if token is not None and not (token.isdigit() and 0 < int(token) < len(ordered)):
        raise BedrockError("ValidationException", f"nextToken {token} is not one this gave")
    start = int(token) if token is not None else 0
    end = start + params.get("maxResults", len(ordered) or 1)
    return ordered[start:end], (str(end) if end < len(ordered) else None)


def _with_token(answer: dict[str, Any], token: str | None) -> dict[str, Any]:
    return answer if token is None else {**answer, "nextToken": token}
