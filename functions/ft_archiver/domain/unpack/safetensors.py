"""A ``.safetensors`` file's header, checked from the file's first bytes alone. Pure.

The safetensors header rules follow the format's README and its reference parser
(huggingface/safetensors, ``README.md`` "Format" and ``safetensors/src/tensor.rs``
``read_metadata``/``validate``): 8 bytes of little-endian u64 ``N``, at most 100,000,000;
``N`` bytes of UTF-8 JSON, an object of tensors ``{"dtype", "shape", "data_offsets"}``
and an optional ``__metadata__`` map of strings; sorted by offset, the tensors tile the
byte buffer from 0 without gap or overlap, each exactly ``prod(shape) * bits(dtype) / 8``
bytes, and the last one ends exactly at ``file_size - 8 - N``.

The unpacker reads the header from the first bytes of each file as it streams by, so no
weights are ever loaded to judge a model (``readiness``).
"""

import json
import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

SAFETENSORS_LENGTH_BYTES = 8
SAFETENSORS_MAX_HEADER = 100_000_000  # tensor.rs MAX_HEADER_SIZE
# Bits per element of every dtype the reference parser knows (tensor.rs ``Dtype``,
# ``bitsize``); a header naming another is refused as the parser would refuse it.
SAFETENSORS_DTYPE_BITS: Mapping[str, int] = {
    "BOOL": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


ProblemCode = Literal[
    "truncated", "too_large", "invalid_utf8", "invalid_json", "invalid_tensor",
    "unknown_dtype", "invalid_offsets", "size_mismatch",
]  # fmt: skip


class SafetensorsProblem(_Frozen):
    """Why a file is not a valid safetensors file (``code`` for machines)."""

    code: ProblemCode
    message: str


class SafetensorsHeader(_Frozen):
    """What a valid header says, in summary (the tensor list itself is not kept: a large
    shard has thousands, and the summary is what the index and event need)."""

    header_size: int  # N: the JSON's length, without the 8 length bytes
    tensor_count: int
    dtypes: tuple[str, ...]  # distinct, sorted
    parameters: int  # elements over all tensors
    data_bytes: int  # file_size - 8 - N
    format: str | None = None  # __metadata__["format"], e.g. "pt"


def safetensors_header_length(first_bytes: bytes) -> int | SafetensorsProblem:
    """How many bytes from the start of a file hold its whole header (8 + N), from its
    first 8: what the unpacker keeps of a ``.safetensors`` file as it streams by."""
    if len(first_bytes) < SAFETENSORS_LENGTH_BYTES:
        return SafetensorsProblem(
            code="truncated",
            message=f"{len(first_bytes)} bytes, fewer than the 8 that give the header's length",
        )
    n = int.from_bytes(first_bytes[:SAFETENSORS_LENGTH_BYTES], "little")
    if n > SAFETENSORS_MAX_HEADER:
        return SafetensorsProblem(
            code="too_large",
            message=f"header length {n} is over the format's limit of {SAFETENSORS_MAX_HEADER}",
        )
    return SAFETENSORS_LENGTH_BYTES + n


class _HeaderError(Exception):
    def __init__(self, code: ProblemCode, message: str) -> None:
        super().__init__(message)
        self.code: ProblemCode = code
        self.message = message


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _HeaderError("invalid_json", f"the header names {key!r} twice")
        result[key] = value
    return result


def _no_constants(name: str) -> None:
    raise _HeaderError("invalid_json", f"the header has {name}, which JSON does not allow")


def _natural(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def safetensors_header(
    first_bytes: bytes, file_size: int
) -> SafetensorsHeader | SafetensorsProblem:
    """The header of a ``.safetensors`` file of ``file_size`` bytes whose first bytes
    (at least ``safetensors_header_length`` of them) are ``first_bytes``, or the problem
    that makes it unloadable. The rules are the reference parser's (module docstring)."""
    span = safetensors_header_length(first_bytes)
    if isinstance(span, SafetensorsProblem):
        return span
    n = span - SAFETENSORS_LENGTH_BYTES
    if span > file_size:
        return SafetensorsProblem(
            code="truncated",
            message=f"header length {n} runs past the end of the {file_size}-byte file",
        )
    if len(first_bytes) < span:
        return SafetensorsProblem(
            code="truncated",
            message=f"only {len(first_bytes)} of the header's {span} bytes were read",
        )
    try:
        text = first_bytes[SAFETENSORS_LENGTH_BYTES:span].decode("utf-8")
    except UnicodeDecodeError:
        return SafetensorsProblem(code="invalid_utf8", message="the header is not UTF-8")
    try:
        return _parse_header(text, n, file_size - span)
    except _HeaderError as invalid:
        return SafetensorsProblem(code=invalid.code, message=invalid.message)


def _parse_header(text: str, n: int, data_bytes: int) -> SafetensorsHeader:
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise _HeaderError("invalid_json", f"the header is not JSON: {exc.msg}") from None
    if not isinstance(document, dict):
        raise _HeaderError("invalid_json", "the header is not a JSON object")
    metadata = document.pop("__metadata__", None)
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
    ):
        raise _HeaderError("invalid_json", "__metadata__ is not a map of strings")
    tensors: list[tuple[int, int, str, str, int]] = []  # begin, end, name, dtype, elements
    for name, info in document.items():
        tensors.append(_tensor(name, info))
    tensors.sort()
    position, parameters = 0, 0
    for begin, end, name, _, elements in tensors:
        if begin != position:
            what = "overlaps the tensor before it" if begin < position else "leaves a gap"
            raise _HeaderError(
                "invalid_offsets",
                f"tensor {name!r} starts at {begin} where {position} was expected: it {what}",
            )
        position = end
        parameters += elements
    if position != data_bytes:
        raise _HeaderError(
            "size_mismatch",
            f"the tensors end at byte {position} of the data, but the file holds "
            f"{data_bytes} bytes of data after its header",
        )
    return SafetensorsHeader(
        header_size=n,
        tensor_count=len(tensors),
        dtypes=tuple(sorted({dtype for _, _, _, dtype, _ in tensors})),
        parameters=parameters,
        data_bytes=data_bytes,
        format=metadata.get("format") if metadata else None,
    )


def _tensor(name: str, info: object) -> tuple[int, int, str, str, int]:
    if not isinstance(info, dict):
        raise _HeaderError("invalid_tensor", f"tensor {name!r} is not an object")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in SAFETENSORS_DTYPE_BITS:
        raise _HeaderError("unknown_dtype", f"tensor {name!r} has the unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_natural(d) for d in shape):
        raise _HeaderError("invalid_tensor", f"tensor {name!r} has no valid shape: {shape!r}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_natural(o) for o in offsets)
        or offsets[1] < offsets[0]
    ):
        raise _HeaderError(
            "invalid_offsets", f"tensor {name!r} has no valid data_offsets: {offsets!r}"
        )
    elements = math.prod(shape)
    bits = elements * SAFETENSORS_DTYPE_BITS[dtype]
    begin, end = offsets
    if bits % 8:
        raise _HeaderError(
            "invalid_tensor",
            f"tensor {name!r} ({dtype} {shape}) is {bits} bits, not a whole number of bytes",
        )
    if end - begin != bits // 8:
        raise _HeaderError(
            "invalid_tensor",
            f"tensor {name!r} ({dtype} {shape}) needs {bits // 8} bytes but its "
            f"data_offsets span {end - begin}",
        )
    return begin, end, name, dtype, elements
