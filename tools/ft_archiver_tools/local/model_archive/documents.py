"""The model's JSON documents and its shape, each as the library that reads it writes it:
config.json (transformers' ``LlamaConfig`` fields, ``save_pretrained``), generation_config.json,
tokenizer.json (the tokenizers library's layout), tokenizer_config.json and
special_tokens_map.json (transformers' ``PreTrainedTokenizerFast``), adapter_config.json
(peft's ``LoraConfig`` as ``save_pretrained`` writes it: ``peft_type`` "LORA",
``base_model_name_or_path``, ``r``, ``lora_alpha``, ``target_modules``, ...)."""

import json
from dataclasses import dataclass
from typing import Any

from ft_archiver_tools.local.model_archive.bodies import Body, Inline
from ft_archiver_tools.local.model_archive.spec import ModelSpec

DTYPE_BYTES = 2  # BF16
MIN_VOCAB = 258  # 256 byte tokens and the two special ones
BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"
MODULES = {  # a decoder block's linear layers (LoRA's targets) -> the block that holds them
    "q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn",
    "o_proj": "self_attn", "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp",
}  # fmt: skip


@dataclass(frozen=True)
class Dims:
    hidden: int
    layers: int
    vocab: int

    @property
    def heads(self) -> int:
        return max(1, self.hidden // 64)

    @property
    def kv_width(self) -> int:  # grouped-query attention: a quarter of the heads
        heads = self.heads
        return (heads // 4 if heads % 4 == 0 else heads) * (self.hidden // heads)

    @property
    def intermediate(self) -> int:
        return self.hidden * 7 // 2

    def widths(self, module: str) -> tuple[int, int]:
        """(in, out) of a linear layer of a decoder block."""
        h, kv, inter = self.hidden, self.kv_width, self.intermediate
        widths = {
            "q_proj": (h, h), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (h, h),
            "gate_proj": (h, inter), "up_proj": (h, inter), "down_proj": (inter, h),
        }  # fmt: skip
        return widths[module]


def config(spec: ModelSpec, dims: Dims) -> dict[str, Any]:
    return {
        "architectures": [spec.architecture], "attention_bias": False,
        "attention_dropout": 0.0, "bos_token_id": 256, "eos_token_id": 257,
        "head_dim": dims.hidden // dims.heads, "hidden_act": "silu",
        "hidden_size": dims.hidden, "initializer_range": 0.02,
        "intermediate_size": dims.intermediate,
        "max_position_embeddings": spec.context_length, "mlp_bias": False,
        "model_type": spec.model_type, "num_attention_heads": dims.heads,
        "num_hidden_layers": dims.layers,
        "num_key_value_heads": dims.kv_width // (dims.hidden // dims.heads),
        "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None,
        "rope_theta": 500000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "transformers_version": "4.46.0", "use_cache": True, "vocab_size": dims.vocab,
    }  # fmt: skip


def generation_config() -> dict[str, Any]:
    return {"_from_model_config": True, "bos_token_id": 256, "eos_token_id": 257,
            "transformers_version": "4.46.0"}  # fmt: skip


def adapter_config(spec: ModelSpec, rank: int) -> dict[str, Any]:
    return {
        "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": spec.base_model,
        "bias": "none", "fan_in_fan_out": False, "inference_mode": True,
        "init_lora_weights": True, "layers_pattern": None, "layers_to_transform": None,
        "lora_alpha": 2 * rank, "lora_dropout": 0.05, "modules_to_save": None,
        "peft_type": "LORA", "r": rank, "rank_pattern": {}, "revision": None,
        "target_modules": sorted(MODULES), "task_type": "CAUSAL_LM", "use_dora": False,
        "use_rslora": False,
    }  # fmt: skip


def tokenizer_files(spec: ModelSpec) -> list[tuple[str, Body]]:
    """A byte-level BPE of 256 tokens and two special ones (tokenizers' JSON layout), with
    transformers' tokenizer_config.json and special_tokens_map.json beside it."""
    vocab = {char: n for n, char in enumerate(_byte_chars())}
    added = [{"id": 256 + n, "content": token, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True}
             for n, token in enumerate((BOS, EOS))]  # fmt: skip
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                  "use_regex": True}  # fmt: skip
    tokenizer: dict[str, Any] = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None, "pre_tokenizer": byte_level, "post_processor": None,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": []},
    }  # fmt: skip
    decoder = {str(entry["id"]): {k: v for k, v in entry.items() if k != "id"} for entry in added}
    settings = {"added_tokens_decoder": decoder, "bos_token": BOS, "eos_token": EOS,
              "clean_up_tokenization_spaces": True,
              "model_input_names": ["input_ids", "attention_mask"],
              "model_max_length": spec.context_length,
              "tokenizer_class": "PreTrainedTokenizerFast"}  # fmt: skip
    return [("special_tokens_map.json", json_body({"bos_token": BOS, "eos_token": EOS})),
            ("tokenizer.json", json_body(tokenizer)),
            ("tokenizer_config.json", json_body(settings))]  # fmt: skip


def _byte_chars() -> list[str]:
    """GPT-2's printable stand-ins for the 256 bytes (``bytes_to_unicode``)."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def json_body(doc: dict[str, Any]) -> Inline:
    return Inline((json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode())
