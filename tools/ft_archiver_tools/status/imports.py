"""``status`` of the import stage: Bedrock's import jobs of the region created within the
horizon (ListModelImportJobs; Bedrock keeps them), shown under the archives when an
import role is configured. Read-only."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ft_archiver.adapters.aws_errors import AWS_ERRORS
from ft_archiver.errors import StorageError
from ft_archiver_tools.doctor.result import reason

HEADER = ("IMPORT", "JOB", "CREATED", "MODEL")


@dataclass(frozen=True)
class ImportJobRow:
    name: str
    arn: str
    status: str  # InProgress, Completed, Failed
    created_s: float | None
    ended_s: float | None
    model_arn: str | None

    def to_document(self) -> dict[str, Any]:
        return {"kind": "import_job", "job_name": self.name, "job_arn": self.arn,
                "status": self.status, "created_at": self.created_s, "ended_at": self.ended_s,
                "imported_model_arn": self.model_arn}  # fmt: skip


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


class ImportJobs:
    def __init__(self, client: Any) -> None:
        self._bedrock = client

    def since(self, since_s: float, name_contains: str | None = None) -> list[ImportJobRow]:
        """The jobs created after ``since_s``, newest first."""
        arguments: dict[str, Any] = {
            "creationTimeAfter": datetime.fromtimestamp(since_s, UTC),
            "sortBy": "CreationTime", "sortOrder": "Descending", "maxResults": 100,
        }  # fmt: skip
        if name_contains:
            arguments["nameContains"] = name_contains
        rows: list[ImportJobRow] = []
        try:
            while True:
                answer = self._bedrock.list_model_import_jobs(**arguments)
                rows += [_row(summary) for summary in answer.get("modelImportJobSummaries", [])]
                if not answer.get("nextToken"):
                    return rows
                arguments["nextToken"] = answer["nextToken"]
        except AWS_ERRORS as exc:
            raise StorageError(f"Bedrock ListModelImportJobs failed: {reason(exc)}") from None


def _row(summary: dict[str, Any]) -> ImportJobRow:
    return ImportJobRow(
        name=summary["jobName"],
        arn=summary["jobArn"],
        status=summary["status"],
        created_s=_epoch(summary.get("creationTime")),
        ended_s=_epoch(summary.get("endTime")),
        model_arn=summary.get("importedModelArn"),
    )


def import_lines(rows: list[ImportJobRow], now: float, hours: float) -> list[str]:
    from ft_archiver_tools.status.render import ago

    if not rows:
        return [f"no Bedrock import job in the last {hours:g} h"]
    table = [HEADER] + [
        (row.status, row.name, ago(row.created_s, now), row.model_arn or "-") for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER) - 1)]
    return [
        "  ".join([*(cell.ljust(w) for cell, w in zip(line, widths, strict=False)), line[-1]])
        for line in table
    ]
