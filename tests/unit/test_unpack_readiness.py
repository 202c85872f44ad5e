"""What an unpacked model is ready for: safetensors headers checked as the reference
parser checks them, and the verdicts for the models a pipeline meets (a ready Llama, an
adapter, a ``.bin`` model, one too large for Bedrock, an unsupported architecture, one
without a tokenizer)."""

import json
import math
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ft_archiver.domain.unpack.readiness import (
    Readiness,
    TargetReadiness,
    context_length,
    readiness,
    weight_format,
)
from ft_archiver.domain.unpack.safetensors import (
    SAFETENSORS_DTYPE_BITS,
    SAFETENSORS_MAX_HEADER,
    SafetensorsHeader,
    SafetensorsProblem,
    safetensors_header,
    safetensors_header_length,
)

PROPERTIES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GB = 10**9


def encode(header: object, pad: int = 0) -> bytes:
    """A safetensors file's first bytes: the 8-byte length, then the JSON."""
    text = (header if isinstance(header, str) else json.dumps(header)).encode() + b" " * pad
    return struct.pack("<Q", len(text)) + text


def tensors(*specs: tuple[str, str, list[int]]) -> dict[str, Any]:
    """Tensors laid end to end, as a writer lays them."""
    header: dict[str, Any] = {}
    position = 0
    for name, dtype, shape in specs:
        size = math.prod(shape) * SAFETENSORS_DTYPE_BITS[dtype] // 8
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [position, position + size]}
        position += size
    return header


def data_size(header: dict[str, Any]) -> int:
    ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"]
    return max(ends, default=0)


def check(
    header: dict[str, Any], extra: int = 0, pad: int = 0
) -> SafetensorsHeader | SafetensorsProblem:
    first = encode(header, pad)
    return safetensors_header(first, len(first) + data_size(header) + extra)


def problem(result: SafetensorsHeader | SafetensorsProblem) -> SafetensorsProblem:
    assert isinstance(result, SafetensorsProblem), result
    return result


# --- safetensors headers ------------------------------------------------------------


def test_a_valid_header() -> None:
    header = tensors(("embed", "BF16", [4, 8]), ("norm", "F32", [8]), ("scale", "F8_E4M3", [3]))
    header["__metadata__"] = {"format": "pt"}
    result = check(header, pad=5)  # writers pad the JSON with spaces to align the data
    assert result == SafetensorsHeader(
        header_size=len(encode(header, 5)) - 8,
        tensor_count=3,
        dtypes=("BF16", "F32", "F8_E4M3"),
        parameters=32 + 8 + 3,
        data_bytes=64 + 32 + 3,
        format="pt",
    )


def test_the_reference_parsers_own_example() -> None:
    """tensor.rs's doc example: one I32 [2, 2] tensor, 16 bytes of data."""
    first = (
        b'<\x00\x00\x00\x00\x00\x00\x00{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}'
    )
    result = safetensors_header(first, len(first) + 16)
    assert isinstance(result, SafetensorsHeader)
    assert (result.tensor_count, result.parameters, result.data_bytes) == (1, 4, 16)


def test_an_empty_header_and_empty_tensors_are_valid() -> None:
    assert isinstance(check({}), SafetensorsHeader)
    empty = check(tensors(("zero", "F16", [0, 4]), ("scalar", "F32", [])))
    assert isinstance(empty, SafetensorsHeader)
    assert (empty.parameters, empty.data_bytes) == (1, 4)


def test_tensors_in_any_order_in_the_json() -> None:
    header = tensors(("a", "F16", [2]), ("b", "F16", [2]))
    reordered = {"b": header["b"], "a": header["a"]}
    assert isinstance(check(reordered), SafetensorsHeader)


@pytest.mark.parametrize("first", [b"", b"\x10\x00\x00"])
def test_fewer_than_eight_bytes_is_truncated(first: bytes) -> None:
    assert problem(safetensors_header(first, 100)).code == "truncated"
    assert isinstance(safetensors_header_length(first), SafetensorsProblem)


def test_a_header_running_past_the_file_is_truncated() -> None:
    first = encode(tensors(("a", "F16", [2])))
    found = problem(safetensors_header(first, len(first) - 1))
    assert found.code == "truncated"
    assert "runs past the end" in found.message


