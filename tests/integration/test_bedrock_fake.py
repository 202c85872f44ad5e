"""The fake Bedrock over real HTTP, driven by boto3: the job's life, idempotency,
conflicts, quotas, throttling, the model's own validation past botocore's client, the
folder read from moto's S3, and every answer one botocore parses (the fixture fails a
test whose fake answered anything its model would not allow)."""

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from ft_archiver_tools.local.aws import MotoServer
from ft_archiver_tools.local.bedrock.server import FakeBedrock

ROLE = "arn:aws:iam::123456789012:role/BedrockImport"
JOB_ARN = re.compile(r"arn:aws:bedrock:us-east-1:123456789012:model-import-job/[a-z0-9]{12}")
MODEL_ARN = re.compile(r"arn:aws:bedrock:us-east-1:123456789012:imported-model/[a-z0-9]{12}")
# Not {"max_attempts": 1}: that key counts retries after the first attempt (botocore/config.py)
NO_RETRIES = Config(retries={"total_max_attempts": 1})
LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}


@pytest.fixture
def fake() -> Iterator[FakeBedrock]:
    with FakeBedrock() as server:
        yield server
        assert server.internal_errors == []


def client(fake: FakeBedrock, config: Config | None = NO_RETRIES, region: str = "us-east-1") -> Any:
    return boto3.client(
        "bedrock",
        endpoint_url=fake.endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def create(bedrock: Any, name: str = "import-1", **extra: Any) -> str:
    params: dict[str, Any] = {
        "jobName": name,
        "importedModelName": f"{name}-model",
        "roleArn": ROLE,
        "modelDataSource": {"s3DataSource": {"s3Uri": "s3://archive-bucket/models/m/"}},
        **extra,
    }
    response = bedrock.create_model_import_job(**params)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    arn: str = response["jobArn"]
    return arn


def code_of(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


# -- a job's life ----------------------------------------------------------------------


def test_a_job_is_in_progress_for_its_polls_then_completed(fake: FakeBedrock) -> None:
    bedrock = client(fake)
    job_arn = create(bedrock)
    assert JOB_ARN.fullmatch(job_arn)
    seen = [bedrock.get_model_import_job(jobIdentifier=job_arn) for _ in range(3)]
    assert [job["status"] for job in seen] == ["InProgress", "InProgress", "Completed"]
    assert "importedModelArn" not in seen[0]
    assert "endTime" not in seen[0]
    done = seen[-1]
    assert MODEL_ARN.fullmatch(done["importedModelArn"])
    assert done["endTime"] >= done["creationTime"]
    assert done["roleArn"] == ROLE
    assert fake.roles_seen == [ROLE]

    model = bedrock.get_imported_model(modelIdentifier=done["importedModelArn"])
    assert (model["modelName"], model["jobArn"]) == ("import-1-model", job_arn)
    assert model["customModelUnits"] == {
        "customModelUnitsPerModelCopy": 1,
        "customModelUnitsVersion": "v1.0",
    }
    assert (
        bedrock.get_imported_model(modelIdentifier="import-1-model")["modelArn"]
        == (done["importedModelArn"])
    )
    listed = bedrock.list_model_import_jobs(statusEquals="Completed")["modelImportJobSummaries"]
    assert [job["jobArn"] for job in listed] == [job_arn]
    models = bedrock.list_imported_models()["modelSummaries"]
    assert [m["modelArn"] for m in models] == [done["importedModelArn"]]
    assert [call.operation for call in fake.requests][:2] == [
        "CreateModelImportJob",
        "GetModelImportJob",
    ]
    assert fake.refused == []


def test_a_job_is_found_by_its_name(fake: FakeBedrock) -> None:
    bedrock = client(fake)
    job_arn = create(bedrock, "ft-archiver-acme-llama-3-8b")
    job = bedrock.get_model_import_job(jobIdentifier="ft-archiver-acme-llama-3-8b")
    assert job["jobArn"] == job_arn


def test_a_job_told_to_fail_fails_with_its_message(fake: FakeBedrock) -> None:
    bedrock = client(fake)
    fake.fail_next_job("The model's tokenizer could not be loaded")
    job_arn = create(bedrock)
    statuses = [bedrock.get_model_import_job(jobIdentifier=job_arn) for _ in range(3)]
    assert [job["status"] for job in statuses] == ["InProgress", "InProgress", "Failed"]
    assert statuses[-1]["failureMessage"] == "The model's tokenizer could not be loaded"
    assert "importedModelArn" not in statuses[-1]
    assert fake.models == {}
    assert create(bedrock, "import-2") != job_arn  # only the next job: this one completes
    assert bedrock.get_model_import_job(jobIdentifier="import-2")["status"] == "InProgress"


def test_unknown_jobs_and_models_are_not_found(fake: FakeBedrock) -> None:
    bedrock = client(fake)
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException) as missing:
        bedrock.get_model_import_job(jobIdentifier="never-created")
    assert code_of(missing) == ("ResourceNotFoundException", 404)
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_imported_model(modelIdentifier="arn:aws:bedrock:us-east-1:123456789012:"
                                   "imported-model/abcdef123456")  # fmt: skip
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.delete_imported_model(modelIdentifier="never-imported")


def test_a_deleted_model_is_gone_and_frees_its_name() -> None:
    with FakeBedrock(polls_to_finish=0) as fake:
        bedrock = client(fake)
        create(bedrock)
        (model_arn,) = fake.models
        assert (
            bedrock.delete_imported_model(modelIdentifier=model_arn)["ResponseMetadata"][
                "HTTPStatusCode"
            ]
            == 200
        )
        with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
            bedrock.get_imported_model(modelIdentifier=model_arn)
        create(bedrock, "import-2", importedModelName="import-1-model")
        assert fake.internal_errors == []


def test_lists_page_through_botocores_paginator() -> None:
    with FakeBedrock(polls_to_finish=0, concurrent_jobs=5, max_models=5) as fake:
        bedrock = client(fake)
        arns = [create(bedrock, f"import-{n}") for n in range(5)]
        pages = bedrock.get_paginator("list_model_import_jobs").paginate(
            sortOrder="Ascending", PaginationConfig={"PageSize": 2}
        )
        listed = [job["jobArn"] for page in pages for job in page["modelImportJobSummaries"]]
        assert listed == arns
        newest_first = bedrock.list_model_import_jobs()["modelImportJobSummaries"]
        assert [job["jobArn"] for job in newest_first] == arns[::-1]
        named = bedrock.list_imported_models(nameContains="import-3")["modelSummaries"]
        assert [m["modelName"] for m in named] == ["import-3-model"]
        assert fake.internal_errors == []


# -- idempotency and conflicts ---------------------------------------------------------


def test_a_repeated_token_returns_the_first_job_and_starts_nothing(fake: FakeBedrock) -> None:
    bedrock = client(fake)
    first = create(bedrock, clientRequestToken="ft-4f1c2a9e-import")
    bedrock.get_model_import_job(jobIdentifier=first)
    again = create(bedrock, clientRequestToken="ft-4f1c2a9e-import")
    assert again == first
    assert list(fake.jobs) == [first]
    assert [call.operation for call in fake.requests].count("CreateModelImportJob") == 2
    with pytest.raises(bedrock.exceptions.ConflictException) as conflict:
        create(
            bedrock, clientRequestToken="ft-4f1c2a9e-import", jobTags=[{"key": "k", "value": "v"}]
        )
    assert code_of(conflict) == ("ConflictException", 400)
    assert list(fake.jobs) == [first]


def test_a_used_job_name_conflicts(fake: FakeBedrock) -> None:
    bedrock = client(fake)
    create(bedrock, clientRequestToken="token-a")
    for token in ({"clientRequestToken": "token-b"}, {}):
        with pytest.raises(bedrock.exceptions.ConflictException, match="import-1"):
            create(bedrock, importedModelName="another-model", **token)
    assert len(fake.jobs) == 1


def test_a_model_name_in_use_or_importing_conflicts() -> None:
    with FakeBedrock(concurrent_jobs=2, polls_to_finish=1) as fake:
        bedrock = client(fake)
        job_arn = create(bedrock)
        with pytest.raises(bedrock.exceptions.ConflictException, match="import-1-model"):
            create(bedrock, "import-2", importedModelName="import-1-model")  # importing
        bedrock.get_model_import_job(jobIdentifier=job_arn)  # now imported
        with pytest.raises(bedrock.exceptions.ConflictException, match="import-1-model"):
            create(bedrock, "import-3", importedModelName="import-1-model")
        assert fake.internal_errors == []


# -- quotas ----------------------------------------------------------------------------


def test_a_second_concurrent_job_is_over_the_quota(fake: FakeBedrock) -> None:
    bedrock = client(fake)
    first = create(bedrock)
    with pytest.raises(bedrock.exceptions.ServiceQuotaExceededException) as over:
        create(bedrock, "import-2")
    assert code_of(over) == ("ServiceQuotaExceededException", 400)
    for _ in range(2):
        bedrock.get_model_import_job(jobIdentifier=first)
    create(bedrock, "import-2")  # the first one ended: room again


def test_imported_models_and_imports_count_against_the_model_quota() -> None:
    with FakeBedrock(max_models=2, concurrent_jobs=2, polls_to_finish=0) as fake:
        bedrock = client(fake)
        create(bedrock, "import-1")
        create(bedrock, "import-2")
        with pytest.raises(bedrock.exceptions.ServiceQuotaExceededException, match="2 imported"):
            create(bedrock, "import-3")
        bedrock.delete_imported_model(modelIdentifier="import-1-model")
        create(bedrock, "import-3")
        assert len(fake.models) == 2
        assert fake.internal_errors == []
    with FakeBedrock(max_models=1, concurrent_jobs=2) as fake:  # an import holds a place
        bedrock = client(fake)
        create(bedrock, "import-1")
        with pytest.raises(bedrock.exceptions.ServiceQuotaExceededException, match="1 imports"):
            create(bedrock, "import-2")


# -- throttling ------------------------------------------------------------------------


def test_a_throttled_request_is_a_throttling_exception(fake: FakeBedrock) -> None:
    bedrock = client(fake)
    fake.throttle_next(1)
    with pytest.raises(bedrock.exceptions.ThrottlingException) as throttled:
        bedrock.list_model_import_jobs()
    assert code_of(throttled) == ("ThrottlingException", 429)
    assert [r.operation for r in fake.refused] == ["ListModelImportJobs"]
    assert bedrock.list_model_import_jobs()["modelImportJobSummaries"] == []


@pytest.mark.parametrize("config", [None, Config(retries={"mode": "standard"})],
                         ids=["default-retries", "standard-retries"])  # fmt: skip
def test_botocores_retries_get_past_one_throttle(fake: FakeBedrock, config: Config | None) -> None:
    fake.throttle_next(1)
    job_arn = create(client(fake, config))
    assert list(fake.jobs) == [job_arn]
    assert len(fake.refused) == 1
    assert len(fake.requests) == 1


# -- the model's own validation --------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"importedModelName": "acme--llama"},
         "importedModelName: 'acme--llama' does not match pattern ([0-9a-zA-Z][_-]?)+"),
        ({"importedModelName": "3.1"}, "importedModelName: '3.1' does not match pattern"),
        ({"jobName": "j" * 64}, "jobName: length 64 is over the maximum 63"),
        ({"modelDataSource": {"s3DataSource": {"s3Uri": "s3://Archive_Bucket/m/"}}},
         "modelDataSource.s3DataSource.s3Uri: 's3://Archive_Bucket/m/' does not match"),
        ({"jobTags": [{"key": str(n), "value": "v"} for n in range(201)]},
         "jobTags: length 201 is over the maximum 200"),
    ],
)  # fmt: skip
def test_the_server_refuses_what_botocores_client_lets_through(
    fake: FakeBedrock, changes: dict[str, Any], problem: str
) -> None:
    bedrock = client(fake)
    params = {"jobName": "import-1", "importedModelName": "m", "roleArn": ROLE,
              "modelDataSource": {"s3DataSource": {"s3Uri": "s3://archive-bucket/m/"}},
              **changes}  # fmt: skip
    with pytest.raises(bedrock.exceptions.ValidationException) as refused:
        bedrock.create_model_import_job(**params)
    assert code_of(refused) == ("ValidationException", 400)
    assert problem in refused.value.response["Error"]["Message"]
    assert fake.jobs == {}
    assert fake.requests == []
    (refusal,) = fake.refused
    assert refusal.operation == "CreateModelImportJob"
    assert refusal.params == params
    assert any(found.startswith(problem) for found in refusal.problems)


