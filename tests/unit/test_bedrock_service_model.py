"""The fake Bedrock's validator, request parser and answers, against botocore itself: its
model (what the validator walks), its client-side validator (what it does not check, so
the server must), its serializer (the requests the parser reads) and its parser (what
the answers must be)."""

import copy
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.awsrequest import HeadersDict
from botocore.model import OperationModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import ParamValidator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ft_archiver_tools.local.bedrock import patterns
from ft_archiver_tools.local.bedrock.service_model import (
    UnknownRouteError,
    bedrock_model,
    error_response,
    input_problems,
    operation_model,
    output_problems,
    output_response,
    parse_request,
    shape_problems,
)

CREATE = "CreateModelImportJob"
ROLE = "arn:aws:iam::123456789012:role/BedrockImport"
JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:model-import-job/abcdef123456"
MODEL_ARN = "arn:aws:bedrock:us-east-1:123456789012:imported-model/abcdef123456"
GOOD_CREATE: dict[str, Any] = {
    "jobName": "ft-archiver-acme-llama-3-8b",
    "importedModelName": "acme-llama-3-8b",
    "roleArn": ROLE,
    "modelDataSource": {"s3DataSource": {"s3Uri": "s3://archive-bucket/models/acme/llama/"}},
    "jobTags": [{"key": "ft-archiver:fine-tune-id", "value": "ft-4f1c2a9e-0b7d"}],
    "clientRequestToken": "ft-4f1c2a9e-0b7d-import",
}
TIME = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def create(**changes: Any) -> dict[str, Any]:
    """The good request with ``changes``; a change to None removes the member."""
    params = copy.deepcopy(GOOD_CREATE)
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return params


def botocore_errors(operation: str, params: dict[str, Any]) -> str:
    """What botocore's own client-side check says (empty: it lets the request go)."""
    shape = operation_model(operation).input_shape
    assert shape is not None
    report = ParamValidator().validate(params, shape)
    return str(report.generate_report()) if report.has_errors() else ""


# -- the validator -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(GOOD_CREATE, id="tags-and-token"),
        pytest.param(create(jobTags=None, clientRequestToken=None), id="required-only"),
        pytest.param(create(jobName="j" * 63, importedModelName="m" * 63), id="names-at-max"),
        pytest.param(create(importedModelName="Llama_3-1-8b"), id="underscore-name"),
        pytest.param(create(jobName="import.v1+2"), id="job-name-dot-plus"),
        pytest.param(
            create(modelDataSource={"s3DataSource": {"s3Uri": "s3://archive-bucket"}}),
            id="bucket-only-uri",
        ),
        pytest.param(
            create(
                vpcConfig={"subnetIds": ["subnet-0abc"], "securityGroupIds": ["sg-0abc"]},
                importedModelKmsKeyId="alias/archive-models",
            ),
            id="vpc-and-kms-alias",
        ),
        pytest.param(
            create(jobTags=[{"key": f"k{n}", "value": ""} for n in range(200)]),
            id="200-tags",
        ),
    ],
)
def test_good_create_requests_have_no_problem(params: dict[str, Any]) -> None:
    assert input_problems(CREATE, params) == []
    assert botocore_errors(CREATE, params) == ""


NAME_PATTERN = "([0-9a-zA-Z][_-]?)+"
S3_URI = "modelDataSource.s3DataSource.s3Uri"
STATUSES = "InProgress, Completed, Failed"