def test_too_few_bytes_read_is_truncated_and_says_how_many_are_needed() -> None:
    first = encode(tensors(("a", "F16", [2])))
    assert safetensors_header_length(first[:8]) == len(first)
    found = problem(safetensors_header(first[:-1], len(first) + 4))
    assert (found.code, f"of the header's {len(first)} bytes" in found.message) == (
        "truncated",
        True,
    )


@pytest.mark.parametrize("extra", [1, -1, 1000])
def test_offsets_that_do_not_end_at_the_file_size(extra: int) -> None:
    found = problem(check(tensors(("a", "F16", [2, 2])), extra=extra))
    assert found.code == "size_mismatch"
    assert f"holds {8 + extra} bytes of data" in found.message


def test_overlapping_tensors() -> None:
    header = tensors(("a", "F16", [4]), ("b", "F16", [4]))
    header["b"]["data_offsets"] = [4, 12]  # starts inside a
    found = problem(safetensors_header(encode(header), len(encode(header)) + 12))
    assert found.code == "invalid_offsets"
    assert "'b'" in found.message
    assert "overlaps" in found.message


def test_a_gap_between_tensors_and_a_first_tensor_not_at_zero() -> None:
    header = tensors(("a", "F16", [4]))
    header["a"]["data_offsets"] = [2, 10]
    found = problem(safetensors_header(encode(header), len(encode(header)) + 10))
    assert (found.code, "leaves a gap" in found.message) == ("invalid_offsets", True)


def test_offsets_that_disagree_with_shape_and_dtype() -> None:
    header = tensors(("a", "F32", [4]))
    header["a"]["data_offsets"] = [0, 8]  # 4 F32 are 16 bytes
    found = problem(safetensors_header(encode(header), len(encode(header)) + 8))
    assert found.code == "invalid_tensor"
    assert "needs 16 bytes" in found.message


def test_sub_byte_dtypes_must_fill_whole_bytes() -> None:
    assert isinstance(check(tensors(("q", "F4", [4]))), SafetensorsHeader)  # 16 bits
    odd = {"q": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}
    assert problem(safetensors_header(encode(odd), len(encode(odd)) + 2)).code == "invalid_tensor"


@pytest.mark.parametrize("dtype", ["F128", "float16", "bf16", None, 3])
def test_unknown_dtype(dtype: object) -> None:
    header = {"a": {"dtype": dtype, "shape": [1], "data_offsets": [0, 2]}}
    found = problem(safetensors_header(encode(header), len(encode(header)) + 2))
    assert found.code == "unknown_dtype"
    assert "'a'" in found.message


def test_header_too_long() -> None:
    at_limit = struct.pack("<Q", SAFETENSORS_MAX_HEADER)
    assert safetensors_header_length(at_limit) == 8 + SAFETENSORS_MAX_HEADER
    over = struct.pack("<Q", SAFETENSORS_MAX_HEADER + 1)
    assert problem(safetensors_header(over, 10**12)).code == "too_large"
    assert problem(safetensors_header(b"\xff" * 8, 10**12)).code == "too_large"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"a": ', "invalid_json"),
        ("[]", "invalid_json"),
        ('{"a": {"dtype": "F16", "shape": [1], "data_offsets": [0, 2]}, "a": {}}', "invalid_json"),
        ('{"a": {"dtype": "F16", "shape": [NaN], "data_offsets": [0, 2]}}', "invalid_json"),
        ('{"__metadata__": {"format": 1}}', "invalid_json"),
        ('{"a": 1}', "invalid_tensor"),
        ('{"a": {"dtype": "F16", "shape": [-1], "data_offsets": [0, 2]}}', "invalid_tensor"),
        ('{"a": {"dtype": "F16", "shape": [true], "data_offsets": [0, 2]}}', "invalid_tensor"),
        ('{"a": {"dtype": "F16", "shape": [1], "data_offsets": [2, 0]}}', "invalid_offsets"),
        ('{"a": {"dtype": "F16", "shape": [1], "data_offsets": [0]}}', "invalid_offsets"),
        ('{"a": {"dtype": "F16", "shape": [1]}}', "invalid_offsets"),
    ],
)
def test_malformed_headers(text: str, code: str) -> None:
    first = encode(text)
    assert problem(safetensors_header(first, len(first) + 2)).code == code


def test_a_header_that_is_not_utf8() -> None:
    first = struct.pack("<Q", 4) + b'{"\xff}'
    assert problem(safetensors_header(first, 12)).code == "invalid_utf8"


