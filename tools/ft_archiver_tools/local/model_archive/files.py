"""A model description -> the archive's members, in order, with their bodies.

Formats, and where each fact comes from:
- safetensors (huggingface/safetensors README, "Format"): 8 bytes of little-endian u64
  N, then N bytes of UTF-8 JSON starting with ``{`` (it MAY be padded with trailing
  spaces; the library pads so the byte buffer starts 8-aligned), mapping each tensor to
  ``{"dtype", "shape", "data_offsets": [begin, end]}`` relative to the byte buffer, plus an
  optional ``"__metadata__"`` string map; the offsets cover the buffer without holes, so
  the last ``end`` plus 8 plus N is the file's size.
- sharded checkpoints (transformers ``save_pretrained``): ``model-00001-of-00002.safetensors``
  ... and ``model.safetensors.index.json`` ``{"metadata": {"total_size"}, "weight_map"}``;
  one shard is written as ``model.safetensors`` with no index; ``.bin`` weights are
  ``pytorch_model-*.bin`` with ``pytorch_model.bin.index.json``. ``__metadata__`` is
  ``{"format": "pt"}`` as transformers writes it.
- tensor names: transformers' ``LlamaForCausalLM`` state dict; an adapter's, peft's
  ``base_model.model.<module>.lora_A.weight`` ``[r, in]`` / ``lora_B.weight`` ``[out, r]``.
The .bin bodies are pseudo-random bytes, not pickles: only their names matter (readiness).
"""

import hashlib
import json
import math
import struct
import tarfile
from dataclasses import dataclass
from typing import Any, Literal

from ft_archiver_tools.local.model_archive.bodies import Body, Inline, Pseudo, Zeros
from ft_archiver_tools.local.model_archive.documents import (
    DTYPE_BYTES,
    MIN_VOCAB,
    MODULES,
    Dims,
    adapter_config,
    config,
    generation_config,
    json_body,
    tokenizer_files,
)
from ft_archiver_tools.local.model_archive.spec import ModelSpec

MTIME = 1764072000  # 2025-11-25T12:00:00Z: every member, so the tar is deterministic
SHARD_LIMIT = 5 * 10**9  # transformers' default max_shard_size, "5GB"
MemberKind = Literal["file", "dir", "symlink", "hardlink", "fifo", "device"]
TYPES = {
    "file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE, "device": tarfile.CHRTYPE,
}  # fmt: skip
Shape = list[int]
Tensor = tuple[str, Shape]


@dataclass(frozen=True)
class Member:
    """One tar member; ``name`` as in the tar (top folder included)."""

    name: str
    kind: MemberKind
    body: Body | None = None
    linkname: str = ""
    hostile: bool = False

    @property
    def size(self) -> int:
        return self.body.size if self.body is not None else 0

    def tarinfo(self) -> tarfile.TarInfo:
        info = tarfile.TarInfo(self.name)
        info.type = TYPES[self.kind]
        info.size = self.size
        info.mode = 0o755 if self.kind == "dir" else 0o644
        info.mtime = MTIME
        info.linkname = self.linkname
        if self.kind == "device":
            info.devmajor, info.devminor = 1, 3  # /dev/null
        return info


def members(spec: ModelSpec) -> tuple[Member, ...]:
    prefix = f"{spec.top}/" if spec.top else ""
    model = [Member(prefix, "dir")] if prefix else []
    model += [Member(prefix + name, "file", body) for name, body in sorted(model_files(spec))]
    bad = hostile_members(spec, prefix)
    return tuple(bad + model if spec.hostile_first else model + bad)


def hostile_members(spec: ModelSpec, prefix: str) -> list[Member]:
    """The hostile variants' member, each the only thing wrong with its archive: a name
    climbing out of the folder, an absolute name (one that a naive strip of its leading
    "/" would put inside the folder), links, a FIFO, a device, and a bomb (zeros that
    compress about 20,000 to 1 with zstd, 230 to 1 with deflate)."""
    escape = Inline(b"this file escaped its folder\n")
    table = {
        "traversal": Member(f"{prefix}../../evil", "file", escape, hostile=True),
        "absolute": Member(f"/{prefix}evil", "file", escape, hostile=True),
        "symlink": Member(f"{prefix}link", "symlink", linkname="/etc/passwd", hostile=True),
        "hardlink": Member(
            f"{prefix}hardlink", "hardlink", linkname=f"{prefix}config.json", hostile=True
        ),
        "fifo": Member(f"{prefix}fifo", "fifo", hostile=True),
        "device": Member(f"{prefix}null", "device", hostile=True),
        "bomb": Member(f"{prefix}zeros.bin", "file", Zeros(spec.bomb_size), hostile=True),
    }
    return [table[spec.variant]] if spec.variant in table else []


def model_files(spec: ModelSpec) -> list[tuple[str, Body]]:
    """The model's files (relative to the top folder), sized so they add up to about
    ``spec.size``: built once for an estimate of the weights' share, then again with the
    overshoot (headers, JSON) taken off."""
    budget = spec.size
    files = _files(spec, budget)
    for _ in range(2):
        over = sum(body.size for _, body in files) - spec.size
        if over <= 0:
            break
        budget = max(0, budget - over)
        files = _files(spec, budget)
    return files


def _files(spec: ModelSpec, budget: int) -> list[tuple[str, Body]]:
    tokenizer = tokenizer_files(spec)
    if spec.variant == "adapter":
        return [*tokenizer, *_adapter_files(spec, budget)]
    dims = _dims(budget)
    weights = _weight_files(spec, dims, _tensors(dims), budget)
    documents = [("config.json", config(spec, dims)),
                 ("generation_config.json", generation_config())]  # fmt: skip
    return [*((name, json_body(doc)) for name, doc in documents), *tokenizer, *weights]


