"""The simulator's real model archives: they decompress with the tools the unpacker will
use, hold exactly the described members (byte for byte, by SHA-256), their safetensors
headers are valid, any range of the compressed bytes is the same slice of the whole, the
index takes one pass and little memory, and the hostile ones hold exactly their hostile
member."""

import gzip
import hashlib
import io
import itertools
import json
import math
import random
import struct
import tarfile
import tracemalloc
import zlib
from collections.abc import Iterator
from typing import IO, Any, Literal, cast

import pytest
import zstandard

from ft_archiver_tools.local.model_archive import (
    GIB,
    HOSTILE_VARIANTS,
    KIB,
    MIB,
    ModelArchive,
    ModelSpec,
)
from ft_archiver_tools.local.model_archive.archive import _zeros_crc
from ft_archiver_tools.local.model_archive.tar import TarLayout

SMALL = ModelSpec(size=3 * MIB, seed=11, frame_size=256 * KIB)


def whole(archive: ModelArchive) -> bytes:
    return b"".join(archive.iter_compressed())


def tar_stream(archive: ModelArchive, data: bytes) -> IO[bytes]:
    """The tar inside the compressed bytes, read the way an unpacker reads it."""
    if archive.spec.compression == "zstd":
        reader: IO[bytes] = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(data), read_across_frames=True
        )
        return reader
    return cast(IO[bytes], gzip.GzipFile(fileobj=io.BytesIO(data)))


StreamMode = Literal["r|", "r|gz", "r|*"]


def read_members(
    stream: IO[bytes], mode: StreamMode = "r|"
) -> Iterator[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(fileobj=stream, mode=mode) as tar:
        for info in tar:
            extracted = tar.extractfile(info) if info.isfile() else None
            yield info, extracted.read() if extracted is not None else b""


def described(archive: ModelArchive) -> list[tuple[str, str, int, str]]:
    """(name as tarfile reads it, kind, size, SHA-256 or "") of every member, in order."""
    rows: list[tuple[str, str, int, str]] = []
    for member in archive.members:
        digest = archive.digest(member.name).sha256 if member.kind == "file" else ""
        rows.append((member.name.rstrip("/"), member.kind, member.size, digest))
    return rows


KINDS = {
    tarfile.REGTYPE: "file", tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink", tarfile.FIFOTYPE: "fifo", tarfile.CHRTYPE: "device",
}  # fmt: skip


def unpacked(stream: IO[bytes], mode: StreamMode = "r|") -> list[tuple[str, str, int, str]]:
    return [
        (info.name, KINDS[info.type], info.size,
         hashlib.sha256(body).hexdigest() if info.isfile() else "")
        for info, body in read_members(stream, mode)
    ]  # fmt: skip


def safetensors(body: bytes) -> dict[str, Any]:
    """The header, checked as huggingface/safetensors' README says a reader must."""
    (length,) = struct.unpack("<Q", body[:8])
    text = body[8 : 8 + length]
    assert text.startswith(b"{")
    header: dict[str, Any] = json.loads(text)
    spans = sorted(
        tuple(entry["data_offsets"]) for name, entry in header.items() if name != "__metadata__"
    )
    assert spans[0][0] == 0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))  # no holes
    assert 8 + length + spans[-1][1] == len(body)  # the last offset ends the file
    for name, entry in header.items():
        if name != "__metadata__":
            begin, end = entry["data_offsets"]
            assert entry["dtype"] == "BF16"
            assert end - begin == 2 * math.prod(entry["shape"])
    return header


# -- what it holds ---------------------------------------------------------------------


def test_a_tar_zst_holds_exactly_the_described_members() -> None:
    archive = ModelArchive(SMALL)
    assert archive.frames > 4  # several independent frames, read as one stream
    assert unpacked(tar_stream(archive, whole(archive))) == described(archive)


def test_the_tar_itself_is_the_described_stream() -> None:
    archive = ModelArchive(SMALL)
    tar = b"".join(archive.iter_tar())
    assert len(tar) == archive.tar.size
    assert len(tar) % tarfile.RECORDSIZE == 0
    assert tar.endswith(bytes(2 * tarfile.BLOCKSIZE))
    assert (
        zstandard.ZstdDecompressor().decompressobj().decompress(archive.frame(0))
        == tar[: SMALL.frame_size]
    )
    assert unpacked(io.BytesIO(tar)) == described(archive)