def test_a_list_over_max_results_is_refused(fake: FakeBedrock) -> None:
    bedrock = client(fake)
    with pytest.raises(bedrock.exceptions.ValidationException, match="over the maximum 1000"):
        bedrock.list_imported_models(maxResults=1001)


# -- signing ---------------------------------------------------------------------------


def test_an_unsigned_request_is_access_denied(fake: FakeBedrock) -> None:
    answer = requests.get(f"{fake.endpoint_url}/model-import-jobs", timeout=5)
    assert answer.status_code == 403
    assert answer.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert "SigV4" in answer.json()["message"]
    bedrock = client(fake, Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))
    with pytest.raises(bedrock.exceptions.AccessDeniedException):
        bedrock.list_imported_models()


def test_a_request_signed_for_another_service_is_access_denied(fake: FakeBedrock) -> None:
    url = f"{fake.endpoint_url}/imported-models"
    for service, status in (("sagemaker", 403), ("bedrock", 200)):
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(Credentials("testing", "testing"), service, "us-east-1").add_auth(request)
        answer = requests.get(url, headers=dict(request.headers), timeout=5)
        assert answer.status_code == status, answer.text
    assert fake.refused[0].problems == ["the credential scope names service sagemaker, not bedrock"]


def test_a_request_signed_for_another_region_is_access_denied(fake: FakeBedrock) -> None:
    bedrock = client(fake, region="us-west-2")
    with pytest.raises(bedrock.exceptions.AccessDeniedException, match="us-west-2"):
        bedrock.list_imported_models()
    assert fake.requests == []


