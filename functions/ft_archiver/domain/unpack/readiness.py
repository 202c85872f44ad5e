"""What an unpacked model folder is ready for, judged from its files alone. Pure.

No weights are loaded: the verdicts come from the list of files (relative path and
size), the parsed small JSON files (``config.json``, ``adapter_config.json``,
``tokenizer_config.json``) and each ``.safetensors`` file's header, which the unpacker
reads from the first bytes of the file as it streams by (``safetensors.py``). The
result (``Readiness``) goes into the folder's index and the ``Fine-tune Unpacked``
event, so a pipeline can route the model without opening it.

Only files at the top of the folder count: that is where every loader below looks (a
Llama repository's ``original/consolidated.00.pth`` is not read by any of them).

Targets, and what each needs:

- ``bedrock_custom_model_import``: Amazon Bedrock Custom Model Import. Source: "Use
  Custom model import to import a customized open-source model into Amazon Bedrock"
  (https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-import-model.html),
  sections "Supported architectures", "Import a model source from Amazon S3" and
  "Supported tokenizers": Hugging Face files (``.safetensors`` weights, ``config.json``,
  ``tokenizer_config.json``, ``tokenizer.json`` and/or ``tokenizer.model``); one of the
  listed architectures; weights under 200 GB for text models and 100 GB for multimodal
  ones; a context under 128K; not an adapter (it imports whole models) and not an
  embedding model (no listed architecture is one).
- ``sagemaker_uncompressed``: SageMaker hosting from ``S3DataType=S3Prefix``,
  ``CompressionType=None`` ("Deploying uncompressed models",
  https://docs.aws.amazon.com/sagemaker/latest/dg/large-model-inference-uncompressed.html):
  the files under a prefix ending in '/', ``config.json`` and weights at its top.
- ``vllm_runai_streamer``: vLLM's ``--load-format runai_streamer``, which streams
  ``.safetensors`` from ``s3://bucket/prefix/`` ("Loading models with Run:ai Model
  Streamer", https://docs.vllm.ai/en/latest/models/extensions/runai_model_streamer.html):
  safetensors only, so ``.bin`` weights do not work; ``config.json`` and the tokenizer
  beside them.
- ``vllm_lora``: a LoRA adapter vLLM serves on top of its base model (``--lora-modules``,
  "LoRA Adapters", https://docs.vllm.ai/en/latest/features/lora.html):
  ``adapter_config.json`` and ``adapter_model.safetensors``.
"""

import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from ft_archiver.domain.unpack.safetensors import SafetensorsHeader, SafetensorsProblem

