"""What a real account enforces and the local stack does not: KMS key policies, the
state machine's permissions over its Distributed Map's child executions, least
privilege statement by statement. Read from template.yaml and infra/archive.asl.json."""

from typing import Any

import pytest

from ft_archiver_tools.template import load_template, resource
from tests.support.iam import Statement, actions, as_list

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
