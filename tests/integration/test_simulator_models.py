"""The simulator serving real model archives over HTTP: sizes and types as Together names
them, any byte range the slice of the whole compressed archive, the digests it claims,
and opaque archives exactly as before."""

import hashlib
import io
import random
import tarfile

import pytest
import requests
import zstandard

from ft_archiver_tools.local.model_archive import KIB, MIB
from ft_archiver_tools.local.simulator import ModelSpec, SimArchive, TogetherSimulator


def fetch(url: str, byte_range: str | None = None) -> requests.Response:
    headers = {"Range": byte_range} if byte_range else {}
    answer = requests.get(url, headers=headers, timeout=30)
    assert answer.status_code == (206 if byte_range else 200), answer.text[:200]
    return answer


def download_url(sim: TogetherSimulator, job_id: str, checkpoint: str) -> str:
    """Where the download endpoint sends a client (or itself, when it answers directly)."""
    query = f"{sim.base_url}/finetune/download?ft_id={job_id}&checkpoint={checkpoint}"
    head = requests.head(query, headers={"Authorization": f"Bearer {sim.api_key}"}, timeout=5,
                         allow_redirects=False)  # fmt: skip
    return head.headers["Location"] if head.status_code == 302 else query


def test_a_lora_job_serves_a_merged_model_and_its_adapter(together: TogetherSimulator) -> None:
    spec = ModelSpec(size=4 * MIB, seed=21, frame_size=256 * KIB)
    job = together.add_job("Lora", model=spec, download="redirect")
    merged, adapter = job.final["merged"], job.final["adapter"]
    assert merged.model == spec
    assert adapter.model is not None
    assert adapter.model.variant == "adapter"
    model = together.model_archive(merged)
    assert merged.size == model.size
    assert merged.content_type == "application/zstd"
    for archive in (merged, adapter):
        url = together.blob_url(archive)
        head = requests.head(url, timeout=5)
        assert head.headers["Content-Length"] == str(archive.size)
        assert head.headers["Content-Type"] == "application/zstd"
        assert head.headers["ETag"] == archive.etag
        body = fetch(url).content
        assert hashlib.sha256(body).hexdigest() == together.sha256(archive)
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body),
                                                            read_across_frames=True)  # fmt: skip
        digests = together.model_archive(archive).digests()
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            seen = {}
            for info in tar:
                extracted = tar.extractfile(info)
                if extracted is not None:
                    seen[info.name] = hashlib.sha256(extracted.read()).hexdigest()
        assert seen == {name: digest.sha256 for name, digest in digests.items()}
    assert "model/adapter_config.json" in together.model_archive(adapter).digests()


def test_any_range_over_http_is_the_slice_of_the_whole(together: TogetherSimulator) -> None:
    spec = ModelSpec(size=3 * MIB, seed=22, frame_size=200_000)
    job = together.add_job("Full", model=spec, download="direct")
    archive = job.final["model_output_path"]
    url = download_url(together, job.id, "model_output_path")
    assert url.startswith(together.base_url)  # the API host answers with the bytes
    model = together.model_archive(archive)
    data = b"".join(model.iter_compressed())
    size = archive.size
    rng = random.Random(7)
    edges = [(o + d, 1 + rng.randrange(500_000)) for o in model.index.offsets[1:-1:3]
             for d in (-1, 0)]  # fmt: skip
    ranges = [(0, 1), (size - 1, 1), (0, 2), *edges]
    ranges += [(start := rng.randrange(size), rng.randrange(1, size - start + 1))
               for _ in range(12)]  # fmt: skip
    authorized = {"Authorization": f"Bearer {together.api_key}"}
    for start, length in ranges:
        answer = requests.get(url, timeout=30, headers={
            **authorized, "Range": f"bytes={start}-{start + length - 1}"})  # fmt: skip
        assert answer.status_code == 206
        assert answer.headers["Content-Range"] == f"bytes {start}-{start + length - 1}/{size}"
        assert answer.content == data[start : start + length], (start, length)
    suffix = requests.get(url, headers={**authorized, "Range": "bytes=-5"}, timeout=5)
    assert suffix.content == data[-5:]
    beyond = requests.get(url, headers={**authorized, "Range": f"bytes={size}-"}, timeout=5)
    assert beyond.status_code == 416


def test_a_tar_gz_model_is_served_as_together_names_it(together: TogetherSimulator) -> None:
    spec = ModelSpec(size=MIB, seed=23, compression="gzip", frame_size=300_000)
    job = together.add_job("Full", model=spec)
    archive = job.final["model_output_path"]
    assert archive.content_type == "application/x-tar"  # DESIGN.md: x-tar names a .tar.gz
    url = together.blob_url(archive)
    assert requests.head(url, timeout=5).headers["Content-Type"] == "application/x-tar"
    body = fetch(url).content
    assert hashlib.sha256(body).hexdigest() == together.sha256(archive)
    with tarfile.open(fileobj=io.BytesIO(body), mode="r|gz") as tar:
        names = [info.name for info in tar]
    assert names == [member.name.rstrip("/") for member in together.model_archive(spec).members]
    middle = fetch(url, "bytes=299990-300020").content
    assert middle == body[299990:300021]


def test_steps_are_models_of_their_sizes(together: TogetherSimulator) -> None:
    spec = ModelSpec(size=MIB, seed=24)
    job = together.add_job("Lora", model=spec, steps={10: 512 * KIB, 20: 2 * MIB})
    models = {step: together.model_archive(archive) for step, archive in job.steps.items()}
    assert [model.spec.variant for model in models.values()] == ["merged", "merged"]
    totals = {step: sum(m.size for m in model.files) for step, model in models.items()}
    assert totals[10] < totals[20]
    assert len({archive.etag for archive in [*job.steps.values(), *job.final.values()]}) == 4


def test_a_hostile_model_is_served_with_its_member(together: TogetherSimulator) -> None:
    job = together.add_job("Full", model=ModelSpec(size=256 * KIB, variant="symlink"))
    archive = job.final["model_output_path"]
    body = fetch(together.blob_url(archive)).content
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body), read_across_frames=True)
    with tarfile.open(fileobj=reader, mode="r|") as tar:
        links = [(info.name, info.linkname) for info in tar if info.issym()]
    assert links == [("model/link", "/etc/passwd")]


def test_opaque_archives_are_as_before(together: TogetherSimulator) -> None:
    job = together.add_job("Lora", size=5000)
    merged = job.final["merged"]
    assert merged == SimArchive(5000, merged.seed, "application/zstd")
    assert merged.model is None
    assert merged.etag == f'"{merged.seed:016x}-{5000:x}"'
    with pytest.raises(ValueError, match="opaque"):
        together.model_archive(merged)


def test_the_index_is_built_once_per_model(together: TogetherSimulator) -> None:
    spec = ModelSpec(size=MIB, seed=25)
    first = together.archive_of(spec)
    assert together.archive_of(spec) == first
    assert together.model_archive(first) is together.model_archive(spec)
