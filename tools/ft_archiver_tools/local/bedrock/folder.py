"""What the fake reads of a model folder in S3 when a CreateModelImportJob names it.

Source: "Import a customized model into Amazon Bedrock",
https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-import-model.html
("Supported architectures", "Import a model source from Amazon S3"): Hugging Face files,
``.safetensors`` weights and a ``config.json``, whose architecture is one of a list.

The list is the fake's own, written from that page, and not the archiver's
(``ft_archiver.domain.unpack.readiness``): a fake that shared the code under test's table
would agree with it however wrong both were.

Assumptions, not documented: only the folder's top level counts (no loader reads a
sub-folder's weights); ``modelArchitecture`` is reported as Hugging Face's ``model_type``
of the architecture (the API documents only "a string"); ``instructSupported`` is whether
the tokenizer has a chat template; the custom model units are one per started 8 GiB of
weights (AWS says only that the number depends on the architecture, the parameter count
and the context length).
"""

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# config.json's ``architectures`` entry -> what the fake reports as ``modelArchitecture``.
SUPPORTED_ARCHITECTURES = {
    "LlamaForCausalLM": "llama",
    "MistralForCausalLM": "mistral",
    "MixtralForCausalLM": "mixtral",
    "T5ForConditionalGeneration": "t5",  # Flan
    "MllamaForConditionalGeneration": "mllama",
    "GPTBigCodeForCausalLM": "gpt_bigcode",
    "Qwen2ForCausalLM": "qwen2",  # Qwen2 and Qwen2.5
    "Qwen2VLForConditionalGeneration": "qwen2_vl",
    "Qwen2_5_VLForConditionalGeneration": "qwen2_5_vl",
    "Qwen3ForCausalLM": "qwen3",  # "only Qwen3ForCausalLM and Qwen3MoeForCausalLM"
    "Qwen3MoeForCausalLM": "qwen3_moe",
    "GptOssForCausalLM": "gpt_oss",
}
BYTES_PER_UNIT = 8 * 1024**3


class FolderRefusedError(Exception):
    """The folder is refused when the job is created: a ValidationException."""


@dataclass(frozen=True)
class FolderVerdict:
    """What the job will end with: ``failure`` (its failureMessage) or an imported model."""

    failure: str | None = None
    architecture: str = "llama"  # without an S3 client the fake cannot look: assumed
    instruct_supported: bool = True
    custom_model_units: int = 1


def split_s3_uri(s3_uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ("bucket", "a/b/"): the folder, a prefix ending in '/'."""
    bucket, _, key = s3_uri.removeprefix("s3://").partition("/")
    return bucket, key if not key or key.endswith("/") else key + "/"


def inspect_folder(
    s3: "S3Client", s3_uri: str, *, unsupported_architecture_fails: bool = False
) -> FolderVerdict:
    """``FolderRefusedError`` for a bucket that does not exist or (unless
    ``unsupported_architecture_fails``) an architecture Bedrock does not support; otherwise
    the job's verdict: a folder without config.json or weights fails later, as a job."""
    bucket, prefix = split_s3_uri(s3_uri)
    sizes = _top_level_files(s3, bucket, prefix)
    missing = [what for what, present in (
        ("no config.json", "config.json" in sizes),
        ("no .safetensors weights", any(name.endswith(".safetensors") for name in sizes)),
    ) if not present]  # fmt: skip
    if missing:
        return FolderVerdict(failure=f"The model files at {s3_uri} have {' and '.join(missing)}")
    config_url = f"s3://{bucket}/{prefix}config.json"
    config = _json_object(s3, bucket, prefix + "config.json")
    if config is None:
        return FolderVerdict(failure=f"{config_url} is not a JSON object")
    named = config.get("architectures")
    architectures = [a for a in named if isinstance(a, str)] if isinstance(named, list) else []
    known = [SUPPORTED_ARCHITECTURES[a] for a in architectures if a in SUPPORTED_ARCHITECTURES]
    if not known:
        message = (
            f"The architecture {', '.join(architectures) or '(none named)'} in "
            f"{config_url} is not supported: supported are "
            f"{', '.join(SUPPORTED_ARCHITECTURES)}"
        )
        if unsupported_architecture_fails:
            return FolderVerdict(failure=message)
        raise FolderRefusedError(message)
    weights = sum(size for name, size in sizes.items() if name.endswith(".safetensors"))
    return FolderVerdict(
        architecture=known[0],
        instruct_supported=_has_chat_template(s3, bucket, prefix, sizes),
        custom_model_units=max(1, math.ceil(weights / BYTES_PER_UNIT)),
    )


def _top_level_files(s3: "S3Client", bucket: str, prefix: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    where = f"s3://{bucket}/{prefix}"
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                name = entry["Key"][len(prefix) :]
                if name and "/" not in name:
                    sizes[name] = entry.get("Size", 0)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "NoSuchBucket":
            raise FolderRefusedError(f"The S3 bucket {bucket} does not exist") from exc
        raise FolderRefusedError(f"Amazon Bedrock cannot list {where}: {code}") from exc
    except BotoCoreError as exc:
        raise FolderRefusedError(f"Amazon Bedrock cannot list {where}: {exc}") from exc
    return sizes


def _json_object(s3: "S3Client", bucket: str, key: str) -> dict[str, object] | None:
    try:
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _has_chat_template(s3: "S3Client", bucket: str, prefix: str, sizes: dict[str, int]) -> bool:
    if "chat_template.jinja" in sizes:
        return True
    if "tokenizer_config.json" not in sizes:
        return False
    tokenizer = _json_object(s3, bucket, prefix + "tokenizer_config.json")
    return bool(tokenizer and tokenizer.get("chat_template"))