# Bedrock Custom Model Import, "Supported architectures": config.json's ``architectures``
# entry -> the family the page lists. Flan is T5's architecture; Qwen2.5 is Qwen2's;
# "For Qwen3 architecture, only Qwen3ForCausalLM and Qwen3MoeForCausalLM are supported".
BEDROCK_ARCHITECTURES: Mapping[str, str] = {
    "MistralForCausalLM": "Mistral",
    "MixtralForCausalLM": "Mixtral",
    "T5ForConditionalGeneration": "Flan",
    "LlamaForCausalLM": "Llama",
    "MllamaForConditionalGeneration": "Mllama",
    "GPTBigCodeForCausalLM": "GPTBigCode",
    "Qwen2ForCausalLM": "Qwen2",
    "Qwen2VLForConditionalGeneration": "Qwen2-VL",
    "Qwen2_5_VLForConditionalGeneration": "Qwen2.5-VL",
    "Qwen3ForCausalLM": "Qwen3",
    "Qwen3MoeForCausalLM": "Qwen3",
    "GptOssForCausalLM": "GPT-OSS",
}
# The same families by ``model_type``, for a config.json without ``architectures``.
BEDROCK_MODEL_TYPES: Mapping[str, str] = {
    "mistral": "Mistral",
    "mixtral": "Mixtral",
    "t5": "Flan",
    "llama": "Llama",
    "mllama": "Mllama",
    "gpt_bigcode": "GPTBigCode",
    "qwen2": "Qwen2",
    "qwen2_vl": "Qwen2-VL",
    "qwen2_5_vl": "Qwen2.5-VL",
    "qwen3": "Qwen3",
    "qwen3_moe": "Qwen3",
    "gpt_oss": "GPT-OSS",
}
BEDROCK_MULTIMODAL = frozenset({"Mllama", "Qwen2-VL", "Qwen2.5-VL"})
# "The size of the imported model weights must be less than 100GB for multimodal models
# and 200GB for text models": decimal GB, the stricter reading.
BEDROCK_MAX_TEXT_WEIGHTS = 200 * 10**9
BEDROCK_MAX_MULTIMODAL_WEIGHTS = 100 * 10**9
# "The maximum positional embeddings or the maximum context length supported by the
# model should be less than 128K." Llama 3.1 to 3.3, listed as supported, have 131,072
# (128 Ki): the limit is read as at most 131,072.
BEDROCK_MAX_CONTEXT = 128 * 1024
# "Supported tokenizers" (tokenizer_config.json's ``tokenizer_class``).
BEDROCK_TOKENIZERS = frozenset({
    "T5Tokenizer", "T5TokenizerFast", "LlamaTokenizer", "LlamaTokenizerFast",
    "CodeLlamaTokenizer", "CodeLlamaTokenizerFast", "GPT2Tokenizer", "GPT2TokenizerFast",
    "GPTNeoXTokenizer", "GPTNeoXTokenizerFast", "PreTrainedTokenizer",
    "PreTrainedTokenizerFast", "Qwen2Tokenizer", "Qwen2TokenizerFast",
})  # fmt: skip
# Converse is not offered for these (the page above, and "Invoke your imported model").
BEDROCK_NO_CONVERSE = frozenset({"Qwen2-VL", "Qwen2.5-VL", "Qwen3", "GPT-OSS"})
# vLLM's LoRAConfig.max_lora_rank default: a higher rank needs --max-lora-rank.
VLLM_DEFAULT_MAX_LORA_RANK = 16

# config.json keys that hold the context length, in the order models use them.
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "seq_length", "max_seq_len",
                "max_sequence_length", "n_ctx")  # fmt: skip
TOKENIZER_FILES = frozenset({
    "tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
    "vocab.json", "merges.txt", "vocab.txt", "spiece.model", "added_tokens.json",
    "chat_template.jinja", "chat_template.json",
})  # fmt: skip
# Files a tokenizer can be built from (AutoTokenizer), for the vLLM targets.
TOKENIZER_SOURCES = ("tokenizer.json", "tokenizer.model", "vocab.json", "spiece.model",
                     "vocab.txt")  # fmt: skip
# Weight-like extensions that hold trainer state, not the model (Hugging Face Trainer
# checkpoints): never counted as weights.
TRAINING_STATE = frozenset({"training_args.bin", "optimizer.pt", "optimizer.bin",
                            "scheduler.pt", "scaler.pt"})  # fmt: skip
WEIGHT_EXTENSIONS: Mapping[str, str] = {
    ".safetensors": "safetensors",
    ".bin": "pytorch_bin",
    ".pt": "pytorch",
    ".pth": "pytorch",
    ".gguf": "gguf",
    ".h5": "tensorflow_h5",
    ".msgpack": "flax_msgpack",
}
SAFETENSORS = "safetensors"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
SHARD_INDEX = "model.safetensors.index.json"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ----------------------------------------------------------------------------------
# readiness


class ModelFacts(_Frozen):
    """What the files say about the model (top-level files only)."""

    architectures: tuple[str, ...]
    model_type: str | None
    context_length: int | None
    torch_dtype: str | None
    weight_formats: tuple[str, ...]  # e.g. ("safetensors",), ("pytorch_bin",)
    weight_files: int
    weight_bytes: int
    parameters: int | None  # from the safetensors headers, when every one is valid
    tokenizer_files: tuple[str, ...]
    is_adapter: bool
    base_model: str | None  # adapter_config.json's base_model_name_or_path
    lora_rank: int | None  # adapter_config.json's r
    files: int
    total_bytes: int


class TargetReadiness(_Frozen):
    """Ready or not for one target: ``reasons`` say why not (empty when ready),
    ``notes`` what to know that does not stop it."""

    ready: bool
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _ready_means_no_reasons(self) -> "TargetReadiness":
        if self.ready == bool(self.reasons):
            raise ValueError("ready must be true exactly when there are no reasons")
        return self


