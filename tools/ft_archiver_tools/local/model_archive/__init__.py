"""Real model archives for the simulator: a deterministic ``.tar.zst`` or ``.tar.gz`` of a
Hugging Face-shaped model (or a hostile one), of any size, made on demand from a
``ModelSpec`` without ever holding it, with random access to its compressed bytes.

    archive = ModelArchive(ModelSpec(size=64 * MIB, seed=7))   # or variant="adapter", ...
    archive.size, archive.sha256            # the compressed archive (one pass, then kept)
    archive.read(start, length)             # any range of it; iter_range streams one
    archive.digests()                       # {"model/config.json": FileDigest(size, sha256)}

The pieces: ``spec`` (the description), ``files`` (the model's files and hostile members),
``bodies`` (bytes with random access), ``tar`` (the tar stream), ``archive`` (compression,
the frame index).
"""

from ft_archiver_tools.local.model_archive.archive import FileDigest, FrameIndex, ModelArchive
from ft_archiver_tools.local.model_archive.files import Member, safetensors_header
from ft_archiver_tools.local.model_archive.spec import (
    GIB,
    HOSTILE_VARIANTS,
    KIB,
    MIB,
    VARIANTS,
    Compression,
    ModelSpec,
    Variant,
)

__all__ = [
    "GIB",
    "HOSTILE_VARIANTS",
    "KIB",
    "MIB",
    "VARIANTS",
    "Compression",
    "FileDigest",
    "FrameIndex",
    "Member",
    "ModelArchive",
    "ModelSpec",
    "Variant",
    "safetensors_header",
]
