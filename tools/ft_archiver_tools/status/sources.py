"""Where ``status`` reads: the state table's archive items (a Scan: an archive's item is
named by its whole request, which a job ID alone does not give),
the digests a distributed archive's batches recorded (BatchGetItem), and its execution
(DescribeExecution). Read-only: nothing here writes."""

from collections.abc import Iterator
from typing import Any

from ft_archiver.adapters.aws_errors import AWS_ERRORS, error_code
from ft_archiver.adapters.dynamodb import dynamodb_error
from ft_archiver.adapters.part_digests import DynamoPartDigests
from ft_archiver.domain.distributed import BatchItem
from ft_archiver.errors import ConfigurationError, StorageError
from ft_archiver.service.delegation import execution_name
from ft_archiver.service.resume import Lease, NoLedger
from ft_archiver_tools.doctor.result import reason
from ft_archiver_tools.status.model import ITEM_PREFIX, ArchiveStatus


class StateTable:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def archive_items(self) -> Iterator[dict[str, Any]]:
        """Every archive item, page after page (the table holds each for 30 days)."""
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "begins_with(pk, :archive)",
            "ExpressionAttributeValues": {":archive": {"S": ITEM_PREFIX}},
        }
        while True:
            try:
                page = self._client.scan(**arguments)
            except AWS_ERRORS as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    raise ConfigurationError(
                        f"no state table {self._table} in this account and region: check "
                        "STATE_TABLE_NAME (the stack's StateTableName output), --stack and "
                        "AWS_REGION"
                    ) from None
                raise dynamodb_error(self._table, "Scan", exc) from None
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def recorded_parts(self, status: ArchiveStatus) -> set[int]:
        batches = [BatchItem(first=b.first, last=b.last) for b in status.batch_plan]
        digests = DynamoPartDigests(self._client, self._table)
        return set(digests.all(status.archive, batches))


class Executions:
    """A distributed archive's execution, named as the archiver named it when it started
    it (``archive-{sha256 of the archive}-{its owner}``) on the stack's state machine."""

    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._client = client
        self._machine = state_machine_arn

    def status(self, archive: ArchiveStatus) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED; None: no such execution."""
        if not archive.owner:
            return None
        name = execution_name(Lease(NoLedger(), archive.archive, archive.owner))
        arn = self._machine.replace(":stateMachine:", ":execution:", 1) + f":{name}"
        try:
            described = self._client.describe_execution(executionArn=arn)
        except AWS_ERRORS as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return None
            raise StorageError(
                f"Step Functions DescribeExecution of {arn} failed: {reason(exc)}"
            ) from None
        return str(described["status"])
