"""What is imported, whether it may be, and the exact CreateModelImportJob request. Pure.

The verdict is the folder's own ``readiness.bedrock_custom_model_import`` (domain/unpack/
readiness.py): the architectures, the weights' size and format, the context length and
the tokenizer are judged there, once, from the files; nothing here keeps a second list.
"""

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from ft_archiver.domain.events import UnpackedDetail
from ft_archiver.domain.imports.names import ImportNames
from ft_archiver.domain.unpack.index import UnpackIndex
from ft_archiver.domain.unpack.readiness import Readiness

# botocore's model, CreateModelImportJob's modelDataSource.s3DataSource.s3Uri.
S3_URI_PATTERN = re.compile(
    r"s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?"
)
# The Tag shape's key and value: at most 128 and 256 characters of this set.
_TAG_REFUSED = re.compile(r"[^a-zA-Z0-9\s._:/=+@-]")
TAG_VALUE_MAX = 256
TAG_FINE_TUNE = "ft-archiver:fine-tune-id"
TAG_STEP = "ft-archiver:checkpoint-step"
TAG_ARCHIVE_KEY = "ft-archiver:archive-key"
TAG_ARCHIVE_SHA256 = "ft-archiver:archive-sha256"


class ImportSource(BaseModel):
    """A complete folder to import, as its ``Fine-tune Unpacked`` event (or its index)
    names it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str
    folder: str  # ends with '/'
    index_key: str
    archive_key: str
    archive_sha256: str | None
    id: str | None  # the fine-tune; null for an archive ft-archiver did not write
    checkpoint_step: int | None
    checkpoint_type: str | None
    readiness: Readiness | None

    @property
    def folder_url(self) -> str:
        return f"s3://{self.bucket}/{self.folder}"

    def event_fields(self) -> dict[str, Any]:
        """What both import events say of the folder (domain/events.py's _ImportOf)."""
        return {
            "id": self.id,
            "checkpoint_step": self.checkpoint_step,
            "checkpoint_type": self.checkpoint_type,
            "bucket": self.bucket,
            "archive_key": self.archive_key,
            "archive_sha256": self.archive_sha256,
            "folder_url": self.folder_url,
            "index_key": self.index_key,
        }

    @classmethod
    def of_unpacked(cls, detail: UnpackedDetail) -> "ImportSource":
        return cls(
            bucket=detail.bucket,
            folder=detail.folder,
            index_key=detail.index_key,
            archive_key=detail.archive_key,
            archive_sha256=detail.archive_sha256,
            id=detail.id,
            checkpoint_step=detail.checkpoint_step,
            checkpoint_type=detail.checkpoint_type,
            readiness=detail.readiness,
        )

    @classmethod
    def of_index(cls, index: UnpackIndex, index_key: str) -> "ImportSource":
        """The folder as its index (``{folder}.files.json``) describes it: what the
        command line imports, the same fields the Fine-tune Unpacked event carries.
        An incomplete index has no readiness verdict, and is refused for it."""
        archive = index.archive
        return cls(
            bucket=index.bucket,
            folder=index.folder,
            index_key=index_key,
            archive_key=archive.key,
            archive_sha256=archive.sha256,
            id=archive.fine_tune_id,
            checkpoint_step=archive.checkpoint_step,
            checkpoint_type=archive.checkpoint_type,
            readiness=index.readiness if index.status == "complete" else None,
        )


def why_not_importable(source: ImportSource) -> str | None:
    """Why Custom Model Import would refuse the folder (one line that says what to do
    instead), or None."""
    where = source.folder_url
    readiness = source.readiness
    if readiness is None:
        return f"{where} has no readiness verdict: its index is not complete; unpack it first"
    if readiness.facts.is_adapter or source.checkpoint_type == "adapter":
        return (
            f"{where} is a LoRA adapter: Custom Model Import imports whole models only; "
            "archive the merged model (--checkpoint-type merged), unpack it, import that"
        )
    verdict = readiness.bedrock_custom_model_import
    if not verdict.ready:
        return f"{where} is not importable into Bedrock: {'; '.join(verdict.reasons)}"
    if not S3_URI_PATTERN.fullmatch(where):
        return (
            f"{where} has characters Bedrock's S3 URI does not take (letters, digits and "
            "-!_*'(). only): unpack it under another UNPACK_PREFIX"
        )
    return None


def tag_value(value: str) -> str:
    """A value as the Tag shape takes it: other characters as '_', cut to 256."""
    return _TAG_REFUSED.sub("_", value)[:TAG_VALUE_MAX]


def import_tags(source: ImportSource) -> list[dict[str, str]]:
    tags = {
        TAG_ARCHIVE_KEY: source.archive_key,
        TAG_FINE_TUNE: source.id,
        TAG_STEP: None if source.checkpoint_step is None else str(source.checkpoint_step),
        TAG_ARCHIVE_SHA256: source.archive_sha256,
    }
    return [{"key": key, "value": tag_value(value)} for key, value in tags.items() if value]


def create_job_request(source: ImportSource, names: ImportNames, role_arn: str) -> dict[str, Any]:
    """CreateModelImportJob's parameters, exactly as sent (the dry run prints them)."""
    tags = import_tags(source)
    return {
        "jobName": names.job_name,
        "importedModelName": names.model_name,
        "roleArn": role_arn,
        "modelDataSource": {"s3DataSource": {"s3Uri": source.folder_url}},
        "jobTags": tags,
        "importedModelTags": tags,
        "clientRequestToken": names.client_request_token,
    }
