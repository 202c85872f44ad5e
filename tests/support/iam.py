"""The IAM of template.yaml as the tests read it: each function's and the state machine's
role, its statements (both branches of an ``!If`` policy count: a condition may grant
them), and their actions and resources."""

from typing import Any

from ft_archiver_tools.template import resource

Statement = dict[str, Any]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_of(template: dict[str, Any], logical_id: str) -> str:
    """The logical id of the role a function or state machine runs with; the template
    declares every role itself (``Role: !GetAtt XRole.Arn``), so that SAM attaches no
    managed policy of its own."""
    role = resource(template, logical_id).get("Role")
    assert isinstance(role, dict), f"{logical_id} has no Role of ours: SAM would make one"
    assert "Fn::GetAtt" in role, role
    name, attribute = role["Fn::GetAtt"]
    assert attribute == "Arn"
    assert template["Resources"][name]["Type"] == "AWS::IAM::Role", name
    return str(name)


def policy_documents(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for policy in resource(template, role).get("Policies", []):
        if "Fn::If" in policy:
            _, when_true, when_false = policy["Fn::If"]
            branches = [when_true, when_false]
        else:
            branches = [policy]
        documents.extend(b["PolicyDocument"] for b in branches if "PolicyDocument" in b)
    return documents


def role_statements(template: dict[str, Any], role: str) -> list[Statement]:
    return [s for document in policy_documents(template, role) for s in document["Statement"]]


def statements(template: dict[str, Any], logical_id: str) -> list[Statement]:
    """The statements of the role a function or the state machine runs with: the
    template's own role, or else the one SAM makes of ``Policies`` (read as SAM expands
    them, so that a test can say what such a role would have allowed)."""
    if "Role" in resource(template, logical_id):
        return role_statements(template, role_of(template, logical_id))
    found: list[Statement] = []
    for policy in resource(template, logical_id).get("Policies", []):
        branches = policy["Fn::If"][1:] if "Fn::If" in policy else [policy]
        for branch in branches:
            if "Statement" in branch:
                found.extend(branch["Statement"])
            elif "LambdaInvokePolicy" in branch:  # SAM's policy template, expanded
                name = branch["LambdaInvokePolicy"]["FunctionName"]
                arn = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
                found.append({
                    "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                    "Resource": {"Fn::Sub": [arn + "${functionName}*", {"functionName": name}]},
                })  # fmt: skip
    return found


def actions(statement: Statement) -> list[str]:
    return [str(action) for action in as_list(statement["Action"])]


def granted(found: list[Statement]) -> set[str]:
    return {action for statement in found for action in actions(statement)}


def trust(template: dict[str, Any], role: str) -> list[Statement]:
    statements: list[Statement] = resource(template, role)["AssumeRolePolicyDocument"]["Statement"]
    return statements