class Readiness(_Frozen):
    """The facts and one verdict per target."""

    facts: ModelFacts
    bedrock_custom_model_import: TargetReadiness
    sagemaker_uncompressed: TargetReadiness
    vllm_runai_streamer: TargetReadiness
    vllm_lora: TargetReadiness


def _verdict(reasons: list[str], notes: list[str] | None = None) -> TargetReadiness:
    return TargetReadiness(ready=not reasons, reasons=tuple(reasons), notes=tuple(notes or ()))


def weight_format(path: str) -> str | None:
    """The weight format of a file by its name, None for a file that holds no weights
    (trainer state such as ``training_args.bin`` or ``rng_state_0.pth`` included)."""
    name = posixpath.basename(path)
    if name in TRAINING_STATE or (name.startswith("rng_state") and name.endswith(".pth")):
        return None
    return WEIGHT_EXTENSIONS.get(posixpath.splitext(name)[1].lower())


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def _positive_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def context_length(config: Mapping[str, Any]) -> int | None:
    """The context length config.json declares, under whichever name the model uses; a
    multimodal model (Mllama) keeps it in ``text_config``."""
    for where in (config, config.get("text_config")):
        if isinstance(where, Mapping):
            for key in CONTEXT_KEYS:
                found = _positive_int(where.get(key))
                if found is not None:
                    return found
    return None


class _Folder:
    """The top-level files and what the parsed inputs say, shared by every verdict."""

    def __init__(
        self,
        files: Iterable[tuple[str, int]],
        config: Mapping[str, Any] | None,
        adapter_config: Mapping[str, Any] | None,
        headers: Mapping[str, SafetensorsHeader | SafetensorsProblem],
        tokenizer_config: Mapping[str, Any] | None,
    ) -> None:
        listed = [(path, size) for path, size in files]
        self.all_paths = [path for path, _ in listed]
        self.total_bytes = sum(size for _, size in listed)
        self.top = {path: size for path, size in listed if "/" not in path}
        self.config = config if isinstance(config, Mapping) else None
        self.adapter_config = adapter_config if isinstance(adapter_config, Mapping) else None
        self.tokenizer_config = tokenizer_config if isinstance(tokenizer_config, Mapping) else None
        self.weights = {p: f for p in self.top if (f := weight_format(p)) is not None}
        self.safetensors = sorted(p for p, f in self.weights.items() if f == SAFETENSORS)
        self.header_problems = [
            _header_problem(path, headers.get(path)) for path in self.safetensors
        ]
        self.header_problems = [p for p in self.header_problems if p]
        self.is_adapter = ADAPTER_CONFIG in self.top or self.adapter_config is not None
        self.family = self._family()
        self.facts = self._facts(headers)

    def has(self, name: str) -> bool:
        return name in self.top

    def _family(self) -> str | None:
        """The Bedrock family config.json names, None when it names none we know."""
        if self.config is None:
            return None
        architectures = _strings(self.config.get("architectures"))
        if architectures:
            families = {BEDROCK_ARCHITECTURES.get(a) for a in architectures}
            return families.pop() if len(families) == 1 else None
        model_type = self.config.get("model_type")
        return BEDROCK_MODEL_TYPES.get(model_type) if isinstance(model_type, str) else None

    def _facts(self, headers: Mapping[str, SafetensorsHeader | SafetensorsProblem]) -> ModelFacts:
        config = self.config or {}
        adapter = self.adapter_config or {}
        model_type = config.get("model_type")
        dtype = config.get("torch_dtype", config.get("dtype"))
        base = adapter.get("base_model_name_or_path")
        parsed = [headers.get(path) for path in self.safetensors]
        valid = [h for h in parsed if isinstance(h, SafetensorsHeader)]
        return ModelFacts(
            architectures=_strings(config.get("architectures")),
            model_type=model_type if isinstance(model_type, str) else None,
            context_length=context_length(config),
            torch_dtype=dtype if isinstance(dtype, str) else None,
            weight_formats=tuple(sorted(set(self.weights.values()))),
            weight_files=len(self.weights),
            weight_bytes=sum(self.top[p] for p in self.weights),
            parameters=sum(h.parameters for h in valid)
            if valid and len(valid) == len(parsed)
            else None,
            tokenizer_files=tuple(sorted(p for p in self.top if p in TOKENIZER_FILES)),
            is_adapter=self.is_adapter,
            base_model=base if isinstance(base, str) else None,
            lora_rank=_positive_int(adapter.get("r")),
            files=len(self.all_paths),
            total_bytes=self.total_bytes,
        )

    def config_reasons(self) -> list[str]:
        """Why config.json cannot be read at the top of the folder, if it cannot."""
        if not self.has("config.json"):
            nested = sorted(p for p in self.all_paths if posixpath.basename(p) == "config.json")
            where = (
                f" (there is {nested[0]!r}: loaders read the top of the folder)" if nested else ""
            )
            return [f"no config.json at the top of the folder{where}"]
        if self.config is None:
            return ["config.json is not a JSON object"]
        return []

    def safetensors_reasons(self, target: str) -> list[str]:
        """Why the weights are not valid safetensors at the top of the folder."""
        if not self.safetensors:
            others = sorted({posixpath.splitext(p)[1].lower() for p in self.weights})
            if others:
                return [
                    f"the weights are {', '.join(others)} files, not .safetensors, which "
                    f"{target} needs"
                ]
            return [f"no .safetensors weights at the top of the folder, which {target} needs"]
        return list(self.header_problems)

    def shard_notes(self) -> list[str]:
        shards = [p for p in self.safetensors if p != ADAPTER_WEIGHTS]
        if len(shards) > 1 and not self.has(SHARD_INDEX):
            return [
                f"{len(shards)} .safetensors shards without {SHARD_INDEX}: transformers' "
                "from_pretrained needs the index to load shards"
            ]
        return []


