"""The import's record beside the folder, ``{folder}.import.json``. Pure.

Written once, when the import ends (Completed, Failed or refused), by a conditional
create (``If-None-Match: *``) that only one run can win: the winner publishes the
result event, then marks the record announced. So duplicate ``Fine-tune Unpacked``
deliveries, which follow the same job (same token, same name), announce it once; a
redelivery after the end finds the record and announces nothing. The record is also
what ``ft-archiver status`` and ``import`` read back.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict

from ft_archiver.domain.events import ImportedDetail, ImportFailedDetail
from ft_archiver.domain.unpack.layout import INDEX_SUFFIX

RECORD_SUFFIX = ".import.json"
RECORD_CONTENT_TYPE = "application/json"
ImportStatus = Literal["Completed", "Failed"]


class ImportRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: ImportStatus
    run_id: str
    announced: bool
    archive_sha256: str | None
    result: ImportedDetail | ImportFailedDetail

    def for_archive(self, archive_sha256: str | None) -> bool:
        """Whether the record is of these bytes (another archive under the key is a new
        import)."""
        return self.archive_sha256 == archive_sha256

    def superseded_by(self, run_id: str) -> bool:
        """Whether a new run may try again: the end was a retryable failure (the wait
        was given up), already announced, and the run is another one. Its record is
        removed and the import asked again: the same token finds the same job if one
        was started, so nothing is imported twice."""
        return (
            isinstance(self.result, ImportFailedDetail)
            and self.result.retryable
            and self.announced
            and self.run_id != run_id
        )


def record_key(index_key: str) -> str:
    """``models/x.files.json`` -> ``models/x.import.json``."""
    stem = index_key.removesuffix(INDEX_SUFFIX)
    return f"{stem}{RECORD_SUFFIX}"
