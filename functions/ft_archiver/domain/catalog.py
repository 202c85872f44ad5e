"""One line of ``ft-archiver list``: an archive as its manifest, or its object, describes it."""

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, field_serializer

from ft_archiver.domain.manifest import Manifest

SHORT_SHA256 = 12
COLUMNS = ("ARCHIVED AT", "JOB", "STEP", "TYPE", "SIZE", "SHA256", "KEY", "UNPACKED")
# The tags ft-archiver puts on an archive only once S3 has confirmed its size and
# full-object checksum: ``sha256``, and ``sha256-tree`` on a distributed archive too large
# to read back whole. An archive object with neither, and no manifest, was never verified.
VERIFIED_TAGS = ("sha256", "sha256-tree")


class CatalogEntry(BaseModel):
    """``manifest_key`` is null for an archive listed from its object's metadata and tags
    (archived before manifests existed, or whose manifest could not be read);
    ``unpacked`` is the folder it was unpacked into, as its manifest points at it
    (null: not unpacked, or no manifest to say so)."""

    model_config = ConfigDict(frozen=True)

    archived_at: AwareDatetime
    fine_tune_id: str | None
    checkpoint_step: int | None  # None: the final model
    checkpoint_type: str | None
    training_type: str | None
    size: int
    sha256: str | None
    bucket: str
    key: str
    manifest_key: str | None
    unpacked: str | None = None

    @field_serializer("archived_at")
    def _iso_8601(self, value: datetime) -> str:
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_manifest(manifest: Manifest, bucket: str, key: str, manifest_key: str) -> CatalogEntry:
    result = manifest.result
    return CatalogEntry(
        archived_at=result.archived_at,
        fine_tune_id=manifest.fine_tune_id,
        checkpoint_step=manifest.checkpoint_step,
        checkpoint_type=manifest.checkpoint_type,
        training_type=manifest.training_type,
        size=result.size,
        sha256=result.sha256,
        bucket=bucket,
        key=key,
        manifest_key=manifest_key,
        unpacked=manifest.unpacked.folder if manifest.unpacked else None,
    )


def step_of(text: str | None) -> int | None:
    """The ``checkpoint-step`` metadata as a step: None for "final" (or none)."""
    return int(text) if text is not None and text.isdecimal() else None


def is_archive_object(metadata: Mapping[str, str]) -> bool:
    """Whether ft-archiver wrote the object as an archive (its ``fine-tune-id`` metadata)."""
    return bool(metadata.get("fine-tune-id"))


def verified_by_tags(tags: Mapping[str, str]) -> bool:
    return any(tags.get(name) for name in VERIFIED_TAGS)


def from_object(
    bucket: str,
    key: str,
    size: int,
    last_modified: datetime,
    metadata: Mapping[str, str],
    tags: Mapping[str, str],
) -> CatalogEntry | None:
    """An archive without a manifest, from the metadata and the ``sha256`` tag ft-archiver
    puts on every verified archive; None for an object ft-archiver did not write, or one
    it wrote whose bytes were never verified (no such tag: ``Catalog`` names it)."""
    fine_tune_id = metadata.get("fine-tune-id")
    if not fine_tune_id or not verified_by_tags(tags):
        return None
    return CatalogEntry(
        archived_at=last_modified,
        fine_tune_id=fine_tune_id,
        checkpoint_step=step_of(metadata.get("checkpoint-step")),
        checkpoint_type=metadata.get("checkpoint-type"),
        training_type=metadata.get("training-type"),
        size=size,
        sha256=tags.get("sha256") or metadata.get("sha256"),
        bucket=bucket,
        key=key,
        manifest_key=None,
    )


def newest_first(entries: Iterable[CatalogEntry]) -> list[CatalogEntry]:
    """By archive time, newest first; equal times by key."""
    return sorted(sorted(entries, key=lambda e: e.key), key=lambda e: e.archived_at, reverse=True)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def _row(entry: CatalogEntry) -> tuple[str, ...]:
    when = entry.archived_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    step = "final" if entry.checkpoint_step is None else str(entry.checkpoint_step)
    key = entry.key if entry.manifest_key else f"{entry.key} (no manifest)"
    return (
        when,
        entry.fine_tune_id or "-",
        step,
        entry.checkpoint_type or "-",
        human_size(entry.size),
        (entry.sha256 or "-")[:SHORT_SHA256],
        key,
        entry.unpacked or "",
    )


def table(entries: Iterable[CatalogEntry]) -> list[str]:
    """Aligned columns under a header, the unpacked folder last (empty when there is
    none) so that it needs no padding; no line ends in spaces."""
    rows = [COLUMNS, *(_row(entry) for entry in entries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    lines = []
    for row in rows:
        padded = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*padded, row[-1]]).rstrip())
    return lines
