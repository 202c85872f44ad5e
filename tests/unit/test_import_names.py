"""The import's names, token and request, and the refusals before any call."""

import json
import re
from pathlib import Path

import botocore.session
import pytest

from ft_archiver.domain.events import UnpackedDetail
from ft_archiver.domain.imports.names import NAME_MAX, import_names, model_name
from ft_archiver.domain.imports.request import (
    ImportSource,
    create_job_request,
    tag_value,
    why_not_importable,
)
from ft_archiver.domain.imports.schedule import poll_delay_s, quota_delay_s
from ft_archiver_tools.local.bedrock.service_model import input_problems

EVENTS = Path(__file__).resolve().parents[2] / "events"
ROLE = "arn:aws:iam::123456789012:role/ft-archiver-bedrock-import"
SHA = "46cc56c24eb329223ea963f7933c64559a105e2900fccc162a21b33ec534346c"


def _model_pattern(shape: str) -> re.Pattern[str]:
    model = botocore.session.get_session().get_service_model("bedrock")
    request = model.operation_model("CreateModelImportJob").input_shape
    assert request is not None
    member = request.members[shape]
    return re.compile(member.metadata["pattern"])


def unpacked_source(**changes: object) -> ImportSource:
    event = json.loads((EVENTS / "fine-tune-unpacked.json").read_text())
    source = ImportSource.of_unpacked(UnpackedDetail.model_validate(event["detail"]))
    return source.model_copy(update=changes)


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("models/acme--llama-3-8b-demo/", "acme-llama-3-8b-demo-46cc56c2"),
        ("models/acme--llama-3.1-8b-checkpoint-100/", "acme-llama-3-1-8b-checkpoint-100-46cc56c2"),
        ("models/--weird__name--/", "weird-name-46cc56c2"),
        ("models/___/", "model-46cc56c2"),
        ("models/" + "x" * 200 + "/", "x" * 54 + "-46cc56c2"),
    ],
)
def test_the_model_name_is_a_slug_and_a_digest_within_bedrocks_limits(
    folder: str, expected: str
) -> None:
    name = model_name(folder, SHA)
    assert name == expected
    assert len(name) <= NAME_MAX
    assert _model_pattern("importedModelName").fullmatch(name)
    assert _model_pattern("jobName").fullmatch(name)


def test_todays_folder_names_are_not_valid_model_names_as_they_are() -> None:
    pattern = _model_pattern("importedModelName")
    assert not pattern.fullmatch("acme--llama-3-8b-demo")
    assert not pattern.fullmatch("3.1")


def test_the_same_bytes_get_the_same_names_and_other_bytes_others() -> None:
    first = import_names("b", "models/m/", SHA, ROLE)
    assert first == import_names("b", "models/m/", SHA, ROLE)
    other = import_names("b", "models/m/", "0" * 64, ROLE)
    assert other.model_name != first.model_name
    assert other.client_request_token != first.client_request_token
    assert import_names("b", "models/m/", SHA, ROLE + "2").client_request_token != (
        first.client_request_token
    )
    token = re.compile(r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?")
    assert token.fullmatch(first.client_request_token)


def test_an_archive_without_a_sha256_is_named_from_where_its_folder_is() -> None:
    one = import_names("b", "models/m/", None, ROLE)
    assert one == import_names("b", "models/m/", None, ROLE)
    assert one != import_names("b", "models/n/", None, ROLE)


def test_the_request_passes_every_constraint_of_botocores_model() -> None:
    source = unpacked_source(archive_key="models/odd key&name.tar.zst")
    names = import_names(source.bucket, source.folder, source.archive_sha256, ROLE)
    request = create_job_request(source, names, ROLE)
    assert input_problems("CreateModelImportJob", request) == []
    assert request["modelDataSource"] == {"s3DataSource": {"s3Uri": source.folder_url}}
    tags = {tag["key"]: tag["value"] for tag in request["jobTags"]}
    assert tags["ft-archiver:fine-tune-id"] == source.id
    assert tags["ft-archiver:archive-key"] == "models/odd key_name.tar.zst"
    assert request["importedModelTags"] == request["jobTags"]


def test_a_tag_value_keeps_only_what_the_tag_shape_takes() -> None:
    assert tag_value("a&b" * 200) == ("a_b" * 200)[:256]


def test_a_ready_merged_model_is_importable() -> None:
    assert why_not_importable(unpacked_source()) is None


def test_an_adapter_is_refused_with_what_to_ask_for_instead() -> None:
    source = unpacked_source(checkpoint_type="adapter")
    reason = why_not_importable(source)
    assert reason is not None
    assert "LoRA adapter" in reason
    assert "--checkpoint-type merged" in reason


def test_a_verdict_not_ready_is_refused_with_its_reasons() -> None:
    source = unpacked_source()
    assert source.readiness is not None
    verdict = source.readiness.bedrock_custom_model_import.model_copy(
        update={"ready": False, "reasons": ("architecture BertModel is not one ...",)}
    )
    readiness = source.readiness.model_copy(update={"bedrock_custom_model_import": verdict})
    reason = why_not_importable(source.model_copy(update={"readiness": readiness}))
    assert reason is not None
    assert "BertModel" in reason


def test_a_folder_without_a_verdict_or_with_characters_s3uri_refuses_is_refused() -> None:
    assert "not complete" in (why_not_importable(unpacked_source(readiness=None)) or "")
    odd = unpacked_source(folder="models/a b/")
    assert "S3 URI" in (why_not_importable(odd) or "")


def test_looks_at_a_running_job_slow_down_and_quota_waits_double_to_sqs_limit() -> None:
    assert [poll_delay_s(n) for n in (0, 9, 10, 50)] == [60, 60, 300, 300]
    assert poll_delay_s(50, first_s=0) == 0
    assert [quota_delay_s(n) for n in (1, 2, 3, 4)] == [300, 600, 900, 900]
