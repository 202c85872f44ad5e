"""``--stack NAME``: a deployed stack's resource names, from CloudFormation's DescribeStacks,
in place of the environment's (template.yaml's ``Outputs:`` and two of its parameters)."""

from typing import Any

from ft_archiver.adapters.aws_errors import AWS_ERRORS
from ft_archiver_tools.doctor.result import Check, failed, passed, reason

# template.yaml's output or parameter -> the setting it stands for
OUTPUTS = {
    "ArchiveBucketName": "archive_bucket",
    "EventBusName": "event_bus_name",
    "StateTableName": "state_table_name",
    "ArchiveQueueUrl": "archive_queue_url",
    "ArchiveStateMachineArn": "state_machine_arn",
    "ImportRoleArn": "import_role_arn",
}
PARAMETERS = {
    "ArchivePrefix": "archive_prefix",
    "TogetherApiKeySecretName": "together_api_key_secret_name",
    "TogetherBaseUrl": "together_base_url",
}
BROKEN = ("FAILED", "ROLLBACK_COMPLETE", "DELETE")


def read_stack(cloudformation: Any, name: str) -> tuple[Check, dict[str, str] | None]:
    """The stack's settings by field name, or None when it cannot be read."""
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except AWS_ERRORS as exc:
        return failed(
            "cloudformation.stack",
            f"stack {name} could not be read: {reason(exc)}",
            "check the stack's name and AWS_REGION (the region it was deployed to)",
        ), None
    stack = stacks[0]
    outputs = {item["OutputKey"]: item.get("OutputValue", "") for item in stack.get("Outputs", [])}
    parameters = {
        item["ParameterKey"]: item.get("ResolvedValue", item.get("ParameterValue", ""))
        for item in stack.get("Parameters", [])
    }
    found = {field: outputs[key] for key, field in OUTPUTS.items() if key in outputs}
    found.update({field: parameters[key] for key, field in PARAMETERS.items() if key in parameters})
    status = str(stack.get("StackStatus", "unknown"))
    named = ", ".join(f"{key} {outputs[key]}" for key in OUTPUTS if key in outputs)
    detail = f"stack {name} is {status}: {named or 'no outputs'}"
    if any(word in status for word in BROKEN):
        return failed("cloudformation.stack", detail, "deploy it again (sam deploy)"), found
    return passed("cloudformation.stack", detail), found
