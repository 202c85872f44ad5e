"""What a real account enforces and the local stack does not: KMS key policies, the
state machine's permissions over its Distributed Map's child executions, least
privilege statement by statement. Read from template.yaml and infra/archive.asl.json."""

import json
import re
from typing import Any

import pytest

from ft_archiver_tools.template import TEMPLATE_PATH, load_template, resource
from tests.support.iam import Statement, actions, as_list, role_of, statements

ROOT = TEMPLATE_PATH.parent
TEMPLATE = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
ACCOUNT = {"Ref": "AWS::AccountId"}


def _of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: spec for name, spec in RESOURCES.items() if spec["Type"] == kind}


def _ref(value: Any) -> str | None:
    """The logical id a ``!Ref`` or ``!GetAtt`` names, if any."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return None


# -- alarms must be able to page someone -----------------------------------------------

# The services that publish to a topic, by what makes them publish.
ALARM_ACTIONS = ("AlarmActions", "OKActions", "InsufficientDataActions")


def _publishers() -> dict[str, set[str]]:
    """Each topic in the template and the service principals that publish to it."""
    found: dict[str, set[str]] = {}
    for alarm in _of_type("AWS::CloudWatch::Alarm").values():
        for field in ALARM_ACTIONS:
            for action in alarm["Properties"].get(field, []):
                topic = _ref(action)
                if topic and RESOURCES[topic]["Type"] == "AWS::SNS::Topic":
                    found.setdefault(topic, set()).add("cloudwatch.amazonaws.com")
    for rule in _of_type("AWS::Events::Rule").values():
        for target in rule["Properties"].get("Targets", []):
            topic = _ref(target["Arn"])
            if topic and RESOURCES[topic]["Type"] == "AWS::SNS::Topic":
                found.setdefault(topic, set()).add("events.amazonaws.com")
    return found


def _key_resource(key_id: Any) -> str:
    """The AWS::KMS::Key a topic's KmsMasterKeyId names (through an alias too)."""
    assert not (isinstance(key_id, str) and key_id.startswith("alias/aws/")), (
        f"{key_id} is an AWS-managed key: its policy cannot admit another service"
    )
    name = _ref(key_id)
    assert name, f"{key_id!r} is not a key of this template: nobody can tell what it admits"
    if RESOURCES[name]["Type"] == "AWS::KMS::Alias":
        name = _ref(resource(TEMPLATE, name)["TargetKeyId"])
        assert name
    assert RESOURCES[name]["Type"] == "AWS::KMS::Key"
    return name


def _admits(statement: Statement, service: str) -> bool:
    principal = statement.get("Principal", {})
    return (
        statement["Effect"] == "Allow"
        and isinstance(principal, dict)
        and service in as_list(principal.get("Service", []))
        and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(actions(statement))
    )


def test_alarms_reach_at_least_one_topic() -> None:
    assert _publishers()