def test_a_tar_gz_is_one_gzip_member_that_every_reader_reads() -> None:
    archive = ModelArchive(ModelSpec(size=2 * MIB, seed=5, compression="gzip", frame_size=MIB))
    data = whole(archive)
    tar = b"".join(archive.iter_tar())
    assert archive.frames == 3
    assert gzip.decompress(data) == tar
    inflate = zlib.decompressobj(wbits=31)
    assert inflate.decompress(data) == tar
    assert inflate.eof
    assert inflate.unused_data == b""  # one member: tarfile's stream mode reads it
    assert unpacked(io.BytesIO(data), "r|gz") == described(archive)
    assert unpacked(io.BytesIO(data), "r|*") == described(archive)


def test_gzip_members_are_whole_members_that_stream_mode_does_not_read() -> None:
    archive = ModelArchive(
        ModelSpec(size=2 * MIB, compression="gzip", gzip_members=True, frame_size=MIB)
    )
    data = whole(archive)
    members, rest, out = 0, data, b""
    while rest:
        inflate = zlib.decompressobj(wbits=31)
        out += inflate.decompress(rest)
        assert inflate.eof
        rest, members = inflate.unused_data, members + 1
    assert members == archive.frames == 3
    assert out == b"".join(archive.iter_tar())
    assert unpacked(tar_stream(archive, data)) == described(archive)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:  # GzipFile: every member
        assert [info.name for info in tar] == [row[0] for row in described(archive)]
    with pytest.raises(tarfile.ReadError):  # CPython's "r|gz" stops after one member
        unpacked(io.BytesIO(data), "r|gz")


def test_a_merged_model_has_the_hugging_face_files_and_valid_headers() -> None:
    archive = ModelArchive(SMALL)
    names = [member.name for member in archive.members]
    assert names == [
        "model/", "model/config.json", "model/generation_config.json",
        "model/model-00001-of-00002.safetensors", "model/model-00002-of-00002.safetensors",
        "model/model.safetensors.index.json", "model/special_tokens_map.json",
        "model/tokenizer.json", "model/tokenizer_config.json",
    ]  # fmt: skip
    config = json.loads(archive.body("model/config.json"))
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert config["model_type"] == "llama"
    assert config["max_position_embeddings"] == 8192
    assert config["torch_dtype"] == "bfloat16"
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json",
                 "special_tokens_map.json"):  # fmt: skip
        json.loads(archive.body(f"model/{name}"))
    index = json.loads(archive.body("model/model.safetensors.index.json"))
    tensors: dict[str, str] = {}
    total = 0
    for shard in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"):
        body = archive.body(f"model/{shard}")
        header = safetensors(body)
        assert header["__metadata__"] == {"format": "pt"}
        tensors.update({name: shard for name in header if name != "__metadata__"})
        total += sum(e["data_offsets"][1] - e["data_offsets"][0]
                     for n, e in header.items() if n != "__metadata__")  # fmt: skip
    assert index == {"metadata": {"total_size": total}, "weight_map": dict(sorted(tensors.items()))}
    hidden, layers = config["hidden_size"], config["num_hidden_layers"]
    assert f"model.layers.{layers - 1}.mlp.down_proj.weight" in tensors
    assert f"model.layers.{layers}.mlp.down_proj.weight" not in tensors
    embed = safetensors(archive.body(f"model/{tensors['model.embed_tokens.weight']}"))
    assert embed["model.embed_tokens.weight"]["shape"] == [config["vocab_size"], hidden]


