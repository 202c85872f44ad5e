"""What UnpackQueue delivers, and which of it is unpacked. Pure.

Two producers write to the queue: the stack's rule on its own ``Fine-tune Archived``
events (EventBridge puts the whole event in the message body), and the unpacker itself,
which continues a long unpack past its deadline with an ``UnpackMessage`` of its own.
"""

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ft_archiver.domain.events import ARCHIVED, EVENT_SOURCE
from ft_archiver.domain.unpack.layout import is_archive_name

ADAPTER = "adapter"  # the resolved checkpoint type of a LoRA adapter's archive


class UnpackMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    bucket: str
    key: str  # the archive's
    id: str | None = None  # the fine-tune, as the Archived event named it
    checkpoint_step: int | None = None
    checkpoint_type: str | None = None  # resolved: merged, adapter or model_output_path
    # How many invocations of this unpack came before (one more at each deadline).
    continuations: int = Field(0, ge=0)

    @property
    def correlation_id(self) -> str:
        return f"unpack:{self.bucket}/{self.key}"


def parse_unpack_body(body: str) -> UnpackMessage:
    """A message body: an ft-archiver ``Fine-tune Archived`` event, or an UnpackMessage.
    Raises ValueError (pydantic's ValidationError is one) for anything else."""
    document: Any = json.loads(body)
    if isinstance(document, dict) and "detail-type" in document:
        if (document.get("source"), document.get("detail-type")) != (EVENT_SOURCE, ARCHIVED):
            raise ValueError(
                f"an event of {document.get('source')!r}, {document.get('detail-type')!r}: "
                f"only {EVENT_SOURCE}'s {ARCHIVED!r} events are unpacked"
            )
        return UnpackMessage.model_validate(document.get("detail"))
    return UnpackMessage.model_validate(document)


def why_not_unpacked(
    message: UnpackMessage, bucket: str, archive_prefix: str, unpack_adapters: bool
) -> str | None:
    """Why the function leaves this archive alone (one line for the log), or None. The
    stack's rule selects the same; this holds to it for a message sent by hand."""
    where = f"s3://{message.bucket}/{message.key}"
    if message.bucket != bucket:
        return f"{where} is not in the stack's bucket {bucket}"
    if not message.key.startswith(archive_prefix):
        return f"{where} is not under the archive prefix {archive_prefix}"
    if message.checkpoint_type == ADAPTER and not unpack_adapters:
        return f"{where} is a LoRA adapter: the stack unpacks those with UnpackAdapters=true"
    if not is_archive_name(message.key):
        return f"{where} is neither .tar.zst nor .tar.gz"
    return None