dtypes = st.sampled_from(sorted(SAFETENSORS_DTYPE_BITS))
# Multiples of 4 elements, so that F4 and F6 tensors fill whole bytes, as writers make them.
shapes = st.lists(st.integers(0, 6), min_size=1, max_size=3).map(lambda s: [s[0] * 4, *s[1:]])


@PROPERTIES
@given(st.lists(st.tuples(dtypes, shapes), max_size=6), st.integers(0, 7))
def test_any_file_a_writer_lays_out_is_valid(specs: list[tuple[str, list[int]]], pad: int) -> None:
    header = tensors(*((f"t{i}", dtype, shape) for i, (dtype, shape) in enumerate(specs)))
    result = check(header, pad=pad)
    assert isinstance(result, SafetensorsHeader)
    assert result.tensor_count == len(specs)
    assert result.data_bytes == data_size(header)
    assert result.parameters == sum(math.prod(shape) for _, shape in specs)


@PROPERTIES
@given(st.binary(max_size=200), st.integers(0, 400))
def test_any_bytes_give_a_header_or_a_problem(first: bytes, file_size: int) -> None:
    result = safetensors_header(first, file_size)
    assert isinstance(result, SafetensorsHeader | SafetensorsProblem)
    if isinstance(result, SafetensorsHeader):
        assert 8 + result.header_size + result.data_bytes == file_size


# --- readiness ----------------------------------------------------------------------

LLAMA = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "max_position_embeddings": 131072,
    "torch_dtype": "bfloat16",
}
TOKENIZER = {"tokenizer_class": "PreTrainedTokenizerFast"}
ADAPTER = {"peft_type": "LORA", "r": 64, "base_model_name_or_path": "meta-llama/Llama-3.1-8B"}
SHARDS = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
SUPPORT = [("config.json", 700), ("generation_config.json", 180), ("tokenizer.json", 9_000_000),
           ("tokenizer_config.json", 50_000), ("special_tokens_map.json", 300),
           ("model.safetensors.index.json", 24_000)]  # fmt: skip


def valid(data_bytes: int, parameters: int = 1) -> SafetensorsHeader:
    return SafetensorsHeader(
        header_size=1000,
        tensor_count=1,
        dtypes=("BF16",),
        parameters=parameters,
        data_bytes=data_bytes,
    )


def merged(
    shard_bytes: int = 5 * GB,
    config: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    tokenizer_config: dict[str, Any] | None = None,
) -> Readiness:
    files = [(p, s) for p, s in SUPPORT if p not in drop] + [(p, shard_bytes) for p in SHARDS]
    headers = {p: valid(shard_bytes - 1008, parameters=7) for p in SHARDS}
    return readiness(
        files, LLAMA if config is None else config, None, headers, tokenizer_config or TOKENIZER
    )


def ready(verdict: TargetReadiness) -> bool:
    assert verdict.ready == (not verdict.reasons)
    return verdict.ready


def reasons(verdict: TargetReadiness) -> str:
    return " | ".join(verdict.reasons)


def test_a_merged_llama_is_ready_for_every_model_target() -> None:
    result = merged()
    assert ready(result.bedrock_custom_model_import), result.bedrock_custom_model_import
    assert ready(result.sagemaker_uncompressed)
    assert ready(result.vllm_runai_streamer)
    assert not ready(result.vllm_lora)
    assert "not a LoRA adapter" in reasons(result.vllm_lora)
    facts = result.facts
    assert facts.architectures == ("LlamaForCausalLM",)
    assert (facts.model_type, facts.context_length, facts.torch_dtype) == (
        "llama",
        131072,
        "bfloat16",
    )
    assert facts.weight_formats == ("safetensors",)
    assert (facts.weight_files, facts.weight_bytes, facts.parameters) == (2, 10 * GB, 14)
    assert facts.tokenizer_files == (
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    )
    assert facts.is_adapter is False
    assert facts.files == 8


def test_readiness_is_json_for_the_index_and_the_event() -> None:
    result = merged()
    document = json.loads(result.model_dump_json())
    assert document["bedrock_custom_model_import"] == {"ready": True, "reasons": [], "notes": []}
    assert document["facts"]["architectures"] == ["LlamaForCausalLM"]
    assert Readiness.model_validate_json(result.model_dump_json()) == result


