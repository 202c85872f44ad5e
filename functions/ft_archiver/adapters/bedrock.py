"""Bedrock Custom Model Import over boto3 (the ``bedrock`` control-plane client; boto3
reads AWS_ENDPOINT_URL_BEDROCK, which points it at the local fake)."""

from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ft_archiver.adapters.aws_errors import error_code
from ft_archiver.errors import (
    ImportConflictError,
    ImportQuotaError,
    ImportRejectedError,
    ImportUnavailableError,
    ModelImportError,
)
from ft_archiver.service.imports.ports import ImportedModel, ImportJob

if TYPE_CHECKING:
    from mypy_boto3_bedrock import BedrockClient
else:
    BedrockClient = Any

# Bedrock's modelled errors (botocore's service model), by what the stage does next.
QUOTA_CODES = frozenset({"ServiceQuotaExceededException"})
CONFLICT_CODES = frozenset({"ConflictException"})
UNAVAILABLE_CODES = frozenset({"ThrottlingException", "InternalServerException"})
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException"})


def bedrock_error(action: str, exc: Exception) -> ModelImportError:
    if not isinstance(exc, ClientError):
        return ImportUnavailableError(f"Bedrock {action} failed ({type(exc).__name__})")
    code = error_code(exc)
    detail = f"{code}: {exc.response.get('Error', {}).get('Message', '')}".rstrip(": ")
    if code in QUOTA_CODES:
        return ImportQuotaError(f"Bedrock {action} refused for a quota ({detail})")
    if code in CONFLICT_CODES:
        return ImportConflictError(f"Bedrock {action} refused ({detail})")
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in UNAVAILABLE_CODES or status >= 500:
        return ImportUnavailableError(f"Bedrock {action} failed ({detail})")
    return ImportRejectedError(f"Bedrock {action} refused ({detail})")


def _time(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


class BedrockModelImports:
    def __init__(self, client: BedrockClient) -> None:
        self._bedrock = client

    def start(self, request: dict[str, Any]) -> str:
        try:
            answer = self._bedrock.create_model_import_job(**request)
        except (ClientError, BotoCoreError) as exc:
            raise bedrock_error("CreateModelImportJob", exc) from None
        return str(answer["jobArn"])

    def job(self, identifier: str) -> ImportJob | None:
        try:
            answer = self._bedrock.get_model_import_job(jobIdentifier=identifier)
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and error_code(exc) in NOT_FOUND_CODES:
                return None
            raise bedrock_error("GetModelImportJob", exc) from None
        return ImportJob(
            arn=answer["jobArn"],
            name=answer["jobName"],
            status=answer["status"],
            model_name=answer.get("importedModelName"),
            model_arn=answer.get("importedModelArn"),
            failure_message=answer.get("failureMessage"),
            created=_time(answer.get("creationTime")),
            ended=_time(answer.get("endTime")),
        )

    def model(self, identifier: str) -> ImportedModel | None:
        try:
            answer = self._bedrock.get_imported_model(modelIdentifier=identifier)
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and error_code(exc) in NOT_FOUND_CODES:
                return None
            raise bedrock_error("GetImportedModel", exc) from None
        units = answer.get("customModelUnits") or {}
        return ImportedModel(
            arn=answer["modelArn"],
            name=answer["modelName"],
            architecture=answer.get("modelArchitecture"),
            instruct_supported=answer.get("instructSupported"),
            units_per_copy=units.get("customModelUnitsPerModelCopy"),
            units_version=units.get("customModelUnitsVersion"),
        )

    def model_count(self) -> int:
        count = 0
        arguments: dict[str, Any] = {"maxResults": 1000}
        try:
            while True:
                answer = self._bedrock.list_imported_models(**arguments)
                count += len(answer.get("modelSummaries", []))
                if not answer.get("nextToken"):
                    return count
                arguments["nextToken"] = answer["nextToken"]
        except (ClientError, BotoCoreError) as exc:
            raise bedrock_error("ListImportedModels", exc) from None