@pytest.mark.parametrize(
    ("params", "problem", "botocore_sees_it"),
    [
        pytest.param(
            create(jobName="j" * 64), "jobName: length 64 is over the maximum 63", False,
            id="job-name-too-long",
        ),
        pytest.param(
            create(importedModelName="m" * 64),
            "importedModelName: length 64 is over the maximum 63", False,
            id="model-name-too-long",
        ),
        pytest.param(
            create(importedModelName="acme--llama-3-8b"),
            f"importedModelName: 'acme--llama-3-8b' does not match pattern {NAME_PATTERN}",
            False, id="double-dash",
        ),
        pytest.param(
            create(importedModelName="3.1"),
            f"importedModelName: '3.1' does not match pattern {NAME_PATTERN}", False,
            id="dot-in-model-name",
        ),
        pytest.param(
            create(importedModelName="acme/llama"), "importedModelName: 'acme/llama'", False,
            id="slash-in-model-name",
        ),
        pytest.param(
            create(jobName="-job"), "jobName: '-job' does not match pattern", False,
            id="job-name-leading-dash",
        ),
        pytest.param(create(roleArn=None), "roleArn: required, missing", True, id="no-role"),
        pytest.param(
            create(roleArn="arn:aws:iam::123456789012:user/someone"),
            "roleArn: 'arn:aws:iam::123456789012:user/someone' does not match", False,
            id="user-not-role",
        ),
        pytest.param(
            create(modelName="x"), "modelName: not a member of CreateModelImportJobRequest",
            True, id="unknown-member",
        ),
        pytest.param(
            create(modelDataSource={}),
            "modelDataSource: a union takes exactly one member of s3DataSource; got none",
            True, id="union-with-none",
        ),
        pytest.param(
            create(modelDataSource={"s3DataSource": {"s3Uri": "s3://a-bucket/m/"},
                                    "sageMakerModel": {"arn": "x"}}),
            "modelDataSource: a union takes exactly one member of s3DataSource; "
            "got 2: s3DataSource, sageMakerModel",
            True, id="union-with-two",
        ),
        pytest.param(
            create(modelDataSource={"s3DataSource": {}}), f"{S3_URI}: required, missing",
            True, id="no-s3-uri",
        ),
        pytest.param(
            create(modelDataSource={"s3DataSource": {"s3Uri": "https://a-bucket/m/"}}),
            f"{S3_URI}: 'https://a-bucket/m/' does not match pattern", False,
            id="https-not-s3",
        ),
        pytest.param(
            create(modelDataSource={"s3DataSource": {"s3Uri": "s3://Archive_Bucket/m/"}}),
            f"{S3_URI}: 's3://Archive_Bucket/m/' does not match pattern", False,
            id="bucket-name-not-dns",
        ),
        pytest.param(
            create(modelDataSource={"s3DataSource": {"s3Uri": "s3://a-bucket/a b/"}}),
            f"{S3_URI}: 's3://a-bucket/a b/' does not match pattern", False,
            id="space-in-key",
        ),
        pytest.param(
            create(jobTags=[{"key": f"k{n}", "value": "v"} for n in range(201)]),
            "jobTags: length 201 is over the maximum 200", False, id="tags-over-max",
        ),
        pytest.param(
            create(jobTags=[{"key": "k", "value": "v"}, {"key": "a" * 129, "value": "v"}]),
            "jobTags[1].key: length 129 is over the maximum 128", False, id="tag-key-too-long",
        ),
        pytest.param(
            create(importedModelTags=[{"key": "k", "value": "ünïcode"}]),
            "importedModelTags[0].value: 'ünïcode' does not match pattern", False,
            id="tag-value-charset",
        ),
        pytest.param(
            create(jobTags=[{"key": "k"}]), "jobTags[0].value: required, missing", True,
            id="tag-without-value",
        ),
        pytest.param(
            create(clientRequestToken="token_with_underscores"),
            "clientRequestToken: 'token_with_underscores' does not match", False,
            id="token-charset",
        ),
        pytest.param(
            create(jobName=5), "jobName: expected a string, got int 5", True, id="type",
        ),
        pytest.param(
            create(vpcConfig={"subnetIds": [], "securityGroupIds": ["sg-1"]}),
            "vpcConfig.subnetIds: length 0 is under the minimum 1", True, id="list-min",
        ),
    ],
)  # fmt: skip
def test_bad_create_requests_are_named_by_path(
    params: dict[str, Any], problem: str, botocore_sees_it: bool
) -> None:
    """Each problem names its path; those botocore's client lets through (patterns,
    maximums) are exactly what the server's check is for."""
    problems = input_problems(CREATE, params)
    assert any(found.startswith(problem) for found in problems), problems
    assert bool(botocore_errors(CREATE, params)) is botocore_sees_it


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"statusEquals": "Done"}, f"statusEquals: 'Done' is not one of {STATUSES}"),
        ({"statusEquals": "completed"}, "statusEquals: 'completed' is not one of"),
        ({"sortOrder": "Newest"}, "sortOrder: 'Newest' is not one of Ascending, Descending"),
        ({"maxResults": 0}, "maxResults: value 0 is under the minimum 1"),
        ({"maxResults": 1001}, "maxResults: value 1001 is over the maximum 1000"),
        ({"maxResults": True}, "maxResults: expected an integer, got bool True"),
        ({"creationTimeAfter": "yesterday"}, "creationTimeAfter: expected a timestamp"),
        ({"nameContains": "bad name"}, "nameContains: 'bad name' does not match pattern"),
    ],
)  # fmt: skip
def test_bad_list_requests(params: dict[str, Any], problem: str) -> None:
    problems = input_problems("ListModelImportJobs", params)
    assert any(found.startswith(problem) for found in problems), problems