@pytest.mark.parametrize("size", [0, 300 * KIB, 3 * MIB, 64 * MIB, GIB, 100 * GIB])
def test_the_files_add_up_to_the_size_asked_for(size: int) -> None:
    archive = ModelArchive(ModelSpec(size=size))
    total = sum(member.size for member in archive.files)
    assert abs(total - size) <= max(size // 100, 40 * KIB), (total, size)
    if size >= 100 * GIB:  # one shard per 5 GB, as transformers' max_shard_size
        shards = [m for m in archive.files if m.name.endswith(".safetensors")]
        assert 2 < len(shards) <= 22  # fewer where one tensor outweighs a share


def test_one_shard_is_model_safetensors_without_an_index() -> None:
    archive = ModelArchive(ModelSpec(size=MIB, shards=1))
    names = {member.name for member in archive.files}
    assert "model/model.safetensors" in names
    assert not any("index" in name for name in names)
    safetensors(archive.body("model/model.safetensors"))


def test_an_adapter_has_peft_files() -> None:
    archive = ModelArchive(ModelSpec(size=2 * MIB, variant="adapter", base_model="acme/base"))
    names = {member.name.removeprefix("model/") for member in archive.files}
    assert names == {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json",
                     "tokenizer_config.json", "special_tokens_map.json"}  # fmt: skip
    config = json.loads(archive.body("model/adapter_config.json"))
    assert config["peft_type"] == "LORA"
    assert config["base_model_name_or_path"] == "acme/base"
    assert config["lora_alpha"] == 2 * config["r"]
    assert "q_proj" in config["target_modules"]
    header = safetensors(archive.body("model/adapter_model.safetensors"))
    a = header["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"]
    b = header["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"]
    assert a["shape"][0] == b["shape"][1] == config["r"]
    assert unpacked(tar_stream(archive, whole(archive))) == described(archive)


def test_a_bin_model_has_pytorch_weights_and_no_safetensors() -> None:
    archive = ModelArchive(ModelSpec(size=2 * MIB, variant="bin"))
    names = {member.name.removeprefix("model/") for member in archive.files}
    assert {"pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin",
            "pytorch_model.bin.index.json", "config.json"} <= names  # fmt: skip
    assert not any(name.endswith(".safetensors") for name in names)
    index = json.loads(archive.body("model/pytorch_model.bin.index.json"))
    assert set(index["weight_map"].values()) == {
        "pytorch_model-00001-of-00002.bin",
        "pytorch_model-00002-of-00002.bin",
    }


def test_another_architecture_and_no_top_folder() -> None:
    archive = ModelArchive(ModelSpec(size=MIB, architecture="Qwen2ForCausalLM", top=""))
    config = json.loads(archive.body("config.json"))
    assert config["architectures"] == ["Qwen2ForCausalLM"]
    assert config["model_type"] == "qwen2"
    assert all("/" not in member.name for member in archive.members)


# -- hostile archives ------------------------------------------------------------------

HOSTILE = {
    "traversal": ("model/../../evil", "file", ""),
    "absolute": ("/model/evil", "file", ""),
    "symlink": ("model/link", "symlink", "/etc/passwd"),
    "hardlink": ("model/hardlink", "hardlink", "model/config.json"),
    "fifo": ("model/fifo", "fifo", ""),
    "device": ("model/null", "device", ""),
}


@pytest.mark.parametrize("variant", sorted(HOSTILE))
@pytest.mark.parametrize("first", [False, True])
def test_a_hostile_archive_holds_the_model_and_exactly_its_hostile_member(
    variant: Any, first: bool
) -> None:
    archive = ModelArchive(ModelSpec(size=MIB, variant=variant, hostile_first=first))
    model = ModelArchive(ModelSpec(size=MIB))
    read = [(info.name, KINDS[info.type], info.linkname)
            for info, _ in read_members(tar_stream(archive, whole(archive)))]  # fmt: skip
    hostile = read[0] if first else read[-1]
    assert hostile == HOSTILE[variant]
    rest = read[1:] if first else read[:-1]
    assert rest == [(m.name.rstrip("/"), m.kind, "") for m in model.members]
    assert [m.name for m in archive.hostile] == [HOSTILE[variant][0]]
    if variant == "device":
        [info] = [i for i, _ in read_members(io.BytesIO(b"".join(archive.iter_tar())))
                  if i.ischr()]  # fmt: skip
        assert (info.devmajor, info.devminor) == (1, 3)


def test_every_hostile_variant_is_covered() -> None:
    assert set(HOSTILE) | {"bomb"} == HOSTILE_VARIANTS


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
def test_a_bomb_is_small_and_declares_a_huge_file_of_zeros(compression: Any) -> None:
    bomb = 9 * GIB  # over ustar's 8 GiB: its size is in a pax header
    archive = ModelArchive(
        ModelSpec(size=MIB, variant="bomb", bomb_size=bomb, compression=compression)
    )
    model = ModelArchive(ModelSpec(size=MIB, compression=compression))
    assert archive.size - model.size < bomb // (10_000 if compression == "zstd" else 200)
    assert [(m.name, m.size) for m in archive.hostile] == [("model/zeros.bin", bomb)]
    with tarfile.open(fileobj=tar_stream(archive, whole(archive)), mode="r|") as tar:
        for info in tar:
            if info.name == "model/zeros.bin":
                assert info.size == bomb
                extracted = tar.extractfile(info)
                assert extracted is not None
                assert extracted.read(3 * MIB) == bytes(3 * MIB)
                break
        else:
            pytest.fail("no bomb member")
    tail = archive.read(archive.size - 100, 100)
    assert tail == whole(archive)[-100:]


def test_the_crc_of_zeros_is_computed_without_them() -> None:
    rng = random.Random(4)
    for length in (1, 512, MIB, 3 * MIB + 5):
        for crc in (0, 0xFFFFFFFF, rng.getrandbits(32)):
            assert _zeros_crc(crc, length) == zlib.crc32(bytes(length), crc)


# -- random access, determinism, one pass ------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [SMALL, ModelSpec(size=MIB, compression="gzip", frame_size=100_000, seed=2),
     ModelSpec(size=MIB, compression="gzip", gzip_members=True, frame_size=200_000)],
    ids=["zstd", "gzip", "gzip-members"],
)  # fmt: skip
def test_any_range_is_the_same_slice_of_the_whole(spec: ModelSpec) -> None:
    archive = ModelArchive(spec)
    data = whole(archive)
    assert len(data) == archive.size
    assert hashlib.sha256(data).hexdigest() == archive.sha256
    rng = random.Random(1)
    edges = [(o + d, 1 + rng.randrange(3 * spec.frame_size))
             for o in archive.index.offsets[1:-1] for d in (-1, 0, 1)]  # fmt: skip
    ranges = [(0, 1), (archive.size - 1, 1), (0, archive.size), *edges]
    ranges += [(start := rng.randrange(archive.size), rng.randrange(1, archive.size - start + 1))
               for _ in range(40)]  # fmt: skip
    for start, length in ranges:
        assert archive.read(start, length) == data[start : start + length], (start, length)
    fresh = ModelArchive(spec)  # no cached frames: ranges made from nothing
    assert fresh.read(archive.size - 7, 7) == data[-7:]


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_weights() -> None:
    one, again = ModelArchive(SMALL), ModelArchive(ModelSpec(**{**vars(SMALL)}))
    assert whole(one) == whole(again)
    assert one.digests() == again.digests()
    other = ModelArchive(ModelSpec(**{**vars(SMALL), "seed": 12}))
    assert other.sha256 != one.sha256
    mine, theirs = one.digests(), other.digests()
    assert mine["model/config.json"] == theirs["model/config.json"]
    shard = "model/model-00001-of-00002.safetensors"
    assert mine[shard].size == theirs[shard].size
    assert mine[shard].sha256 != theirs[shard].sha256


def test_a_gib_archive_is_indexed_in_one_pass_in_little_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    archive = ModelArchive(ModelSpec(size=GIB, seed=3))
    read: list[tuple[int, int]] = []
    original = TarLayout.read

    def counted(tar: TarLayout, start: int, end: int) -> bytes:
        read.append((start, end))
        return original(tar, start, end)

    monkeypatch.setattr(TarLayout, "read", counted)
    tracemalloc.start()
    try:
        size = archive.size
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > GIB
    assert peak < 64 * MIB, f"indexing a GiB archive peaked at {peak / MIB:.1f} MiB"
    # one pass: every byte of the tar read once, in order, one frame at a time
    assert read == [(n * MIB, min(archive.tar.size, (n + 1) * MIB)) for n in range(len(read))]
    assert read[-1][1] == archive.tar.size
    assert len(archive.index.offsets) == archive.frames + 1
    read.clear()
    assert len(archive.read(size - 10, 10)) == 10
    assert len(read) == 1  # a range makes only the frame it overlaps
