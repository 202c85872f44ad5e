"""What an earlier run's index proves to this one, and what this run leaves open. Pure.

An unpack can be stopped anywhere (a deadline, a failure, a kill), so every run starts
by reading the folder's index (``{folder}.files.json``) and ``earlier_run`` decides:

- The index is of other bytes (another version or ETag of the archive), another folder,
  or another checksum algorithm: it proves nothing. Its files are not trusted, and an
  upload it left open is of no use: ``stale_upload``, to abort.
- Otherwise its files are ``trusted``: each is read over, not uploaded again, once S3
  confirms it still holds that key with that size and checksum (``reusable`` first
  requires the member to be the same path and size). Its open upload, if any, is
  ``resumed_upload``: taken up at its next part when the pass reaches that member.
- A trusted index that says ``complete`` is the answer, once S3 confirms every file of
  it (``complete``): nothing is read.

When the run stops, ``left_open`` says which upload the index must name: the one this
run stopped in, else the earlier run's if this run never reached it (it is still open
and still of use), else none.
"""

from dataclasses import dataclass, field

from ft_archiver.domain.unpack.index import IndexedFile, OpenUpload, SourceArchive, UnpackIndex
from ft_archiver.domain.unpack.members import Placement


@dataclass(frozen=True)
class EarlierRun:
    index: UnpackIndex | None = None  # as read, whatever it proves
    trusted: dict[str, IndexedFile] = field(default_factory=dict)  # by key
    resumed_upload: OpenUpload | None = None
    stale_upload: OpenUpload | None = None
    complete: bool = False  # a complete index of these bytes: the answer, if S3 agrees


def earlier_run(
    earlier: UnpackIndex | None, source: SourceArchive, folder: str, algorithm: str
) -> EarlierRun:
    if earlier is None:
        return EarlierRun()
    if not proves(earlier, source, folder, algorithm):
        return EarlierRun(earlier, stale_upload=earlier.open_upload)
    return EarlierRun(
        earlier,
        trusted={entry.key: entry for entry in earlier.files},
        resumed_upload=earlier.open_upload,
        complete=earlier.status == "complete",
    )


def proves(earlier: UnpackIndex, source: SourceArchive, folder: str, algorithm: str) -> bool:
    """Whether the earlier run read these very bytes into this folder with this checksum."""
    return (
        earlier.archive.same_as(source)
        and earlier.folder == folder
        and earlier.checksum_algorithm == algorithm
    )


def reusable(entry: IndexedFile | None, placement: Placement) -> bool:
    """Whether a trusted file may stand for this member (S3 must still confirm it)."""
    return entry is not None and (entry.path, entry.size) == (placement.path, placement.size)


def left_open(
    stopped_in: OpenUpload | None, resumed: OpenUpload | None, took_resumed: bool
) -> OpenUpload | None:
    """The upload a stopped run's index names: the one it stopped in, else the earlier
    run's one it never took up."""
    if stopped_in is not None:
        return stopped_in
    return None if took_resumed else resumed


def verified_files(
    this_run: list[IndexedFile], trusted: dict[str, IndexedFile]
) -> list[IndexedFile]:
    """What an incomplete index lists: this run's files in archive order, then the
    earlier run's this run did not reach (still verified, still of use)."""
    seen = {entry.key for entry in this_run}
    return this_run + [entry for entry in trusted.values() if entry.key not in seen]
