"""Step Functions executions of the distributed archive's state machine."""

from typing import TYPE_CHECKING, Any

from ft_archiver.adapters.aws_errors import AWS_ERRORS, error_code
from ft_archiver.errors import StorageAccessDeniedError, StorageError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient
else:
    SFNClient = Any


class StepFunctionsExecutions:
    def __init__(self, client: SFNClient, state_machine_arn: str) -> None:
        self._client = client
        self._arn = state_machine_arn

    def start(self, name: str, document: str) -> str:
        """StartExecution is idempotent for the same name and input while the execution
        runs; the same name with another input is ExecutionAlreadyExists, an error here:
        the lease in the state table should have kept a second start from happening."""
        try:
            response = self._client.start_execution(
                stateMachineArn=self._arn, name=name, input=document
            )
        except AWS_ERRORS as exc:
            code = error_code(exc)
            kind = StorageAccessDeniedError if code == "AccessDeniedException" else StorageError
            raise kind(f"Step Functions StartExecution of {name} failed ({code})") from None
        return str(response["executionArn"])