def _header_problem(path: str, header: SafetensorsHeader | SafetensorsProblem | None) -> str:
    if header is None:
        return f"{path}: its safetensors header was not checked"
    if isinstance(header, SafetensorsProblem):
        return f"{path}: not a valid safetensors file: {header.message}"
    return ""


def _bedrock(folder: _Folder) -> TargetReadiness:
    reasons: list[str] = []
    notes: list[str] = []
    facts = folder.facts
    if folder.is_adapter:
        reasons.append(
            "a LoRA adapter (adapter_config.json): Custom Model Import imports whole "
            "models; unpack the merged model instead"
        )
    reasons += folder.config_reasons()
    reasons += folder.safetensors_reasons("Custom Model Import")
    if not folder.has("tokenizer_config.json"):
        reasons.append("no tokenizer_config.json at the top of the folder")
    if not (folder.has("tokenizer.json") or folder.has("tokenizer.model")):
        reasons.append("no tokenizer.json or tokenizer.model at the top of the folder")
    if folder.config is not None:
        family = folder.family
        if family is None:
            named = ", ".join(facts.architectures) or facts.model_type or "no architecture"
            reasons.append(
                f"architecture {named} is not one Custom Model Import supports (Mistral, "
                "Mixtral, Flan, Llama, Mllama, GPTBigCode, Qwen2/2.5/2-VL/2.5-VL, "
                "Qwen3ForCausalLM/Qwen3MoeForCausalLM, GPT-OSS)"
            )
        else:
            limit = (
                BEDROCK_MAX_MULTIMODAL_WEIGHTS
                if family in BEDROCK_MULTIMODAL
                else BEDROCK_MAX_TEXT_WEIGHTS
            )
            weights = sum(folder.top[p] for p in folder.safetensors)
            if weights >= limit:
                kind = "multimodal" if family in BEDROCK_MULTIMODAL else "text"
                reasons.append(
                    f"the .safetensors weights are {weights} bytes; Custom Model Import "
                    f"takes {kind} models under {limit // 10**9} GB"
                )
            if family == "GPT-OSS":
                notes.append("GPT-OSS imports only in US East (N. Virginia)")
            if family in BEDROCK_NO_CONVERSE:
                notes.append(f"{family}: the Converse API is not offered; use InvokeModel")
        if facts.context_length is not None and facts.context_length > BEDROCK_MAX_CONTEXT:
            reasons.append(
                f"the context length {facts.context_length} is over the {BEDROCK_MAX_CONTEXT} "
                "(128K) Custom Model Import supports"
            )
    tokenizer_class = (folder.tokenizer_config or {}).get("tokenizer_class")
    if isinstance(tokenizer_class, str) and tokenizer_class not in BEDROCK_TOKENIZERS:
        reasons.append(
            f"tokenizer_class {tokenizer_class} is not among the tokenizers Custom Model "
            "Import supports"
        )
    return _verdict(reasons, notes + folder.shard_notes())