def test_good_list_and_get_requests() -> None:
    listing = {
        "statusEquals": "Completed",
        "creationTimeAfter": TIME,
        "maxResults": 1000,
        "sortBy": "CreationTime",
        "sortOrder": "Ascending",
        "nameContains": "ft-",
    }
    assert input_problems("ListModelImportJobs", listing) == []
    for identifier in (JOB_ARN, "ft-archiver-acme-llama-3-8b"):  # an ARN or a name
        assert input_problems("GetModelImportJob", {"jobIdentifier": identifier}) == []
    for identifier in (MODEL_ARN, "acme-llama-3-8b"):
        assert input_problems("GetImportedModel", {"modelIdentifier": identifier}) == []
    assert input_problems("GetModelImportJob", {"jobIdentifier": "job/1"}) != []


def test_a_union_of_two_known_members_takes_one() -> None:
    union = bedrock_model().shape_for("EvaluationConfig")
    problems = shape_problems(union, {"automated": {}, "human": {}}, "evaluationConfig")
    assert any(
        p.startswith("evaluationConfig: a union takes exactly one member of automated, human;"
                     " got 2: automated, human") for p in problems
    ), problems  # fmt: skip


@pytest.mark.parametrize(
    ("operation", "output", "problem"),
    [
        (CREATE, {}, "jobArn: required, missing"),
        (CREATE, {"jobArn": JOB_ARN.replace("abcdef", "ABCDEF")}, "jobArn: 'arn:aws:bedrock"),
        (CREATE, {"jobArn": JOB_ARN, "status": "InProgress"},
         "status: not a member of CreateModelImportJobResponse"),
        ("GetModelImportJob", {"jobArn": JOB_ARN, "status": "Done"}, "status: 'Done' is not one"),
        ("GetModelImportJob", {"jobArn": JOB_ARN, "creationTime": "2026-01-01"},
         "creationTime: expected a timestamp"),
        ("GetImportedModel", {"customModelUnits": {"customModelUnitsVersion": "1.0"}},
         "customModelUnits.customModelUnitsVersion: '1.0' does not match pattern"),
        ("ListModelImportJobs", {"modelImportJobSummaries": [{"jobArn": JOB_ARN}]},
         "modelImportJobSummaries[0].jobName: required, missing"),
    ],
)  # fmt: skip
def test_outputs_are_held_to_the_model(
    operation: str, output: dict[str, Any], problem: str
) -> None:
    problems = output_problems(operation, output)
    assert any(found.startswith(problem) for found in problems), problems


# -- the patterns ------------------------------------------------------------------------


def _evaluable_patterns() -> list[str]:
    found = set()
    for name in bedrock_model().shape_names:
        pattern = bedrock_model().shape_for(name).metadata.get("pattern")
        try:
            re.compile(pattern or "")
        except re.error:
            continue  # \p{L} and the like: refused, not evaluated
        if pattern:
            found.add(pattern)
    return sorted(found)


PATTERNS = _evaluable_patterns()


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.sampled_from(PATTERNS).flatmap(
        lambda p: st.tuples(
            st.just(p), st.from_regex(p, fullmatch=True), st.integers(0, 30), st.characters()
        )
    )
)
def test_the_matcher_is_re_fullmatch(case: tuple[str, str, int, str]) -> None:
    """Every pattern of the model, on values that match it and on the same values with a
    character put in: the polynomial matcher answers as re.fullmatch does."""
    pattern, value, where, extra = case
    for text in (value, value[:where] + extra + value[where:]):
        if len(text) <= 40:  # re itself is exponential on some: keep its side short
            assert patterns.fullmatch(pattern, text) is (re.fullmatch(pattern, text) is not None)


def test_a_job_name_that_fails_late_is_refused_at_once() -> None:
    """JobName's own pattern is exponential for re on this (2^31 paths)."""
    name = "a" + "-b" * 30 + "_"
    began = time.monotonic()
    problems = input_problems(CREATE, create(jobName=name))
    assert time.monotonic() - began < 1.0
    assert any(p.startswith(f"jobName: {name!r} does not match pattern") for p in problems)


def test_a_pattern_python_cannot_compile_is_a_problem_not_a_pass() -> None:
    shape = bedrock_model().shape_for("AutomatedReasoningPolicyDefinitionTypeName")
    assert shape_problems(shape, "Name", "name") == [
        "name: pattern \\p{L}[\\p{L}\\p{M}0-9_]*( [\\p{L}\\p{M}0-9_]+)* is not one Python "
        "can evaluate"
    ]


# -- the wire ----------------------------------------------------------------------------


WireRequest = tuple[str, str, dict[str, str], bytes]  # method, path and query, headers, body