def _dims(budget: int) -> Dims:
    """A Llama shape whose weights come to at most ``budget`` bytes: the widest hidden size
    (a power of two) that leaves room for four blocks, as many blocks as fit in 80% of
    the budget, and a vocabulary that takes the rest."""
    hidden = 16
    while hidden < 8192 and 4 * _block_bytes(hidden * 2) <= budget:
        hidden *= 2
    block = _block_bytes(hidden)
    layers = max(1, budget * 4 // 5 // block)
    rest = budget - layers * block - hidden * DTYPE_BYTES
    return Dims(hidden, layers, max(MIN_VOCAB, rest // (2 * hidden * DTYPE_BYTES)))


def _block_bytes(hidden: int) -> int:
    return sum(math.prod(shape) for _, shape in _block(Dims(hidden, 1, 0), 0)) * DTYPE_BYTES


def _block(dims: Dims, i: int) -> list[Tensor]:
    h = dims.hidden
    tensors: list[Tensor] = [
        (f"model.layers.{i}.input_layernorm.weight", [h]),
        (f"model.layers.{i}.post_attention_layernorm.weight", [h]),
    ]
    for module, block in MODULES.items():
        width_in, width_out = dims.widths(module)
        tensors.append((f"model.layers.{i}.{block}.{module}.weight", [width_out, width_in]))
    return tensors


def _tensors(dims: Dims) -> list[Tensor]:
    """In the model's order (embeddings, blocks, norm, head): the order of the shards."""
    tensors: list[Tensor] = [("model.embed_tokens.weight", [dims.vocab, dims.hidden])]
    for i in range(dims.layers):
        tensors += _block(dims, i)
    return [*tensors, ("model.norm.weight", [dims.hidden]),
            ("lm_head.weight", [dims.vocab, dims.hidden])]  # fmt: skip


def _weight_files(
    spec: ModelSpec, dims: Dims, tensors: list[Tensor], budget: int
) -> list[tuple[str, Body]]:
    count = spec.shards or max(2, math.ceil(budget / SHARD_LIMIT))
    groups = _shard(tensors, count)
    stem, ext = ("pytorch_model", "bin") if spec.variant == "bin" else ("model", "safetensors")
    if len(groups) == 1:
        names = [f"{stem}.{ext}"]
    else:
        names = [f"{stem}-{n + 1:05d}-of-{len(groups):05d}.{ext}" for n in range(len(groups))]
    files: list[tuple[str, Body]] = []
    weight_map: dict[str, str] = {}
    for name, group in zip(names, groups, strict=True):
        seed = _seed(spec.seed, name)
        if ext == "bin":
            files.append((name, Pseudo(seed, _bytes(group))))
        else:
            header, length = safetensors_header(group, {"format": "pt"})
            files.append((name, Pseudo(seed, length, header)))
        weight_map.update(dict.fromkeys((tensor for tensor, _ in group), name))
    if len(groups) > 1:
        total = sum(_bytes([tensor]) for tensor in tensors)
        index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        files.append((f"{stem}.{ext}.index.json", json_body(index)))
    return files


def _shard(tensors: list[Tensor], count: int) -> list[list[Tensor]]:
    """Consecutive tensors into at most ``count`` shards of about equal size; a tensor
    larger than a share makes fewer shards, never an empty one."""
    total = max(1, sum(_bytes([tensor]) for tensor in tensors))
    groups: dict[int, list[Tensor]] = {}
    done = 0
    for tensor in tensors:
        groups.setdefault(min(count - 1, done * count // total), []).append(tensor)
        done += _bytes([tensor])
    return [groups[key] for key in sorted(groups)]


def safetensors_header(tensors: list[Tensor], metadata: dict[str, str]) -> tuple[bytes, int]:
    """The 8-byte length and the JSON header of a safetensors file holding ``tensors`` (in
    name order, BF16), and the length of its byte buffer."""
    doc: dict[str, Any] = {"__metadata__": metadata}
    offset = 0
    for name, shape in sorted(tensors):
        length = math.prod(shape) * DTYPE_BYTES
        doc[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + length]}
        offset += length
    text = json.dumps(doc, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)  # the buffer starts 8-aligned
    return struct.pack("<Q", len(text)) + text, offset


def _adapter_files(spec: ModelSpec, budget: int) -> list[tuple[str, Body]]:
    """A LoRA of every linear layer of a base model sixteen times the adapter's size, its
    rank chosen to reach the budget."""
    base = _dims(budget * 16)
    per_rank = sum(sum(base.widths(module)) for module in MODULES) * base.layers * DTYPE_BYTES
    rank = max(1, budget // per_rank)
    tensors: list[Tensor] = []
    for i in range(base.layers):
        for module, block in MODULES.items():
            width_in, width_out = base.widths(module)
            path = f"base_model.model.model.layers.{i}.{block}.{module}"
            tensors += [(f"{path}.lora_A.weight", [rank, width_in]),
                        (f"{path}.lora_B.weight", [width_out, rank])]  # fmt: skip
    header, length = safetensors_header(tensors, {"format": "pt"})
    seed = _seed(spec.seed, "adapter_model.safetensors")
    return [("adapter_config.json", json_body(adapter_config(spec, rank))),
            ("adapter_model.safetensors", Pseudo(seed, length, header))]  # fmt: skip


def _bytes(tensors: list[Tensor]) -> int:
    return sum(math.prod(shape) for _, shape in tensors) * DTYPE_BYTES


def _seed(seed: int, name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}/{name}".encode()).digest()[:8], "big")