# -- the folder, read from S3 ----------------------------------------------------------


@pytest.fixture
def bucket(aws: MotoServer) -> str:
    name = f"models-{uuid.uuid4().hex[:12]}"
    aws.client("s3").create_bucket(Bucket=name)
    return name


def put_folder(aws: MotoServer, bucket: str, files: dict[str, bytes]) -> str:
    s3 = aws.client("s3")
    for name, body in files.items():
        s3.put_object(Bucket=bucket, Key=f"models/m/{name}", Body=body)
    return f"s3://{bucket}/models/m/"


def model_files(config: dict[str, Any] | None = None, **more: bytes) -> dict[str, bytes]:
    return {
        "config.json": json.dumps(config or LLAMA).encode(),
        "model.safetensors": b"\0" * 64,
        "tokenizer.json": b"{}",
        "tokenizer_config.json": json.dumps({"chat_template": "{{ messages }}"}).encode(),
        **more,
    }


def import_from(fake: FakeBedrock, s3_uri: str) -> dict[str, Any]:
    """A job for ``s3_uri``, polled to its end."""
    bedrock = client(fake)
    job_arn = create(bedrock, modelDataSource={"s3DataSource": {"s3Uri": s3_uri}})
    for _ in range(3):
        job: dict[str, Any] = bedrock.get_model_import_job(jobIdentifier=job_arn)
    return job