def wire_request(operation: OperationModel, params: dict[str, Any]) -> WireRequest:
    """What botocore's own rest-json serializer sends for ``params``."""
    request = create_serializer("rest-json").serialize_to_request(params, operation)
    target = request["url_path"]
    if request["query_string"]:
        target += "?" + urlencode(request["query_string"], doseq=True)
    body = request["body"] if isinstance(request["body"], bytes) else request["body"].encode()
    headers = {name.lower(): str(value) for name, value in request["headers"].items()}
    return request["method"], target, headers, body


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        (CREATE, GOOD_CREATE),
        ("GetModelImportJob", {"jobIdentifier": JOB_ARN}),
        ("GetModelImportJob", {"jobIdentifier": "ft-archiver-acme-llama-3-8b"}),
        ("ListModelImportJobs", {"statusEquals": "InProgress", "maxResults": 5,
                                 "creationTimeAfter": TIME, "nextToken": "2"}),
        ("GetImportedModel", {"modelIdentifier": MODEL_ARN}),
        ("ListImportedModels", {"nameContains": "acme", "sortOrder": "Ascending"}),
        ("DeleteImportedModel", {"modelIdentifier": "acme-llama-3-8b"}),
    ],
)  # fmt: skip
def test_requests_parse_back_to_what_botocore_serialized(
    operation: str, params: dict[str, Any]
) -> None:
    method, target, headers, body = wire_request(operation_model(operation), params)
    parsed = parse_request(method, target, headers, body)
    assert (parsed.operation, parsed.params, parsed.wire_problems) == (operation, params, [])


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("/model-import-jobs?maxResults=many", "maxResults: 'many' is not a integer"),
        ("/model-import-jobs?statusEquals=A&statusEquals=B", "statusEquals: 2 values"),
        ("/model-import-jobs?pageSize=5", "pageSize: query parameter not in the model"),
        ("/model-import-jobs?creationTimeAfter=soon", "creationTimeAfter: 'soon' is not a"),
    ],
)
def test_query_strings_that_do_not_read(target: str, problem: str) -> None:
    parsed = parse_request("GET", target, {}, b"")
    assert parsed.operation == "ListModelImportJobs"
    assert any(found.startswith(problem) for found in parsed.wire_problems), parsed


def test_bodies_that_do_not_read() -> None:
    garbled = parse_request("POST", "/model-import-jobs", {}, b"{not json")
    assert garbled.wire_problems[0].startswith("the body is not JSON")
    moved = parse_request("GET", "/model-import-jobs/j", {}, b'{"jobIdentifier": "k"}')
    assert moved.wire_problems == ["jobIdentifier: belongs in the uri, not the body"]


def test_routes_need_their_method_and_path() -> None:
    with pytest.raises(UnknownRouteError):
        parse_request("PUT", "/model-import-jobs", {}, b"")
    with pytest.raises(UnknownRouteError):
        parse_request("GET", "/model-import-jobs/", {}, b"")  # an empty label
    assert parse_request("GET", "/imported-models", {}, b"").operation == "ListImportedModels"


def botocore_parses(operation: str, status: int, headers: dict[str, str], body: bytes) -> Any:
    """As botocore's client does: its AWSResponse's headers are case-insensitive."""
    response = {"status_code": status, "headers": HeadersDict(headers), "body": body}
    shape = operation_model(operation).output_shape
    assert shape is not None
    return create_parser("rest-json").parse(response, shape)


def test_answers_parse_back_with_botocore() -> None:
    output = {
        "jobArn": JOB_ARN, "jobName": "j", "importedModelName": "m", "roleArn": ROLE,
        "modelDataSource": {"s3DataSource": {"s3Uri": "s3://a-bucket/m/"}},
        "status": "Completed", "importedModelArn": MODEL_ARN,
        "creationTime": TIME, "lastModifiedTime": TIME, "endTime": TIME,
    }  # fmt: skip
    assert output_problems("GetModelImportJob", output) == []
    response = output_response("GetModelImportJob", output)
    assert response.status == 200
    assert b'"creationTime": "2026-01-02T03:04:05.678Z"' in response.body  # iso8601, as modelled
    parsed = botocore_parses("GetModelImportJob", 200, response.headers, response.body)
    parsed.pop("ResponseMetadata")
    assert parsed == output
    assert output_response(CREATE, {"jobArn": JOB_ARN}).status == 201  # its responseCode


@pytest.mark.parametrize(
    ("code", "status"),
    [("ValidationException", 400), ("ConflictException", 400),
     ("ServiceQuotaExceededException", 400), ("AccessDeniedException", 403),
     ("ResourceNotFoundException", 404), ("ThrottlingException", 429),
     ("InternalServerException", 500)],
)  # fmt: skip
def test_errors_carry_their_shapes_status_and_code(code: str, status: int) -> None:
    response = error_response(code, "what happened")
    assert response.status == status
    parsed = botocore_parses(CREATE, response.status, response.headers, response.body)
    assert parsed["Error"] == {"Code": code, "Message": "what happened"}
