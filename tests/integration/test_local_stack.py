"""infra/local_stack.py creates what template.yaml declares: read back and compared."""

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from ft_archiver.settings import (
    ArchiverSettings,
    ArchiveStepsSettings,
    FunctionSettings,
    ImporterSettings,
    PollerSettings,
    UnpackerSettings,
    WebhookSettings,
)
from ft_archiver_tools.local.aws import MotoServer
from ft_archiver_tools.local.resources import (
    LocalImportStage,
    LocalResources,
    LocalUnpackStage,
    deploy_local,
)
from ft_archiver_tools.template import (
    Evaluator,
    function_environment,
    function_names,
    load_template,
    resource,
)
from tests.support.iam import statements

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()


@pytest.fixture(scope="module")
def stack(aws: MotoServer) -> LocalResources:
    """Unpack=true and Import=bedrock, so that every function of the template is there
    to compare."""
    name = f"stack-{uuid.uuid4().hex[:8]}"
    return deploy_local(
        aws,
        name,
        together_api_key="k",
        together_base_url="http://127.0.0.1:1/v1",
        parameters={"Unpack": "true", "Import": "bedrock"},
    )


def _unpack(stack: LocalResources) -> LocalUnpackStage:
    assert stack.unpack is not None
    return stack.unpack


def _imports(stack: LocalResources) -> LocalImportStage:
    assert stack.imports is not None
    return stack.imports


def props(logical_id: str) -> dict[str, Any]:
    placeholders = {
        "ArchiveDeadLetterQueue.Arn": "arn:dlq",
        "UnpackDeadLetterQueue.Arn": "arn:udlq",
        "ImportDeadLetterQueue.Arn": "arn:idlq",
    }
    evaluator = Evaluator(TEMPLATE, placeholders)
    resolved: dict[str, Any] = evaluator.resolve(resource(TEMPLATE, logical_id))
    return resolved


def test_bucket_matches_the_template(aws: MotoServer, stack: LocalResources) -> None:
    s3 = aws.client("s3")
    declared = props("ArchiveBucket")
    block = s3.get_public_access_block(Bucket=stack.bucket)["PublicAccessBlockConfiguration"]
    assert block == declared["PublicAccessBlockConfiguration"]
    assert all(block.values())
    rules = s3.get_bucket_encryption(Bucket=stack.bucket)["ServerSideEncryptionConfiguration"]
    assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=stack.bucket)["Status"] == "Enabled"
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=stack.bucket)["Rules"]
    [declared_rule] = declared["LifecycleConfiguration"]["Rules"]
    assert lifecycle[0]["ID"] == declared_rule["Id"]
    assert (
        lifecycle[0]["AbortIncompleteMultipartUpload"]
        == (declared_rule["AbortIncompleteMultipartUpload"])
    )