@pytest.mark.parametrize("topic", sorted(_publishers()))
def test_every_topic_an_alarm_targets_is_publishable_by_its_publishers(topic: str) -> None:
    """SNS encrypts with the topic's key on behalf of the publisher: CloudWatch must be
    allowed to use it, or every alarm action fails and nobody is paged."""
    key_id = resource(TEMPLATE, topic).get("KmsMasterKeyId")
    if key_id is None:
        return  # unencrypted: anyone the topic policy allows may publish
    key = resource(TEMPLATE, _key_resource(key_id))
    assert key.get("EnableKeyRotation") is True
    policy = key["KeyPolicy"]["Statement"]
    for service in _publishers()[topic]:
        [admitted] = [s for s in policy if _admits(s, service)]
        assert admitted["Resource"] == "*"  # a key policy's own key
        # only on this account's behalf (the confused deputy)
        assert admitted["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_the_alarm_key_stays_manageable_by_the_account() -> None:
    """A key policy that does not admit the account's root locks IAM out of the key."""
    for key in _of_type("AWS::KMS::Key").values():
        root = {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
        assert any(
            s["Effect"] == "Allow" and s["Principal"] == root and actions(s) == ["kms:*"]
            for s in key["Properties"]["KeyPolicy"]["Statement"]
        )


# -- the state machine: its Distributed Map's child executions, its one function -------

MACHINE = "ArchiveStateMachine"
ASL: dict[str, Any] = json.loads((ROOT / resource(TEMPLATE, MACHINE)["DefinitionUri"]).read_text())
STATES_ARN = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"


def _machine_name() -> str:
    """The state machine's name as a ``!Sub`` text (fixed, so that ARNs can be built)."""
    name = resource(TEMPLATE, MACHINE)["Name"]
    assert isinstance(name, dict), "an unnamed machine's ARNs cannot be granted in advance"
    return str(name["Fn::Sub"])


def _states(states: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every state of a definition with its name, nested ones included."""
    found = []
    for name, state in states.items():
        found.append((name, state))
        for inner in ("ItemProcessor", "Iterator"):
            if inner in state:
                found.extend(_states(state[inner]["States"]))
        for branch in state.get("Branches", []):
            found.extend(_states(branch["States"]))
    return found


def _distributed_maps() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, state)
        for name, state in _states(ASL["States"])
        if state["Type"] == "Map"
        and state.get("ItemProcessor", {}).get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"
    ]


def _machine_statements() -> list[Statement]:
    return statements(TEMPLATE, MACHINE)


def _granting(action: str, found: list[Statement]) -> list[Any]:
    """The resources of every statement that allows ``action``."""
    return [r for s in found if action in actions(s) for r in as_list(s["Resource"])]


def test_the_definition_has_a_distributed_map() -> None:
    assert _distributed_maps()


@pytest.mark.parametrize(("state", "definition"), _distributed_maps())
def test_every_distributed_map_may_start_describe_and_stop_its_child_executions(
    state: str, definition: dict[str, Any]
) -> None:
    """A Distributed Map runs each batch as a child execution of this machine, named
    ``execution:{machine}/{label}:{id}``, the label being the state's ``Label`` (without
    one, AWS generates a UUID: Step Functions guide, "Viewing a Distributed Map Run
    execution"; AWS's IAM page for Distributed Map states writes ``{mapStateName}``,
    the label the console sets by default). So exactly the Label's children are
    granted, not the state name's too. A grant on ``execution:{machine}:*`` matches the
    parent executions only: in a real account the Map Run could neither watch nor stop
    its children."""
    label = definition.get("Label")
    assert label, f"{state}: without a Label AWS generates one, and no grant can name it"
    machine = _machine_name()
    found = _machine_statements()
    # starting a child execution is StartExecution on the machine itself
    assert {"Fn::Sub": f"{STATES_ARN}:stateMachine:{machine}"} in _granting(
        "states:StartExecution", found
    )
    children = [{"Fn::Sub": f"{STATES_ARN}:execution:{machine}/{label}:*"}]
    for action in ("states:DescribeExecution", "states:StopExecution"):
        resources = _granting(action, found)
        assert sorted(map(json.dumps, resources)) == sorted(map(json.dumps, children)), action


def test_the_machine_invokes_exactly_the_function_its_tasks_name() -> None:
    """``lambda:InvokeFunction`` on the function's own ARN: a ``name*`` pattern would
    also match every function whose name starts with it. A qualified ARN (``:alias``)
    in the definition would need ``:*`` too; it has none."""
    substitutions = resource(TEMPLATE, MACHINE)["DefinitionSubstitutions"]
    invoked = set()
    for _, state in _states(ASL["States"]):
        if state["Type"] == "Task":
            match = re.fullmatch(r"\$\{(\w+)\}", state["Resource"])
            assert match, f"{state['Resource']}: not a function of the template"
            invoked.add(json.dumps(substitutions[match.group(1)]))
    assert invoked == {json.dumps({"Fn::GetAtt": ["ArchiveStepsFunction", "Arn"]})}
    granted_to = [json.dumps(r) for r in _granting("lambda:InvokeFunction", _machine_statements())]
    assert sorted(granted_to) == sorted(invoked)


def test_the_machines_role_allows_what_the_definition_needs_and_no_more() -> None:
    """Tasks, the Distributed Map, X-Ray tracing (Step Functions' own list of four
    actions) and, when the machine logs, CloudWatch Logs' delivery actions."""
    needed = {"lambda:InvokeFunction"}
    if _distributed_maps():
        needed |= {"states:StartExecution", "states:DescribeExecution", "states:StopExecution"}
    if resource(TEMPLATE, MACHINE).get("Tracing", {}).get("Enabled"):
        needed |= XRAY_MACHINE
    if "Logging" in resource(TEMPLATE, MACHINE):
        needed |= LOG_DELIVERY
    found = [a for s in _machine_statements() for a in actions(s)]
    assert sorted(found) == sorted(needed)  # each once: no duplicated statement
    assert "ManagedPolicyArns" not in resource(TEMPLATE, role_of(TEMPLATE, MACHINE))


# Step Functions' X-Ray tracing and CloudWatch Logs delivery: actions without
# resource-level permissions (the Step Functions developer guide's policies for each).
XRAY_MACHINE = {
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
}  # fmt: skip
LOG_DELIVERY = {
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}  # fmt: skip


# -- checkov (make checkov): a finding not fixed is skipped in the template, with why -----


def test_every_checkov_skip_says_why() -> None:
    skips = [
        (name, skip)
        for name, spec in RESOURCES.items()
        for skip in spec.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for name, skip in skips:
        assert re.fullmatch(r"CKV_AWS_\d+", skip["id"]), (name, skip)
        comment = skip.get("comment", "")
        assert len(comment) > 20, (name, skip)  # a reason, in one line
        assert "\n" not in comment, (name, skip)
