"""The names an import goes by, derived from the folder and the archive's bytes. Pure.

Bedrock's limits, from botocore's service model for ``bedrock`` (2023-04-20,
CreateModelImportJob) and the API reference
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateModelImportJob.html):

- ``importedModelName``: 1 to 63 characters, pattern ``([0-9a-zA-Z][_-]?)+`` (no two
  separators in a row, none first), so the folder names ft-archiver makes
  (``acme--llama-3-8b-demo``, ``...-3.1``) are not valid as they are;
- ``jobName``: 1 to 63 characters, pattern ``[a-zA-Z0-9](-*[a-zA-Z0-9\\+\\-\\.])*``;
- ``clientRequestToken``: 1 to 256 characters, ``[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?``;
  botocore does not fill it for this operation (it is not an idempotency token in the
  model), so it is derived here.

The rule: the folder's name, lower-cased, every run of characters other than a letter
or a digit made one ``-``, cut to fit, then ``-`` and the first 8 hex digits of the
archive's SHA-256. The same bytes always get the same name (a redelivery starts no
second job), and another archive under the same key gets another (it never collides
with the model imported before it). The job has the model's name.
"""

import hashlib
import re
from dataclasses import dataclass

NAME_MAX = 63
DIGEST_CHARS = 8
MODEL_NAME_PATTERN = re.compile(r"([0-9a-zA-Z][_-]?)+")
JOB_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*")
TOKEN_PATTERN = re.compile(r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class ImportNames:
    model_name: str
    job_name: str
    client_request_token: str


def folder_name(folder: str) -> str:
    """The folder's own name: the last segment of its prefix."""
    return folder.rstrip("/").rsplit("/", 1)[-1]


def source_digest(bucket: str, folder: str, archive_sha256: str | None) -> str:
    """The archive's SHA-256, or for an archive without one (a distributed archive not
    read back) a digest of where the folder is, so that the name is still stable."""
    if archive_sha256:
        return archive_sha256.lower()
    return hashlib.sha256(f"s3://{bucket}/{folder}".encode()).hexdigest()


def name_stem(folder: str) -> str:
    """The name before its digest: the folder's name slugged and cut to fit (what
    ``status KEY`` looks for among the jobs)."""
    slug = _NOT_ALNUM.sub("-", folder_name(folder).lower()).strip("-")
    return slug[: NAME_MAX - 1 - DIGEST_CHARS].rstrip("-") or "model"


def model_name(folder: str, digest: str) -> str:
    return f"{name_stem(folder)}-{digest[:DIGEST_CHARS]}"


def import_names(
    bucket: str, folder: str, archive_sha256: str | None, role_arn: str
) -> ImportNames:
    """The model's and the job's names and the request's token. The token covers
    everything the request depends on, so that a changed role is a new request."""
    digest = source_digest(bucket, folder, archive_sha256)
    name = model_name(folder, digest)
    token = hashlib.sha256(f"{bucket}\n{folder}\n{digest}\n{name}\n{role_arn}".encode())
    return ImportNames(model_name=name, job_name=name, client_request_token=token.hexdigest())
