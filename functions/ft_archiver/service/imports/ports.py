"""What the import stage needs of Bedrock and of the bucket; the types they speak."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from ft_archiver.domain.imports.record import ImportRecord

JobStatus = Literal["InProgress", "Completed", "Failed"]


@dataclass(frozen=True)
class ImportJob:
    """GetModelImportJob's answer, the part of it the stage reads."""

    arn: str
    name: str
    status: JobStatus
    model_name: str | None
    model_arn: str | None  # once Completed
    failure_message: str | None  # once Failed
    created: datetime | None
    ended: datetime | None


@dataclass(frozen=True)
class ImportedModel:
    """GetImportedModel's answer."""

    arn: str
    name: str
    architecture: str | None
    instruct_supported: bool | None
    units_per_copy: int | None
    units_version: str | None


class ModelImports(Protocol):
    def start(self, request: dict[str, Any]) -> str:
        """CreateModelImportJob; the job's ARN. Raises ImportQuotaError,
        ImportConflictError, ImportRejectedError, ImportUnavailableError."""

    def job(self, identifier: str) -> ImportJob | None:
        """GetModelImportJob by ARN or name; None when there is none."""

    def model(self, identifier: str) -> ImportedModel | None:
        """GetImportedModel by ARN or name; None when there is none."""

    def model_count(self) -> int:
        """How many imported models the account has in this region."""


class ImportRecords(Protocol):
    def read(self, bucket: str, key: str) -> ImportRecord | None: ...

    def claim(self, bucket: str, key: str, record: ImportRecord) -> bool:
        """Create the record where none is; False when one is there already."""

    def put(self, bucket: str, key: str, record: ImportRecord) -> None:
        """Replace the record (its winner marks it announced)."""

    def remove(self, bucket: str, key: str) -> None:
        """Delete the record: a retryable end that a new run supersedes."""
