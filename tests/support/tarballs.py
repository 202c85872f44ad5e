"""Small tar archives made in a test, with tarfile and zstandard: the files a model
folder has, and the members a hostile archive would slip in (links, devices, '..')."""

import gzip
import hashlib
import io
import json
import struct
import tarfile
from dataclasses import dataclass

import zstandard


@dataclass(frozen=True)
class Entry:
    """One tar member: a file (``data``), a directory, or a link/device/FIFO by type."""

    name: str
    data: bytes = b""
    kind: bytes = tarfile.REGTYPE
    target: str = ""  # of a link


def file(name: str, data: bytes) -> Entry:
    return Entry(name, data)


def folder(name: str) -> Entry:
    return Entry(name, kind=tarfile.DIRTYPE)


def symlink(name: str, target: str) -> Entry:
    return Entry(name, kind=tarfile.SYMTYPE, target=target)


def tar_of(entries: list[Entry]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type = entry.kind
            info.linkname = entry.target
            info.mode = 0o755 if entry.kind == tarfile.DIRTYPE else 0o644
            if entry.kind == tarfile.REGTYPE:
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
            else:
                tar.addfile(info)
    return buffer.getvalue()


def zstd_of(data: bytes, window_log: int | None = None, frames: int = 1) -> bytes:
    """``data`` as ``frames`` zstd frames one after the other (as ``zstd -T`` and
    concatenated files make them), each declaring ``window_log`` when given."""
    params = (
        zstandard.ZstdCompressionParameters(window_log=window_log)
        if window_log is not None
        else zstandard.ZstdCompressionParameters.from_level(3)
    )
    compressor = zstandard.ZstdCompressor(compression_params=params)
    step = -(-len(data) // frames) if data else 1
    out = io.BytesIO()
    for start in range(0, max(len(data), 1), step):
        with compressor.stream_writer(out, closefd=False) as writer:
            writer.write(data[start : start + step])
    return out.getvalue()


def gzip_of(data: bytes, members: int = 1) -> bytes:
    """``data`` as ``members`` gzip members one after the other (as ``pigz`` can)."""
    step = -(-len(data) // members) if data else 1
    return b"".join(
        gzip.compress(data[start : start + step], mtime=0)
        for start in range(0, max(len(data), 1), step)
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safetensors(tensor_bytes: int) -> bytes:
    """A valid .safetensors file: one U8 tensor of ``tensor_bytes`` bytes."""
    header = json.dumps(
        {"w": {"dtype": "U8", "shape": [tensor_bytes], "data_offsets": [0, tensor_bytes]}}
    ).encode()
    return (
        struct.pack("<Q", len(header))
        + header
        + bytes(range(256)) * (tensor_bytes // 256)
        + (bytes(tensor_bytes % 256))
    )


def model_entries(weights: int = 3000, top: str = "model/") -> list[Entry]:
    """A small Hugging Face-shaped folder: config, tokenizer, one safetensors file."""
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
              "max_position_embeddings": 8192}  # fmt: skip
    tokenizer_config = {"tokenizer_class": "PreTrainedTokenizerFast"}
    return [
        folder(top.rstrip("/")),
        file(f"{top}config.json", json.dumps(config).encode()),
        file(f"{top}tokenizer_config.json", json.dumps(tokenizer_config).encode()),
        file(f"{top}tokenizer.json", b'{"version": "1.0"}'),
        file(f"{top}model.safetensors", safetensors(weights)),
    ]


def files_of(entries: list[Entry], strip: str = "model/") -> dict[str, bytes]:
    """The regular files of ``entries`` by their path in the folder."""
    return {
        entry.name.removeprefix(strip): entry.data
        for entry in entries
        if entry.kind == tarfile.REGTYPE
    }
