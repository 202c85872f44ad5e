"""What an archive in flight is, as the state table shows it to ``ft-archiver status``.

Written once an invocation knows its plan (the key, size and parts), beside the lease and
the progress the protocol needs; nothing reads it back to archive. A plain dataclass:
the archiver imports it on every invocation, and it costs no model build.
"""

from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

Path = Literal["single", "distributed"]
SINGLE: Final = "single"
DISTRIBUTED: Final = "distributed"


@dataclass(frozen=True)
class ArchiveActivity:
    job: str  # the fine-tune ID, ft-...
    step: int | None  # the intermediate checkpoint's step; None: the final model
    checkpoint: str  # the resolved type: merged or adapter (Full: default)
    key: str
    size: int
    parts: int
    part_size: int
    path: Path  # one function after another, or the distributed state machine
    continuation: int  # invocations of this request before this one
    resumed: bool  # this invocation goes on from saved progress (its clock keeps running)

    def to_document(self) -> dict[str, Any]:
        return asdict(self)
