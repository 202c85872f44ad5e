"""What ImportQueue delivers. Pure.

Two producers write to the queue: the stack's rule on its own ``Fine-tune Unpacked``
events whose Bedrock verdict is ready (EventBridge puts the whole event in the body),
and the import function itself, which asks again later (``ImportMessage``, sent with a
delay) while a job runs or while a quota is in the way.
"""

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ft_archiver.domain.events import EVENT_SOURCE, UNPACKED, UnpackedDetail
from ft_archiver.domain.imports.request import ImportSource


class ImportMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: ImportSource
    # Who may announce the result: the SQS message the event first came in, carried on
    # by every later look; a duplicate delivery of the event has a run of its own, and
    # only one run's claim on the record succeeds (domain/imports/record.py).
    run_id: str
    first_seen_s: float  # epoch seconds: when the import was first asked for
    job_arn: str | None = None  # None until the job is started
    started_s: float | None = None
    polls: int = Field(0, ge=0)  # GetModelImportJob looks so far
    deferrals: int = Field(0, ge=0)  # quota refusals so far

    @property
    def correlation_id(self) -> str:
        return f"import:{self.source.bucket}/{self.source.folder}"

    def started(self, job_arn: str, now_s: float) -> "ImportMessage":
        return self.model_copy(update={"job_arn": job_arn, "started_s": now_s})

    def polled(self) -> "ImportMessage":
        return self.model_copy(update={"polls": self.polls + 1})

    def deferred(self) -> "ImportMessage":
        return self.model_copy(update={"deferrals": self.deferrals + 1})


def parse_import_body(body: str, message_id: str, now_s: float) -> ImportMessage:
    """A message body: an ft-archiver ``Fine-tune Unpacked`` event (a new import, whose
    run is ``message_id``), or an ImportMessage. Raises ValueError (pydantic's
    ValidationError is one) for anything else."""
    document: Any = json.loads(body)
    if isinstance(document, dict) and "detail-type" in document:
        if (document.get("source"), document.get("detail-type")) != (EVENT_SOURCE, UNPACKED):
            raise ValueError(
                f"an event of {document.get('source')!r}, {document.get('detail-type')!r}: "
                f"only {EVENT_SOURCE}'s {UNPACKED!r} events are imported"
            )
        detail = UnpackedDetail.model_validate(document.get("detail"))
        source = ImportSource.of_unpacked(detail)
        return ImportMessage(source=source, run_id=message_id, first_seen_s=now_s)
    return ImportMessage.model_validate(document)


def why_not_imported(message: ImportMessage, bucket: str, unpack_prefix: str) -> str | None:
    """Why the function leaves this folder alone (one line for the log), or None. The
    stack's rule selects the same; this holds to it for a message sent by hand."""
    source = message.source
    if source.bucket != bucket:
        return f"{source.folder_url} is not in the stack's bucket {bucket}"
    if not source.folder.startswith(unpack_prefix):
        return f"{source.folder_url} is not under the unpack prefix {unpack_prefix}"
    return None