def test_an_adapter_is_ready_for_vllm_lora_only() -> None:
    files = [("adapter_config.json", 800), ("adapter_model.safetensors", 160_000_000),
             ("tokenizer.json", 9_000_000), ("tokenizer_config.json", 50_000)]  # fmt: skip
    headers = {"adapter_model.safetensors": valid(160_000_000 - 1008)}
    result = readiness(files, None, ADAPTER, headers, TOKENIZER)
    assert ready(result.vllm_lora), result.vllm_lora
    assert "--max-lora-rank 64" in " ".join(result.vllm_lora.notes)
    assert "meta-llama/Llama-3.1-8B" in " ".join(result.vllm_lora.notes)
    assert not ready(result.bedrock_custom_model_import)
    assert "LoRA adapter" in reasons(result.bedrock_custom_model_import)
    assert not ready(result.vllm_runai_streamer)
    assert "see vllm_lora" in reasons(result.vllm_runai_streamer)
    assert not ready(result.sagemaker_uncompressed)
    facts = result.facts
    assert (facts.is_adapter, facts.lora_rank, facts.base_model) == (
        True,
        64,
        "meta-llama/Llama-3.1-8B",
    )


def test_an_adapter_without_safetensors_or_of_another_kind() -> None:
    files = [("adapter_config.json", 800), ("adapter_model.bin", 160_000_000)]
    result = readiness(files, None, {"peft_type": "IA3", "r": 8}, {})
    assert not ready(result.vllm_lora)
    assert "no adapter_model.safetensors (there is adapter_model.bin)" in reasons(result.vllm_lora)
    assert "peft_type is IA3" in reasons(result.vllm_lora)


def test_a_bin_model_is_for_sagemaker_but_not_the_streamer_or_bedrock() -> None:
    files = [*SUPPORT, ("pytorch_model.bin", 16 * GB), ("training_args.bin", 5000)]
    result = readiness(files, LLAMA, None, {}, TOKENIZER)
    assert ready(result.sagemaker_uncompressed), result.sagemaker_uncompressed
    assert not ready(result.vllm_runai_streamer)
    assert ".bin files, not .safetensors" in reasons(result.vllm_runai_streamer)
    assert not ready(result.bedrock_custom_model_import)
    assert ".bin files, not .safetensors" in reasons(result.bedrock_custom_model_import)
    assert result.facts.weight_formats == ("pytorch_bin",)
    assert result.facts.weight_bytes == 16 * GB  # training_args.bin holds no weights
    assert result.facts.parameters is None


def test_an_oversized_model_is_not_for_bedrock() -> None:
    result = merged(shard_bytes=101 * GB)  # 202 GB of weights
    assert not ready(result.bedrock_custom_model_import)
    assert "under 200 GB" in reasons(result.bedrock_custom_model_import)
    assert ready(result.sagemaker_uncompressed)
    assert ready(result.vllm_runai_streamer)


def test_bedrocks_size_limit_at_its_boundary() -> None:
    assert ready(merged(shard_bytes=100 * GB - 1).bedrock_custom_model_import)
    assert not ready(merged(shard_bytes=100 * GB).bedrock_custom_model_import)  # 200 GB
    mllama = {"architectures": ["MllamaForConditionalGeneration"], "model_type": "mllama",
              "text_config": {"max_position_embeddings": 131072}}  # fmt: skip
    assert ready(merged(shard_bytes=50 * GB - 1, config=mllama).bedrock_custom_model_import)
    large = merged(shard_bytes=50 * GB, config=mllama).bedrock_custom_model_import
    assert "multimodal models under 100 GB" in reasons(large)


@pytest.mark.parametrize(
    "config",
    [
        {"architectures": ["GemmaForCausalLM"], "model_type": "gemma"},
        {"architectures": ["Qwen3ForSequenceClassification"], "model_type": "qwen3"},
        {"architectures": ["LlamaModel"], "model_type": "llama"},  # an embedding model
        {"architectures": ["LlamaForCausalLM", "GemmaForCausalLM"]},
        {"model_type": "phi3"},
        {},
    ],
)
def test_an_unsupported_architecture_is_not_for_bedrock(config: dict[str, Any]) -> None:
    result = merged(config=config)
    assert not ready(result.bedrock_custom_model_import)
    assert "is not one Custom Model Import supports" in reasons(result.bedrock_custom_model_import)
    assert ready(result.vllm_runai_streamer)
    assert ready(result.sagemaker_uncompressed)


