"""What the readiness verdicts (domain/unpack/readiness.py) are computed from, gathered
while the files stream by: every file's path and size, the small JSON files parsed, and
the first bytes of every ``.safetensors`` file, its header. Nothing is read twice: a
file an earlier run stored passes through the stream again and is looked at then."""

import json
from collections.abc import Mapping
from typing import Any

from ft_archiver.domain.parts import MIB
from ft_archiver.domain.unpack.readiness import Readiness, readiness
from ft_archiver.domain.unpack.safetensors import (
    SafetensorsHeader,
    SafetensorsProblem,
    safetensors_header,
    safetensors_header_length,
)
from ft_archiver.service.unpack.file_writer import HeadWanted, no_head

CONFIG, ADAPTER_CONFIG, TOKENIZER_CONFIG = (
    "config.json", "adapter_config.json", "tokenizer_config.json",
)  # fmt: skip
# The JSON files parsed, at the top of the folder, up to this size (a tokenizer_config
# with a long chat template is a few hundred KiB; a larger one is not parsed).
JSON_FILES = frozenset({CONFIG, ADAPTER_CONFIG, TOKENIZER_CONFIG})
JSON_MAX = 4 * MIB
# A safetensors header is kept up to this size (the format allows 100 MB; a shard of a
# large model has some 100 KiB): one longer is reported unchecked, never held in memory.
HEADER_MAX = 16 * MIB
LENGTH_BYTES = 8


def _safetensors_head(head: bytearray) -> int:
    if len(head) < LENGTH_BYTES:
        return LENGTH_BYTES
    span = safetensors_header_length(bytes(head[:LENGTH_BYTES]))
    return LENGTH_BYTES if isinstance(span, SafetensorsProblem) else min(span, HEADER_MAX)


def _whole(size: int) -> HeadWanted:
    return lambda head: size


class ModelFiles:
    def __init__(self) -> None:
        self.files: list[tuple[str, int]] = []
        self._json: dict[str, Mapping[str, Any] | None] = {}
        self._headers: dict[str, SafetensorsHeader | SafetensorsProblem] = {}

    @staticmethod
    def head_wanted(path: str, size: int) -> HeadWanted:
        """How much of the file at ``path`` (relative to the folder) to keep."""
        if "/" in path:  # readiness looks at the top of the folder only
            return no_head
        if path in JSON_FILES and size <= JSON_MAX:
            return _whole(size)
        if path.endswith(".safetensors"):
            return _safetensors_head
        return no_head

    def add(self, path: str, size: int, head: bytes) -> None:
        self.files.append((path, size))
        if "/" in path:
            return
        if path in JSON_FILES and size <= JSON_MAX:
            self._json[path] = _parsed(head)
        elif path.endswith(".safetensors"):
            self._headers[path] = _header(head, size)

    def readiness(self) -> Readiness:
        return readiness(
            self.files,
            self._json.get(CONFIG),
            self._json.get(ADAPTER_CONFIG),
            self._headers,
            self._json.get(TOKENIZER_CONFIG),
        )


def _parsed(data: bytes) -> Mapping[str, Any] | None:
    try:
        document = json.loads(data)
    except ValueError:  # also UnicodeDecodeError
        return None
    return document if isinstance(document, dict) else None


def _header(head: bytes, size: int) -> SafetensorsHeader | SafetensorsProblem:
    span = safetensors_header_length(head)
    if isinstance(span, int) and span > HEADER_MAX and span <= size:
        return SafetensorsProblem(
            code="too_large",
            message=f"the header's {span:,} bytes are more than the unpacker reads "
            f"({HEADER_MAX:,}); it was not checked",
        )
    return safetensors_header(head, size)
