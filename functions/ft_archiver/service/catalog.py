"""``ft-archiver list``: what is archived under a bucket and prefix, read from S3 alone.

Only verified archives are listed. Every ``*.manifest.json`` under the prefix is read (a
few at a time); an archive whose manifest is missing (archived before manifests
existed) or unreadable is described by its object's metadata and tags instead, if its
``sha256`` tag (or a distributed archive's ``sha256-tree``) says it was verified. Any
other object ft-archiver wrote there (a write that failed, or one still under way) is
named as incomplete. Problems with single objects are reported through ``on_problem``,
one line each in key order, and do not stop the listing; a failing S3 does.
"""

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from pydantic import ValidationError

from ft_archiver.domain.catalog import (
    CatalogEntry,
    from_manifest,
    from_object,
    human_size,
    is_archive_object,
    newest_first,
    verified_by_tags,
)
from ft_archiver.domain.manifest import Manifest
from ft_archiver.domain.naming import MANIFEST_SUFFIX
from ft_archiver.domain.unpack.layout import INDEX_SUFFIX
from ft_archiver.service.ports import BucketReader, ListedObject

READERS = 8  # objects read at once

Problem = Callable[[str], None]


def parse_manifest(body: bytes, where: str, on_problem: Problem) -> Manifest | None:
    """The manifest, or None and one line through ``on_problem`` saying why not."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        on_problem(f"{where} is not valid JSON ({type(exc).__name__}); skipped")
        return None
    try:
        return Manifest.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "the document"
        on_problem(f"{where} is not a manifest ({field}: {first['msg']}); skipped")
        return None


class Catalog:
    def __init__(self, reader: BucketReader, readers: int = READERS) -> None:
        self._reader = reader
        self._readers = readers

    def entries(self, bucket: str, prefix: str, on_problem: Problem) -> list[CatalogEntry]:
        """Every archive under the prefix, newest first."""
        objects = self._reader.list_objects(bucket, prefix)
        manifests = [o for o in objects if o.key.endswith(MANIFEST_SUFFIX)]
        archives = {o.key: o for o in objects if not o.key.endswith(MANIFEST_SUFFIX)}
        with ThreadPoolExecutor(self._readers, thread_name_prefix="catalog") as pool:
            described: dict[str, CatalogEntry] = {}
            bodies = pool.map(lambda o: self._reader.read(bucket, o.key), manifests)
            for listed, body in zip(manifests, bodies, strict=True):
                key = listed.key.removesuffix(MANIFEST_SUFFIX)
                where = f"manifest s3://{bucket}/{listed.key}"
                if body is None:
                    continue  # deleted since it was listed
                manifest = parse_manifest(body, where, on_problem)
                if manifest is None:
                    continue
                if key not in archives:
                    on_problem(f"{where}: its archive {key} is not in the bucket; skipped")
                    continue
                described[key] = from_manifest(manifest, bucket, key, listed.key)
            unpacked = _unpacked(described.values())
            rest = sorted((o for key, o in archives.items()
                           if key not in described and not unpacked(key)),
                          key=lambda o: o.key)  # fmt: skip
            found = list(pool.map(lambda o: self._from_object(bucket, o), rest))
        for _, incomplete in found:
            if incomplete is not None:
                on_problem(incomplete)
        return newest_first([*described.values(), *_present(entry for entry, _ in found)])

    def _from_object(
        self, bucket: str, listed: ListedObject
    ) -> tuple[CatalogEntry | None, str | None]:
        """The object's entry if it is a verified archive; or the line that names it as
        incomplete if ft-archiver wrote it and never verified it; or neither."""
        facts = self._reader.facts(bucket, listed.key)
        if facts is None or not is_archive_object(facts.metadata):
            return None, None  # deleted since it was listed, or not ft-archiver's
        if not verified_by_tags(facts.tags):
            return None, (
                f"incomplete: s3://{bucket}/{listed.key} ({human_size(listed.size)}) has no "
                "manifest and no sha256 tag: its bytes were never verified (a write that "
                "failed, or one still under way); not listed"
            )
        entry = from_object(
            bucket, listed.key, listed.size, listed.last_modified, facts.metadata, facts.tags
        )
        return entry, None


def _unpacked(entries: Iterable[CatalogEntry]) -> Callable[[str], bool]:
    """Whether a key is a file of a folder a manifest points at, or that folder's index:
    no archive, and not worth a HeadObject to find out."""
    folders = tuple(entry.unpacked for entry in entries if entry.unpacked)
    indexes = {folder.rstrip("/") + INDEX_SUFFIX for folder in folders}
    return lambda key: key.startswith(folders) or key in indexes


def _present(entries: Iterable[CatalogEntry | None]) -> list[CatalogEntry]:
    return [entry for entry in entries if entry is not None]