def _sagemaker(folder: _Folder) -> TargetReadiness:
    reasons: list[str] = []
    if folder.is_adapter:
        reasons.append(
            "a LoRA adapter (adapter_config.json): SageMaker hosts it beside its base "
            "model, not as a model of its own"
        )
    reasons += folder.config_reasons()
    loadable = {"safetensors", "pytorch_bin", "pytorch"}
    if not loadable & set(folder.weights.values()):
        reasons.append("no .safetensors, .bin or .pt weights at the top of the folder")
    reasons += folder.header_problems
    return _verdict(reasons, folder.shard_notes())


def _has_tokenizer(folder: _Folder) -> bool:
    return any(folder.has(name) for name in TOKENIZER_SOURCES)


def _vllm_streamer(folder: _Folder) -> TargetReadiness:
    reasons: list[str] = []
    if folder.is_adapter:
        reasons.append(
            "a LoRA adapter (adapter_config.json) is not a model of its own: see vllm_lora"
        )
    reasons += folder.config_reasons()
    reasons += folder.safetensors_reasons("--load-format runai_streamer")
    if not _has_tokenizer(folder):
        reasons.append(
            "no tokenizer (tokenizer.json, tokenizer.model, vocab.json, ...) beside the "
            "weights: vLLM loads it from the same prefix unless --tokenizer names another"
        )
    return _verdict(reasons)


def _vllm_lora(folder: _Folder) -> TargetReadiness:
    reasons: list[str] = []
    notes: list[str] = []
    if not folder.is_adapter:
        reasons.append("not a LoRA adapter: no adapter_config.json at the top of the folder")
        return _verdict(reasons)
    if folder.adapter_config is None:
        reasons.append("adapter_config.json is not a JSON object")
    else:
        peft_type = folder.adapter_config.get("peft_type")
        if isinstance(peft_type, str) and peft_type.upper() != "LORA":
            reasons.append(f"adapter_config.json's peft_type is {peft_type}; vLLM serves LoRA")
        rank = folder.facts.lora_rank
        if rank is None:
            reasons.append("adapter_config.json has no rank (r)")
        elif rank > VLLM_DEFAULT_MAX_LORA_RANK:
            notes.append(f"rank {rank}: start vLLM with --max-lora-rank {rank} or more")
        if folder.facts.base_model:
            notes.append(f"serve it on its base model {folder.facts.base_model}")
    if not folder.has(ADAPTER_WEIGHTS):
        found = sorted(p for p in folder.weights if p.startswith("adapter_model"))
        instead = f" (there is {', '.join(found)})" if found else ""
        reasons.append(f"no {ADAPTER_WEIGHTS}{instead}")
    else:
        reasons += [p for p in folder.header_problems if p.startswith(f"{ADAPTER_WEIGHTS}:")]
    return _verdict(reasons, notes)


def readiness(
    files: Iterable[tuple[str, int]],
    config: Mapping[str, Any] | None,
    adapter_config: Mapping[str, Any] | None,
    headers: Mapping[str, SafetensorsHeader | SafetensorsProblem],
    tokenizer_config: Mapping[str, Any] | None = None,
) -> Readiness:
    """The verdicts for a folder of ``files`` ((path relative to the folder, size)).
    ``config``, ``adapter_config`` and ``tokenizer_config`` are the parsed JSON files
    (None when absent or not JSON); ``headers`` maps each ``.safetensors`` path to
    ``safetensors_header``'s answer, and a file without an entry counts as unchecked."""
    folder = _Folder(files, config, adapter_config, headers, tokenizer_config)
    return Readiness(
        facts=folder.facts,
        bedrock_custom_model_import=_bedrock(folder),
        sagemaker_uncompressed=_sagemaker(folder),
        vllm_runai_streamer=_vllm_streamer(folder),
        vllm_lora=_vllm_lora(folder),
    )
