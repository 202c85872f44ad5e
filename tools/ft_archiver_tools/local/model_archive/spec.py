"""What a simulated model archive is: a frozen, hashable description (the simulator keys
its caches on it), from which every byte of the archive follows."""

from dataclasses import dataclass
from typing import Literal, get_args

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

Variant = Literal[
    "merged",  # a full Hugging Face model: config, tokenizer, sharded .safetensors
    "adapter",  # a PEFT LoRA adapter: adapter_config.json, adapter_model.safetensors
    "bin",  # a full model whose weights are pytorch_model-*.bin (readiness tests)
    # hostile: the merged model plus the member(s) named in ``files.HOSTILE``
    "traversal",
    "absolute",
    "symlink",
    "hardlink",
    "fifo",
    "device",
    "bomb",
]
Compression = Literal["zstd", "gzip"]
VARIANTS: tuple[str, ...] = get_args(Variant)
HOSTILE_VARIANTS = frozenset(VARIANTS[3:])


@dataclass(frozen=True)
class ModelSpec:
    """A model archive. ``size``: what the model's files add up to (the weights are sized
    to reach it: within a few KiB plus one embedding row per shard; a tiny size gives
    the smallest model, a few hundred KiB). The tar and the compressed archive are a
    little larger (headers; the weights are pseudo-random, so they hardly compress).

    ``frame_size``: the tar is compressed in independent pieces of this many bytes (zstd
    frames; deflate pieces of one gzip member, or whole gzip members when
    ``gzip_members``), so that any byte range can be served by regenerating only the
    pieces it overlaps. One frame larger than the tar gives a single-frame archive.
    ``level``: the compression level (zstd's, or zlib's: 0 is stored blocks, fast for
    large .tar.gz; level 1 deflates random weights at about 50 MB/s).
    """

    size: int = 16 * MIB
    seed: int = 0
    variant: Variant = "merged"
    compression: Compression = "zstd"
    gzip_members: bool = False  # one gzip member per frame instead of one member in all
    shards: int = 0  # 0: transformers' choice (here: 2, or one per 5 GB); 1: model.safetensors
    architecture: str = "LlamaForCausalLM"
    context_length: int = 8192  # config.json's max_position_embeddings
    base_model: str = "simulator/llama-base"  # an adapter's base_model_name_or_path
    top: str = "model"  # the archive's single top-level folder ("" for none)
    hostile_first: bool = False  # hostile member(s) before the model's files, not after
    bomb_size: int = 4 * GIB  # the "bomb" member: this many zeros, declared in its header
    frame_size: int = MIB
    level: int = 1

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant {self.variant!r} is not one of {', '.join(VARIANTS)}")
        if self.compression not in get_args(Compression):
            raise ValueError(f"compression {self.compression!r} is not zstd or gzip")
        if self.size < 0 or self.bomb_size < 0 or self.shards < 0:
            raise ValueError("size, bomb_size and shards cannot be negative")
        if self.frame_size < 512:
            raise ValueError("frame_size must be at least one tar block (512 bytes)")

    @property
    def hostile(self) -> bool:
        return self.variant in HOSTILE_VARIANTS

    @property
    def model_type(self) -> str:
        """config.json's ``model_type``: "LlamaForCausalLM" -> "llama"."""
        return self.architecture.removesuffix("ForCausalLM").lower()

    @property
    def suffix(self) -> str:
        return ".tar.zst" if self.compression == "zstd" else ".tar.gz"

    @property
    def content_type(self) -> str:
        """What Together's download answers with (DESIGN.md's naming rule: a Content-Type
        containing x-tar names a .tar.gz, anything else a .tar.zst)."""
        return "application/zstd" if self.compression == "zstd" else "application/x-tar"