@pytest.mark.parametrize(
    ("config", "note"),
    [
        ({"architectures": ["Qwen3ForCausalLM"]}, "Converse"),
        ({"architectures": ["Qwen3MoeForCausalLM"]}, "Converse"),
        ({"architectures": ["GptOssForCausalLM"]}, "US East (N. Virginia)"),
        ({"architectures": ["MistralForCausalLM"]}, ""),
        ({"architectures": ["T5ForConditionalGeneration"]}, ""),  # Flan-T5
        ({"model_type": "qwen2"}, ""),  # no architectures: the model_type decides
    ],
)
def test_supported_architectures(config: dict[str, Any], note: str) -> None:
    verdict = merged(config=config).bedrock_custom_model_import
    assert ready(verdict), verdict
    assert note in " ".join(verdict.notes)


def test_a_missing_tokenizer() -> None:
    result = merged(drop=("tokenizer.json",))
    assert not ready(result.bedrock_custom_model_import)
    assert "no tokenizer.json or tokenizer.model" in reasons(result.bedrock_custom_model_import)
    assert not ready(result.vllm_runai_streamer)
    assert "no tokenizer" in reasons(result.vllm_runai_streamer)
    assert ready(result.sagemaker_uncompressed)
    no_config = merged(drop=("tokenizer_config.json",)).bedrock_custom_model_import
    assert "no tokenizer_config.json" in reasons(no_config)


def test_a_tokenizer_bedrock_does_not_support() -> None:
    verdict = merged(tokenizer_config={"tokenizer_class": "GemmaTokenizerFast"})
    assert "tokenizer_class GemmaTokenizerFast" in reasons(verdict.bedrock_custom_model_import)


def test_bedrocks_context_limit() -> None:
    long = merged(config={**LLAMA, "max_position_embeddings": 131073})
    assert "context length 131073" in reasons(long.bedrock_custom_model_import)
    assert ready(long.vllm_runai_streamer)


def test_a_header_that_failed_or_was_not_checked() -> None:
    files = [*SUPPORT, *((p, 5 * GB) for p in SHARDS)]
    bad = SafetensorsProblem(code="size_mismatch", message="the tensors end at byte 3")
    result = readiness(files, LLAMA, None, {SHARDS[0]: bad}, TOKENIZER)
    for verdict in (result.bedrock_custom_model_import, result.vllm_runai_streamer,
                    result.sagemaker_uncompressed):  # fmt: skip
        assert not ready(verdict)
        assert f"{SHARDS[0]}: not a valid safetensors file" in reasons(verdict)
        assert f"{SHARDS[1]}: its safetensors header was not checked" in reasons(verdict)
    assert result.facts.parameters is None


def test_config_in_a_subfolder_or_not_json() -> None:
    files = [("model/config.json", 700), ("model/model.safetensors", 100)]
    result = readiness(files, None, None, {})
    assert "(there is 'model/config.json'" in reasons(result.sagemaker_uncompressed)
    listed = readiness([("config.json", 3), ("model.safetensors", 100)], None, None, {})
    assert "config.json is not a JSON object" in reasons(listed.vllm_runai_streamer)


def test_shards_without_their_index_are_noted() -> None:
    verdict = merged(drop=("model.safetensors.index.json",)).sagemaker_uncompressed
    assert ready(verdict)
    assert "without model.safetensors.index.json" in " ".join(verdict.notes)


@pytest.mark.parametrize(
    ("config", "length"),
    [
        ({"max_position_embeddings": 4096}, 4096),
        ({"n_positions": 1024}, 1024),
        ({"seq_length": 2048}, 2048),
        ({"max_seq_len": 8192}, 8192),
        ({"text_config": {"max_position_embeddings": 131072}}, 131072),
        ({"max_position_embeddings": True}, None),
        ({"max_position_embeddings": "4096"}, None),
        ({}, None),
    ],
)
def test_context_length(config: dict[str, Any], length: int | None) -> None:
    assert context_length(config) == length


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("model-00001-of-00002.safetensors", "safetensors"),
        ("pytorch_model.bin", "pytorch_bin"),
        ("consolidated.00.pth", "pytorch"),
        ("model.gguf", "gguf"),
        ("training_args.bin", None),
        ("optimizer.pt", None),
        ("rng_state_3.pth", None),
        ("config.json", None),
    ],
)
def test_weight_formats(path: str, kind: str | None) -> None:
    assert weight_format(path) == kind


def test_a_verdict_cannot_be_ready_with_reasons() -> None:
    with pytest.raises(ValidationError):
        TargetReadiness(ready=True, reasons=("no config.json",))
    with pytest.raises(ValidationError):
        TargetReadiness(ready=False)