def test_tls_only_policy_is_declared() -> None:
    statement = resource(TEMPLATE, "ArchiveBucketPolicy")["PolicyDocument"]["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_queues_match_the_template(aws: MotoServer, stack: LocalResources) -> None:
    sqs = aws.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    declared = props("ArchiveQueue")
    assert attributes["VisibilityTimeout"] == str(declared["VisibilityTimeout"])
    redrive = json.loads(attributes["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == declared["RedrivePolicy"]["maxReceiveCount"]
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=stack.dead_letter_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert redrive["deadLetterTargetArn"] == dlq_arn


def test_the_unpack_queue_matches_the_template(aws: MotoServer, stack: LocalResources) -> None:
    sqs = aws.client("sqs")
    unpack = _unpack(stack)
    attributes = sqs.get_queue_attributes(QueueUrl=unpack.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    declared = props("UnpackQueue")
    assert attributes["VisibilityTimeout"] == str(declared["VisibilityTimeout"])
    assert declared["VisibilityTimeout"] >= 6 * resource(TEMPLATE, "UnpackFunction")["Timeout"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == declared["RedrivePolicy"]["maxReceiveCount"]
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=unpack.dead_letter_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert redrive["deadLetterTargetArn"] == dlq_arn


def test_the_unpack_rule_matches_the_template(aws: MotoServer, stack: LocalResources) -> None:
    events = aws.client("events")
    unpack = _unpack(stack)
    rule = events.describe_rule(Name=unpack.rule_name, EventBusName=stack.bus_name)
    pattern = json.loads(rule["EventPattern"])
    assert pattern["source"] == ["ft-archiver"]
    assert pattern["detail-type"] == ["Fine-tune Archived"]
    assert pattern["detail"]["bucket"] == [stack.bucket]
    assert pattern["detail"]["key"] == [{"prefix": stack.prefix}]
    assert "adapter" not in pattern["detail"]["checkpoint_type"]  # UnpackAdapters=false
    [target] = events.list_targets_by_rule(Rule=unpack.rule_name, EventBusName=stack.bus_name)[
        "Targets"
    ]
    assert target["Arn"] == unpack.queue_arn


@pytest.mark.parametrize(
    ("detail", "delivered"),
    [
        ({"key": "models/a.tar.zst", "checkpoint_type": "merged"}, True),
        ({"key": "models/b.tar.zst", "checkpoint_type": "model_output_path"}, True),
        ({"key": "models/c.tar.zst", "checkpoint_type": "adapter"}, False),
        ({"key": "elsewhere/d.tar.zst", "checkpoint_type": "merged"}, False),
    ],
)
def test_the_unpack_rule_delivers_the_stacks_merged_and_full_models_only(
    aws: MotoServer, stack: LocalResources, detail: dict[str, str], delivered: bool
) -> None:
    """Through moto's EventBridge to the SQS target, as the stack's rule would."""
    events, sqs = aws.client("events"), aws.client("sqs")
    unpack = _unpack(stack)
    entry = {"Source": "ft-archiver", "DetailType": "Fine-tune Archived",
             "EventBusName": stack.bus_name,
             "Detail": json.dumps({"bucket": stack.bucket, **detail})}  # fmt: skip
    assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    received = sqs.receive_message(QueueUrl=unpack.queue_url, WaitTimeSeconds=1).get("Messages", [])
    for message in received:
        sqs.delete_message(QueueUrl=unpack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    keys = [json.loads(message["Body"])["detail"]["key"] for message in received]
    assert keys == ([detail["key"]] if delivered else [])


@pytest.mark.parametrize(
    ("parameters", "refused"),
    [
        ({"Unpack": "true", "ChecksumMode": "none"}, True),
        ({"Unpack": "true", "ChecksumMode": "composite"}, True),
        ({"Unpack": "false", "ChecksumMode": "none"}, False),
        ({"Unpack": "true", "ChecksumMode": "full-object"}, False),
    ],
)
def test_the_template_rules_refuse_unpack_without_full_object_checksums(
    aws: MotoServer, parameters: dict[str, str], refused: bool
) -> None:
    name = f"rules-{uuid.uuid4().hex[:8]}"

    def deploy() -> LocalResources:
        return deploy_local(aws, name, together_api_key="k",
                            together_base_url="http://127.0.0.1:1/v1",
                            parameters=parameters)  # fmt: skip

    if refused:
        with pytest.raises(ValueError, match="ChecksumMode=full-object"):
            deploy()
        assert aws.client("sqs").list_queues(QueueNamePrefix=name).get("QueueUrls", []) == []
    else:
        assert (
            deploy().environments["ArchiverFunction"]["FT_ARCHIVER_CHECKSUM_MODE"]
            == (parameters["ChecksumMode"])
        )


def test_the_import_queue_matches_the_template(aws: MotoServer, stack: LocalResources) -> None:
    sqs = aws.client("sqs")
    imports = _imports(stack)
    attributes = sqs.get_queue_attributes(QueueUrl=imports.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    declared = props("ImportQueue")
    assert attributes["VisibilityTimeout"] == str(declared["VisibilityTimeout"])
    assert declared["VisibilityTimeout"] >= 6 * resource(TEMPLATE, "ImportFunction")["Timeout"]
    assert "FifoQueue" not in declared  # per-message DelaySeconds: FIFO queues refuse them
    redrive = json.loads(attributes["RedrivePolicy"])
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=imports.dead_letter_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert redrive["deadLetterTargetArn"] == dlq_arn


def test_the_bedrock_role_is_created_as_the_template_declares(
    aws: MotoServer, stack: LocalResources
) -> None:
    role_name = _imports(stack).role_arn.rsplit("/", 1)[1]
    role = aws.client("iam").get_role(RoleName=role_name)["Role"]
    [trusted] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trusted["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert trusted["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert trusted["Condition"]["ArnEquals"] == {
        "aws:SourceArn": "arn:aws:bedrock:us-east-1:123456789012:model-import-job/*"
    }
    names = aws.client("iam").list_role_policies(RoleName=role_name)["PolicyNames"]
    assert names == ["read-unpacked-folders"]  # no KMS statement without KmsKeyArn


def _unpacked_entry(stack: LocalResources, folder: str, ready: bool) -> dict[str, Any]:
    detail = {"bucket": stack.bucket, "folder": folder,
              "readiness": {"bedrock_custom_model_import": {"ready": ready}}}  # fmt: skip
    return {"Source": "ft-archiver", "DetailType": "Fine-tune Unpacked",
            "EventBusName": stack.bus_name, "Detail": json.dumps(detail)}  # fmt: skip


@pytest.mark.parametrize(
    ("folder", "ready", "delivered"),
    [
        ("models/a/", True, True),
        ("models/b/", False, False),
        ("elsewhere/c/", True, False),
    ],
)
def test_the_import_rule_delivers_the_folders_bedrock_will_take_only(
    aws: MotoServer, stack: LocalResources, folder: str, ready: bool, delivered: bool
) -> None:
    events, sqs = aws.client("events"), aws.client("sqs")
    imports = _imports(stack)
    entry = _unpacked_entry(stack, folder, ready)
    assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    received = sqs.receive_message(QueueUrl=imports.queue_url, WaitTimeSeconds=1).get(
        "Messages", []
    )
    for message in received:
        sqs.delete_message(QueueUrl=imports.queue_url, ReceiptHandle=message["ReceiptHandle"])
    folders = [json.loads(message["Body"])["detail"]["folder"] for message in received]
    assert folders == ([folder] if delivered else [])


def test_the_template_rules_refuse_import_without_unpack(aws: MotoServer) -> None:
    name = f"rules-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ValueError, match=r"ImportNeedsUnpack: .* Unpack=true"):
        deploy_local(aws, name, together_api_key="k", together_base_url="http://127.0.0.1:1/v1",
                     parameters={"Import": "bedrock"})  # fmt: skip
    assert aws.client("sqs").list_queues(QueueNamePrefix=name).get("QueueUrls", []) == []


def test_with_unpack_left_off_there_is_no_unpack_stage(aws: MotoServer) -> None:
    name = f"stack-{uuid.uuid4().hex[:8]}"
    off = deploy_local(aws, name, together_api_key="k", together_base_url="http://127.0.0.1:1/v1")
    assert off.unpack is None
    assert off.imports is None
    assert "UnpackFunction" not in off.environments
    assert "ImportFunction" not in off.environments
    queues = aws.client("sqs").list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    assert not [url for url in queues if "unpack" in url]


def test_visibility_timeout_is_six_times_the_archiver_timeout() -> None:
    archiver = resource(TEMPLATE, "ArchiverFunction")
    assert archiver["Timeout"] == 900
    assert props("ArchiveQueue")["VisibilityTimeout"] >= 6 * archiver["Timeout"]


def test_archiver_event_source_is_batch_of_one_with_partial_failures() -> None:
    source = resource(TEMPLATE, "ArchiverFunction")["Events"]["ArchiveRequests"]["Properties"]
    assert source["BatchSize"] == 1
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_table_matches_the_template(aws: MotoServer, stack: LocalResources) -> None:
    dynamodb = aws.client("dynamodb")
    table = dynamodb.describe_table(TableName=stack.table_name)["Table"]
    declared = props("StateTable")
    assert table["KeySchema"] == declared["KeySchema"]
    ttl = dynamodb.describe_time_to_live(TableName=stack.table_name)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == declared["TimeToLiveSpecification"]["AttributeName"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"


def test_secrets_exist_under_the_names_the_functions_read(
    aws: MotoServer, stack: LocalResources
) -> None:
    secrets = aws.client("secretsmanager")
    archiver = stack.environments["ArchiverFunction"]
    webhook = stack.environments["WebhookFunction"]
    key = secrets.get_secret_value(SecretId=archiver["TOGETHER_API_KEY_SECRET_NAME"])
    assert key["SecretString"] == "k"
    secret = secrets.get_secret_value(SecretId=webhook["WEBHOOK_SECRET_NAME"])
    assert secret["SecretString"].startswith("whsec_")


def test_the_webhook_knows_the_archivers_prefix(stack: LocalResources) -> None:
    """So that it refuses (400) a key the archiver would refuse after queuing."""
    archiver = stack.environments["ArchiverFunction"]
    webhook = stack.environments["WebhookFunction"]
    assert webhook["ARCHIVE_PREFIX"] == archiver["ARCHIVE_PREFIX"] == stack.prefix


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.together.xyz/v1", True),
        ("https://proxy.internal.example:8443/together/v1", True),
        ("http://api.together.xyz/v1", False),
        ("http://127.0.0.1:8080/v1", False),  # the simulator never runs in AWS
        ("https://user:pass@api.together.xyz/v1", False),
        ("https://api.together.xyz/v1?x=1", False),
        ("api.together.xyz", False),
    ],
)
def test_the_together_base_url_parameter_is_https_only(url: str, allowed: bool) -> None:
    parameter = TEMPLATE["Parameters"]["TogetherBaseUrl"]
    assert re.fullmatch(parameter["AllowedPattern"], parameter["Default"])
    assert bool(re.fullmatch(parameter["AllowedPattern"], url)) is allowed


def test_no_secret_is_a_plain_environment_variable() -> None:
    for function in FUNCTIONS:
        names = set(function_environment(TEMPLATE, function))
        assert not names & {"TOGETHER_API_KEY", "WEBHOOK_SECRET"}


# Each function's settings model, by the function it names.
SETTINGS: dict[str, type[FunctionSettings]] = {
    kind.FUNCTION: kind
    for kind in (
        WebhookSettings,
        ArchiverSettings,
        PollerSettings,
        ArchiveStepsSettings,
        UnpackerSettings,
        ImporterSettings,
    )
}


def _variables(function: str) -> set[str]:
    """The function's own variables (Powertools reads the POWERTOOLS_* ones)."""
    names = set(function_environment(TEMPLATE, function))
    return {name for name in names if not name.startswith("POWERTOOLS_")}


def test_every_function_has_settings_of_its_own() -> None:
    assert sorted(SETTINGS) == sorted(FUNCTIONS)


@pytest.mark.parametrize("function", sorted(SETTINGS))
def test_every_environment_variable_is_one_of_the_functions_settings(function: str) -> None:
    """Nothing in a function's environment that its settings do not read."""
    aliases = {
        field.validation_alias
        for field in SETTINGS[function].model_fields.values()
        if isinstance(field.validation_alias, str)
    }
    assert _variables(function) - aliases == set()


@pytest.mark.parametrize("function", sorted(SETTINGS))
def test_every_required_setting_is_in_the_functions_environment(function: str) -> None:
    kind = SETTINGS[function]
    required = {
        str(field.validation_alias) for field in kind.model_fields.values() if field.is_required()
    }
    assert required  # each function requires something: its table and queue at least
    assert required - _variables(function) == set()
    for group in kind.REQUIRED_ONE_OF:
        assert set(group) & _variables(function), group


@pytest.mark.parametrize("function", sorted(SETTINGS))
def test_the_deployed_environment_is_a_valid_configuration(
    function: str, stack: LocalResources
) -> None:
    settings = SETTINGS[function].model_validate(stack.environments[function])
    if isinstance(settings, UnpackerSettings):  # no table; its own queue
        assert settings.unpack_queue_url == _unpack(stack).queue_url
        assert settings.archive_bucket == stack.bucket
        assert settings.unpack_prefix == settings.archive_prefix == stack.prefix
        return
    if isinstance(settings, ImporterSettings):  # no table; its own queue; Bedrock's role
        assert settings.import_queue_url == _imports(stack).queue_url
        assert settings.import_role_arn == _imports(stack).role_arn
        assert settings.archive_bucket == stack.bucket
        assert settings.unpack_prefix == stack.prefix
        return
    assert settings.state_table_name == stack.table_name
    # The state machine's steps send nothing to ArchiveQueue; every other function does.
    queue = None if function == "ArchiveStepsFunction" else stack.queue_url
    assert settings.archive_queue_url == queue


def test_handlers_named_in_the_template_exist() -> None:
    import importlib

    for function in FUNCTIONS:
        module, attribute = resource(TEMPLATE, function)["Handler"].rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), attribute))


FUNCTIONS = function_names(TEMPLATE)


def _statements(function: str) -> list[dict[str, Any]]:
    """The statements of the function's role (tests/support/iam.py reads it)."""
    return statements(TEMPLATE, function)


# Actions granted on "*": X-Ray's take no resource; CreateModelImportJob creates what it
# would name, and ListImportedModels lists the account's.
ON_EVERY_RESOURCE = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "bedrock:CreateModelImportJob",
    "bedrock:ListImportedModels",
}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_iam_names_actions_and_resources(function: str) -> None:
    for statement in _statements(function):
        actions = statement["Action"]
        for action in actions if isinstance(actions, list) else [actions]:
            assert "*" not in action, action
        if statement["Resource"] == "*":
            assert set(actions) <= ON_EVERY_RESOURCE, actions


def test_poller_runs_on_a_schedule_that_can_be_switched_off() -> None:
    poll = resource(TEMPLATE, "PollerFunction")["Events"]["Poll"]
    assert poll["Type"] == "ScheduleV2"
    assert poll["Properties"]["ScheduleExpression"] == {"Ref": "PollSchedule"}
    assert poll["Properties"]["State"] == {"Fn::If": ["PollerOn", "ENABLED", "DISABLED"]}
    parameters = TEMPLATE["Parameters"]
    assert parameters["PollSchedule"]["Default"] == "rate(5 minutes)"
    assert parameters["PollerEnabled"]["Default"] == "true"
    assert parameters["ArchiveSince"]["Default"] == ""


def test_poller_touches_only_its_own_state_items_and_sends_to_the_queue() -> None:
    statements = _statements("PollerFunction")
    [table] = [s for s in statements if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert table["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["poll#*"]}}
    assert "dynamodb:UpdateItem" not in table["Action"]
    [queue] = [s for s in statements if s["Action"] == "sqs:SendMessage"]
    assert queue["Resource"] == {"Fn::GetAtt": ["ArchiveQueue", "Arn"]}
    everything = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not any(a.startswith(("s3:", "events:")) for a in everything)


def test_poller_parameters_are_valid_settings() -> None:
    env = function_environment(TEMPLATE, "PollerFunction")
    defaults = {name: spec.get("Default") for name, spec in TEMPLATE["Parameters"].items()}
    # a parameter's default, or a resource's logical id standing in for its name
    values = {
        name: str(defaults.get(ref["Ref"], ref["Ref"]))
        for name, ref in env.items()
        if isinstance(ref, dict) and "Ref" in ref
    }
    settings = PollerSettings.model_validate(values)
    assert settings.selection.label == "final/default"
    assert settings.poll_max_archives == 100
    assert settings.archive_since is None


def test_archiver_may_delay_the_retry_of_an_archive_queue_message() -> None:
    [queue] = [s for s in _statements("ArchiverFunction") if "sqs:SendMessage" in s["Action"]]
    assert "sqs:ChangeMessageVisibility" in queue["Action"]
    assert queue["Resource"] == {"Fn::GetAtt": ["ArchiveQueue", "Arn"]}


def test_archiver_continuations_are_capped_by_a_parameter(stack: LocalResources) -> None:
    env = function_environment(TEMPLATE, "ArchiverFunction")
    assert env["FT_ARCHIVER_MAX_CONTINUATIONS"] == {"Ref": "MaxContinuations"}
    parameter = TEMPLATE["Parameters"]["MaxContinuations"]
    assert stack.environments["ArchiverFunction"]["FT_ARCHIVER_MAX_CONTINUATIONS"] == "100"
    settings = ArchiverSettings.model_validate(stack.environments["ArchiverFunction"])
    assert settings.max_continuations == parameter["Default"] == 100
    # The longest chain the parameter allows (MaxValue continuations after the first
    # invocation) ends before the bucket's lifecycle rule aborts its upload, with half a
    # day to spare for retries between the invocations.
    timeout_s = resource(TEMPLATE, "ArchiverFunction")["Timeout"]
    longest_chain_s = (parameter["MaxValue"] + 1) * timeout_s
    [rule] = props("ArchiveBucket")["LifecycleConfiguration"]["Rules"]
    lifecycle_s = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] * 86_400
    assert longest_chain_s + 12 * 3600 < lifecycle_s


@pytest.mark.parametrize("function", ["ArchiverFunction", "UnpackFunction"])
def test_a_function_may_continue_itself_through_its_queue(function: str) -> None:
    # Lambda's recursive loop detection would stop a long archive's continuations.
    assert resource(TEMPLATE, function)["RecursiveLoop"] == "Allow"


@pytest.mark.parametrize("function", ["ArchiverFunction", "UnpackFunction"])
def test_an_alarm_watches_for_dropped_recursive_invocations(function: str) -> None:
    [alarm] = [
        spec["Properties"]
        for spec in TEMPLATE["Resources"].values()
        if spec["Type"] == "AWS::CloudWatch::Alarm"
        and spec["Properties"]["MetricName"] == "RecursiveInvocationsDropped"
        and spec["Properties"]["Dimensions"][0]["Value"] == {"Ref": function}
    ]
    assert alarm["Namespace"] == "AWS/Lambda"
    condition = (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"])
    assert condition == ("Sum", "GreaterThanThreshold", 0)  # any dropped invocation
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def _s3_grants(function: str) -> dict[str, set[str]]:
    """Each S3 resource pattern of the function's role (its Fn::Sub text), with its actions."""
    found: dict[str, set[str]] = {}
    for statement in _statements(function):
        names = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        s3 = {name for name in names if name.startswith("s3:")}
        if s3:
            found.setdefault(statement["Resource"]["Fn::Sub"][0], set()).update(s3)
    return found


def test_the_unpacker_reads_the_archives_and_writes_only_its_folders_and_the_manifest() -> None:
    grants = _s3_grants("UnpackFunction")
    archives = grants.pop("arn:${AWS::Partition}:s3:::${Bucket}/${ArchivePrefix}*")
    assert all(action.startswith("s3:Get") for action in archives), archives
    manifests = grants.pop("arn:${AWS::Partition}:s3:::${Bucket}/${ArchivePrefix}*.manifest.json")
    assert manifests == {"s3:PutObject"}
    assert grants.pop("arn:${AWS::Partition}:s3:::${Bucket}") == {"s3:ListBucket"}  # 404s
    [folders] = grants.values()
    assert list(grants) == ["arn:${AWS::Partition}:s3:::${Bucket}/${UnpackPrefix}*"]
    assert {"s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"} <= folders
    environment = function_environment(TEMPLATE, "UnpackFunction")
    assert environment["UNPACK_PREFIX"] == {
        "Fn::If": ["UnpackPrefixGiven", {"Ref": "UnpackPrefix"}, {"Ref": "ArchivePrefix"}]
    }


def test_archiver_writes_only_under_the_prefix() -> None:
    [s3] = [s for s in _statements("ArchiverFunction") if "s3:PutObject" in s["Action"]]
    template_text = s3["Resource"]["Fn::Sub"][0]
    assert template_text.endswith("${Bucket}/${ArchivePrefix}*")


def test_runtime_requirements_match_the_package_dependencies() -> None:
    def names(lines: list[str]) -> set[str]:
        return {
            re.split(r"[<>=\[ ]", line.strip().strip('",'))[0].lower()
            for line in lines
            if line.strip() and not line.strip().startswith("#")
        }

    requirements = names((ROOT / "functions" / "requirements.txt").read_text().splitlines())
    pyproject = (ROOT / "pyproject.toml").read_text()
    block = pyproject.split("dependencies = [", 1)[1].split("]", 1)[0]
    assert requirements == names(block.splitlines())


# -- production hardening: cost, blast radius, least privilege --------------------------


def test_concurrency_is_capped_where_it_costs() -> None:
    webhook = resource(TEMPLATE, "WebhookFunction")
    assert webhook["ReservedConcurrentExecutions"] == {"Ref": "WebhookReservedConcurrency"}
    archiver = resource(TEMPLATE, "ArchiverFunction")
    assert "ReservedConcurrentExecutions" not in archiver  # it would throttle the SQS consumer
    source = archiver["Events"]["ArchiveRequests"]["Properties"]
    assert source["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "ArchiverMaxConcurrency"}}
    assert TEMPLATE["Parameters"]["ArchiverMaxConcurrency"]["MinValue"] == 2  # SQS's floor


def test_every_function_logs_to_a_group_with_retention() -> None:
    for function in FUNCTIONS:
        group = resource(TEMPLATE, function)["LoggingConfig"]["LogGroup"]["Ref"]
        assert TEMPLATE["Resources"][group]["Type"] == "AWS::Logs::LogGroup"
        assert resource(TEMPLATE, group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert TEMPLATE["Parameters"]["LogRetentionDays"]["Default"] == 30


def test_alarms_reach_the_topic() -> None:
    alarms = {name: spec["Properties"] for name, spec in TEMPLATE["Resources"].items()
              if spec["Type"] == "AWS::CloudWatch::Alarm"}  # fmt: skip
    watched = {(a["Namespace"], a["MetricName"]) for a in alarms.values()}
    assert {("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
            ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
            ("FtArchiver", "ArchiveFailures"),
            ("FtArchiver", "UnexpectedTogetherAnswer")} <= watched  # fmt: skip
    for function in FUNCTIONS:
        for metric in ("Errors", "Throttles"):
            assert any(a["MetricName"] == metric
                       and a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
                       for a in alarms.values()), (function, metric)  # fmt: skip
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms.values())
    subscription = TEMPLATE["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert {"ArchiveDeadLetterQueueArn", "AlarmTopicArn"} <= set(TEMPLATE["Outputs"])


def test_the_steps_function_pages_for_sustained_failures_and_any_failed_archive() -> None:
    """Every step failure the state machine retries is a Lambda error of the steps
    function: one is not worth a page; a failed execution is."""
    alarms = [spec["Properties"] for spec in TEMPLATE["Resources"].values()
              if spec["Type"] == "AWS::CloudWatch::Alarm"]  # fmt: skip
    steps = [a for a in alarms if a.get("Dimensions") == [
        {"Name": "FunctionName", "Value": {"Ref": "ArchiveStepsFunction"}}]]  # fmt: skip
    assert {a["MetricName"] for a in steps} == {"Errors", "Throttles"}
    assert {(a["Period"], a["EvaluationPeriods"], a["DatapointsToAlarm"]) for a in steps} == {
        (300, 3, 3)
    }
    [failed] = [a for a in alarms if a["MetricName"] == "ExecutionsFailed"]
    assert (failed["EvaluationPeriods"], failed["Threshold"]) == (1, 0)


def _table_statement(function: str) -> dict[str, Any]:
    [statement] = [s for s in _statements(function)
                   if any(str(a).startswith("dynamodb:") for a in s["Action"])]  # fmt: skip
    return statement


@pytest.mark.parametrize(
    ("function", "prefix", "actions"),
    [
        ("WebhookFunction", "webhook#*",
         {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}),
        ("ArchiverFunction", "archive#*", {"dynamodb:GetItem", "dynamodb:UpdateItem"}),
        ("PollerFunction", "poll#*",
         {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchGetItem",
          "dynamodb:BatchWriteItem"}),
    ],
)  # fmt: skip
def test_each_function_touches_only_its_own_state_items(
    function: str, prefix: str, actions: set[str]
) -> None:
    statement = _table_statement(function)
    assert set(statement["Action"]) == actions
    assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [prefix]}}


def test_state_item_keys_match_the_iam_prefixes() -> None:
    import inspect

    from ft_archiver.adapters import poll_state, state

    assert 'f"webhook#{' in inspect.getsource(state)
    assert 'f"archive#{' in inspect.getsource(state)
    assert '"poll#' in inspect.getsource(poll_state)


def test_events_can_only_be_put_as_ft_archiver() -> None:
    [put] = [s for s in _statements("ArchiverFunction") if s["Action"] == "events:PutEvents"]
    assert put["Condition"] == {"StringEquals": {"events:source": "ft-archiver"}}
    from ft_archiver.domain.events import EVENT_SOURCE

    assert EVENT_SOURCE == "ft-archiver"