def test_a_good_folder_imports(aws: MotoServer, bucket: str) -> None:
    s3_uri = put_folder(aws, bucket, model_files({"architectures": ["Qwen3ForCausalLM"]}))
    with FakeBedrock(s3_client=aws.client("s3")) as fake:
        job = import_from(fake, s3_uri)
        assert job["status"] == "Completed"
        model = client(fake).get_imported_model(modelIdentifier=job["importedModelArn"])
        assert (model["modelArchitecture"], model["instructSupported"]) == ("qwen3", True)
        assert model["modelDataSource"] == {"s3DataSource": {"s3Uri": s3_uri}}
        assert fake.internal_errors == []


@pytest.mark.parametrize(
    ("dropped", "message"),
    [
        ("config.json", "have no config.json"),
        ("model.safetensors", "have no .safetensors weights"),
    ],
)
def test_a_folder_without_config_or_weights_fails_as_a_job(
    aws: MotoServer, bucket: str, dropped: str, message: str
) -> None:
    files = model_files()
    del files[dropped]
    s3_uri = put_folder(aws, bucket, files)
    with FakeBedrock(s3_client=aws.client("s3")) as fake:
        job = import_from(fake, s3_uri)
        assert job["status"] == "Failed"
        assert job["failureMessage"] == f"The model files at {s3_uri} {message}"
        assert fake.models == {}


def test_weights_in_a_sub_folder_do_not_count(aws: MotoServer, bucket: str) -> None:
    files = model_files()
    files["original/model.safetensors"] = files.pop("model.safetensors")
    with FakeBedrock(s3_client=aws.client("s3")) as fake:
        job = import_from(fake, put_folder(aws, bucket, files))
        assert job["status"] == "Failed"
        assert "no .safetensors" in job["failureMessage"]


def test_an_unsupported_architecture_is_refused_at_create(aws: MotoServer, bucket: str) -> None:
    s3_uri = put_folder(aws, bucket, model_files({"architectures": ["BertModel"]}))
    with FakeBedrock(s3_client=aws.client("s3")) as fake:
        bedrock = client(fake)
        with pytest.raises(bedrock.exceptions.ValidationException, match="BertModel"):
            create(bedrock, modelDataSource={"s3DataSource": {"s3Uri": s3_uri}})
        assert fake.jobs == {}
        assert fake.internal_errors == []
    with FakeBedrock(s3_client=aws.client("s3"), unsupported_architecture="fail") as fake:
        job = import_from(fake, s3_uri)
        assert job["status"] == "Failed"
        assert "BertModel" in job["failureMessage"]


def test_a_bucket_that_does_not_exist_is_refused_at_create(aws: MotoServer) -> None:
    with FakeBedrock(s3_client=aws.client("s3")) as fake:
        bedrock = client(fake)
        missing = f"s3://no-such-{uuid.uuid4().hex[:12]}/models/m/"
        with pytest.raises(bedrock.exceptions.ValidationException, match="does not exist"):
            create(bedrock, modelDataSource={"s3DataSource": {"s3Uri": missing}})
        assert fake.jobs == {}
        assert fake.internal_errors == []
