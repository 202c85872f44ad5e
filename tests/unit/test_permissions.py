"""Least privilege proven by a test: for each function, the AWS calls its code can make
(derived from the code by tests/support/permissions.py, not listed by hand) against the
statements of its role in template.yaml. A call without a statement fails, and so does
an action no code uses; for the state table, each (action, key prefix) pair."""

from typing import Any

import pytest

from ft_archiver_tools.template import function_names, load_template, resource
from tests.support.iam import Statement, actions, as_list, granted, role_of, statements
from tests.support.permissions import Calls, derive

TEMPLATE = load_template()
FUNCTIONS = function_names(TEMPLATE)
GLOBALS = TEMPLATE.get("Globals", {}).get("Function", {})


def _calls(function: str) -> Calls:
    return derive(resource(TEMPLATE, function)["Handler"])


def _property(function: str, name: str) -> Any:
    return resource(TEMPLATE, function).get(name, GLOBALS.get(name))


# Adapters that read a missing key as an answer: the archiver's look at its key, the
# unpacker's reads, the import record.
MISSING_IS_AN_ANSWER = (
    "ft_archiver.adapters.s3_held",
    "ft_archiver.adapters.s3_unpack",
    "ft_archiver.adapters.s3_import_record",
)


def platform_actions(
    function: str, code: set[str], sites: dict[str, list[str]] | None = None
) -> set[str]:
    """What Lambda itself does with the function's role, by the template's settings
    (Lambda developer guide: the execution role's permissions for each)."""
    sites = sites or {}
    needed = set()
    if "LoggingConfig" in resource(TEMPLATE, function):  # its log group exists already
        needed |= {"logs:CreateLogStream", "logs:PutLogEvents"}
    if _property(function, "Tracing") == "Active":
        needed |= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    for event in resource(TEMPLATE, function).get("Events", {}).values():
        if event["Type"] == "SQS":  # the event source mapping polls with the role
            needed |= {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
    # SSE-KMS (KmsKeyArn): S3 asks KMS with the caller's permissions; a multipart
    # upload needs kms:Decrypt as well as kms:GenerateDataKey (S3's SSE-KMS page).
    # S3 answers a GetObject/HeadObject of a missing key with 403 to a caller without
    # s3:ListBucket (S3's HeadObject and GetObject pages): code that takes a missing
    # key as an answer (MISSING_IS_AN_ANSWER) needs it.
    if any(site.startswith(MISSING_IS_AN_ANSWER) for site in sites.get("s3:GetObject", [])):
        needed.add("s3:ListBucket")
    # CreateModelImportJob passes the service role (iam:PassRole, IAM user guide:
    # "Granting a user permissions to pass a role to an AWS service") and tags the job
    # and the model as it creates them (jobTags, importedModelTags). Many services
    # authorise tags on create by the TagResource action too; for Bedrock that is not
    # confirmed offline, so bedrock:TagResource is granted on the stack's jobs and
    # models only (docs/permissions.md says so).
    if "bedrock:CreateModelImportJob" in code:
        needed |= {"iam:PassRole", "bedrock:TagResource"}
    if "s3:PutObject" in code:
        needed |= {"kms:GenerateDataKey", "kms:Decrypt"}
    elif "s3:GetObject" in code:
        needed |= {"kms:Decrypt"}
    return needed


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_call_the_code_makes_has_a_statement(function: str) -> None:
    calls = _calls(function)
    needed = calls.actions | platform_actions(function, set(calls.actions), calls.sites)
    missing = needed - granted(statements(TEMPLATE, function))
    assert not missing, {action: calls.sites.get(action, "Lambda") for action in missing}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_action_granted_is_used_by_the_code(function: str) -> None:
    calls = _calls(function)
    needed = calls.actions | platform_actions(function, set(calls.actions), calls.sites)
    assert granted(statements(TEMPLATE, function)) - needed == set()


def _leading_keys(statement: Statement) -> list[str]:
    condition = statement.get("Condition", {}).get("ForAllValues:StringLike", {})
    return [str(key) for key in as_list(condition.get("dynamodb:LeadingKeys", []))]


def _table_grants(function: str) -> set[tuple[str, str]]:
    found = set()
    for statement in statements(TEMPLATE, function):
        table = [a for a in actions(statement) if a.startswith("dynamodb:")]
        if not table:
            continue
        keys = _leading_keys(statement)
        assert keys, f"{function}: {table} on every item of the table"
        assert all(k.endswith("#*") for k in keys), keys
        found |= {(action, key.removesuffix("*")) for action in table for key in keys}
    return found


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_state_table_action_is_granted_for_the_key_prefix_the_code_uses(
    function: str,
) -> None:
    """E.g. the steps function: GetItem and UpdateItem on its lease (``archive#``);
    UpdateItem, BatchGetItem and BatchWriteItem on part digests (``parts#``): a
    BatchWriteItem on ``archive#*`` could overwrite or delete a lease unconditionally."""
    calls = _calls(function)
    assert not calls.unkeyed, "a state table call with no key prefix in sight"
    assert _table_grants(function) == set(calls.keyed)


def test_the_derivation_sees_what_each_function_is_known_to_do() -> None:
    """The derivation itself: a few calls each function is known to make, and an
    adapter each must not reach (the webhook no S3, the archiver no part digests)."""
    webhook, archiver = _calls("WebhookFunction"), _calls("ArchiverFunction")
    steps, poller = _calls("ArchiveStepsFunction"), _calls("PollerFunction")
    assert {"sqs:SendMessage", "secretsmanager:GetSecretValue"} <= webhook.actions
    assert not any(a.startswith(("s3:", "events:", "states:")) for a in webhook.actions)
    assert {"s3:PutObject", "s3:AbortMultipartUpload", "states:StartExecution",
            "sqs:ChangeMessageVisibility", "events:PutEvents"} <= archiver.actions  # fmt: skip
    assert not any(prefix == "parts#" for _, prefix in archiver.keyed)
    assert {("dynamodb:BatchWriteItem", "parts#"), ("dynamodb:GetItem", "archive#")} <= steps.keyed
    assert not any(a.startswith("sqs:") for a in steps.actions)
    assert {prefix for _, prefix in poller.keyed} == {"poll#"}


# -- resources, statement by statement ----------------------------------------------------


def _with(function: str, action: str) -> list[Statement]:
    return [s for s in statements(TEMPLATE, function) if action in actions(s)]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_runs_with_a_role_of_the_template(function: str) -> None:
    """SAM's own role would attach AWSLambdaBasicExecutionRole (logs on every group),
    AWSXrayWriteOnlyAccess, and for an SQS event AWSLambdaSQSQueueExecutionRole
    (Receive and Delete on every queue of the account)."""
    role = role_of(TEMPLATE, function)
    assert "ManagedPolicyArns" not in resource(TEMPLATE, role)
    [trusted] = resource(TEMPLATE, role)["AssumeRolePolicyDocument"]["Statement"]
    assert trusted["Principal"] == {"Service": "lambda.amazonaws.com"}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_logs_go_only_to_the_functions_own_group(function: str) -> None:
    group = resource(TEMPLATE, function)["LoggingConfig"]["LogGroup"]["Ref"]
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        [statement] = _with(function, action)
        assert statement["Resource"] == {"Fn::GetAtt": [group, "Arn"]}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_x_ray_is_granted_once(function: str) -> None:
    found = [a for s in statements(TEMPLATE, function) for a in actions(s) if a.startswith("xray:")]
    assert sorted(found) == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_secrets_are_named_with_secrets_managers_six_character_suffix(function: str) -> None:
    """``secret:NAME-*`` would also match ``NAME-prod``; Secrets Manager appends exactly
    six characters. (A function that reads no secret has no such statement: the test
    above finds any call without one.)"""
    for statement in _with(function, "secretsmanager:GetSecretValue"):
        for arn in as_list(statement["Resource"]):
            assert arn["Fn::Sub"].endswith("}-??????"), arn


@pytest.mark.parametrize("function", FUNCTIONS)
def test_kms_only_through_s3(function: str) -> None:
    for statement in [s for s in statements(TEMPLATE, function) if "kms:Decrypt" in actions(s)]:
        assert statement["Resource"] == {"Ref": "KmsKeyArn"}
        assert statement["Condition"] == {
            "StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}
        }


def _event_source_queue(function: str) -> Any:
    sources = [
        event["Properties"]["Queue"]
        for event in resource(TEMPLATE, function).get("Events", {}).values()
        if event["Type"] == "SQS"
    ]
    return sources[0] if sources else None


@pytest.mark.parametrize("function", FUNCTIONS)
def test_queue_actions_only_on_the_functions_own_queue(function: str) -> None:
    """A queue's consumer on the queue that invokes it (UnpackFunction on UnpackQueue);
    the others only send, to ArchiveQueue."""
    own = _event_source_queue(function) or {"Fn::GetAtt": ["ArchiveQueue", "Arn"]}
    for statement in statements(TEMPLATE, function):
        if any(a.startswith("sqs:") for a in actions(statement)):
            assert statement["Resource"] == own


@pytest.mark.parametrize("function", ["ArchiverFunction", "UnpackFunction", "ImportFunction"])
def test_a_consumers_event_source_polls_its_queue_with_its_own_statement(function: str) -> None:
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
        [statement] = _with(function, action)
        assert statement["Resource"] == _event_source_queue(function)


def test_the_schedule_may_invoke_only_the_poller_for_this_account() -> None:
    """EventBridge Scheduler assumes a role to invoke the poller: the template's own,
    trusted for this account only (the confused deputy), allowed that one function."""
    poll = resource(TEMPLATE, "PollerFunction")["Events"]["Poll"]["Properties"]
    role = poll["RoleArn"]["Fn::GetAtt"][0]
    [trusted] = resource(TEMPLATE, role)["AssumeRolePolicyDocument"]["Statement"]
    assert trusted["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trusted["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }
    from tests.support.iam import role_statements

    [statement] = role_statements(TEMPLATE, role)
    assert actions(statement) == ["lambda:InvokeFunction"]
    assert statement["Resource"] == {"Fn::GetAtt": ["PollerFunction", "Arn"]}
