"""Creates template.yaml's resources in a local emulator (moto's server), read from the
template itself so the two cannot drift; ``tests/integration/test_local_stack.py``
reads every setting back and compares it with the template.

Not reproduced locally, on purpose: the TLS-only bucket policy (loopback is plain HTTP,
and moto does not evaluate bucket policies), the functions' roles (only the role Bedrock
assumes is created, so that ``doctor`` can find it; tests/support/enforced.py builds the
others from the template for the run in which moto enforces IAM), the
functions themselves (``ft-archiver serve`` runs their handlers in-process), and the
CloudWatch alarms (no Lambda metrics exist locally to feed them).
"""

import base64
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from ft_archiver_tools.local.aws import MotoServer
from ft_archiver_tools.template import (
    Evaluator,
    function_environment,
    function_names,
    load_template,
    resource,
)


@dataclass(frozen=True)
class LocalResources:
    bucket: str
    prefix: str
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    table_name: str
    bus_name: str
    webhook_secret: str
    environments: dict[str, dict[str, str]]  # function logical id -> its environment
    unpack: "LocalUnpackStage | None" = None  # Unpack=true only
    imports: "LocalImportStage | None" = None  # Import=bedrock only
    # every value the template was resolved with: parameters, pseudo-parameters and the
    # physical ids made here (what a test resolves the template's statements against)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LocalUnpackStage:
    """UnpackQueue, its DLQ, and the rule that feeds it from the stack's own events."""

    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    rule_name: str
    prefix: str  # UNPACK_PREFIX: where the folders go


@dataclass(frozen=True)
class LocalImportStage:
    """ImportQueue, its DLQ, the rule that feeds it, and the role Bedrock assumes."""

    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    rule_name: str
    role_arn: str  # IMPORT_ROLE_ARN


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def deploy_local(
    server: MotoServer,
    name: str,
    *,
    together_api_key: str,
    together_base_url: str,
    webhook_secret: str | None = None,
    parameters: dict[str, Any] | None = None,
) -> LocalResources:
    """Every resource of the template, named after ``name``; returns what was made."""
    template = load_template()
    webhook_secret = webhook_secret or new_webhook_secret()
    values: dict[str, Any] = {
        "EventBusName": name,
        "TogetherApiKeySecretName": f"{name}/together-api-key",
        "WebhookSecretName": f"{name}/webhook-secret",
        "TogetherBaseUrl": together_base_url,
        "AWS::Partition": "aws",
        "AWS::Region": "us-east-1",
        "AWS::AccountId": "123456789012",
        "AWS::StackName": name,
    }
    values.update(parameters or {})
    evaluator = Evaluator(template, values)
    values = evaluator.values
    check_rules(template, evaluator)

    bucket = _bucket(server, template, evaluator, name)
    values["ArchiveBucket"] = bucket
    dlq_url, dlq_arn = _queue(server, template, evaluator, "ArchiveDeadLetterQueue", f"{name}-dlq")
    values["ArchiveDeadLetterQueue.Arn"] = dlq_arn
    queue_url, queue_arn = _queue(server, template, evaluator, "ArchiveQueue", f"{name}-archive")
    values["ArchiveQueue"] = queue_url
    values["ArchiveQueue.Arn"] = queue_arn
    table = _table(server, template, evaluator, f"{name}-state")
    values["StateTable"] = table
    bus = str(values["EventBusName"])
    if bus != "default":
        server.client("events").create_event_bus(Name=bus)
    secretsmanager = server.client("secretsmanager")
    secretsmanager.create_secret(
        Name=values["TogetherApiKeySecretName"], SecretString=together_api_key
    )
    secretsmanager.create_secret(Name=values["WebhookSecretName"], SecretString=webhook_secret)
    unpack = (
        _unpack_stage(server, template, evaluator, name)
        if evaluator.condition("UnpackOn")
        else None
    )
    imports = (
        _import_stage(server, template, evaluator, name)
        if evaluator.condition("ImportOn")
        else None
    )

    environments = {
        function: {
            key: str(value)
            for key, value in evaluator.resolve(function_environment(template, function)).items()
        }
        for function in function_names(template)
        if _present(template, evaluator, function)
    }
    return LocalResources(
        bucket=bucket,
        prefix=str(values["ArchivePrefix"]),
        queue_url=queue_url,
        queue_arn=queue_arn,
        dead_letter_queue_url=dlq_url,
        table_name=table,
        bus_name=bus,
        webhook_secret=webhook_secret,
        environments=environments,
        unpack=unpack,
        imports=imports,
        values=dict(values),
    )


def check_rules(template: dict[str, Any], evaluator: Evaluator) -> None:
    """The template's Rules, as CloudFormation checks them before it creates anything:
    a parameter combination a rule refuses raises ValueError with its description."""
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not evaluator.resolve(rule["RuleCondition"]):
            continue
        for assertion in rule["Assertions"]:
            if not evaluator.resolve(assertion["Assert"]):
                raise ValueError(f"{name}: {assertion['AssertDescription']}")


def _present(template: dict[str, Any], evaluator: Evaluator, logical_id: str) -> bool:
    condition = template["Resources"][logical_id].get("Condition")
    return condition is None or evaluator.condition(condition)


def _queue_behind_rule(
    server: MotoServer, template: dict[str, Any], evaluator: Evaluator, name: str, stage: str
) -> tuple[str, str, str, str]:
    """``{stage}Queue`` and its DLQ behind ``{stage}Rule``, as the template has them (moto
    delivers a matching event to an SQS target; the queue policy is IAM, which moto does
    not enforce): the queue's URL and ARN, the DLQ's URL, the rule's name."""
    values = evaluator.values
    suffix = stage.lower()
    dlq_url, dlq_arn = _queue(
        server, template, evaluator, f"{stage}DeadLetterQueue", f"{name}-{suffix}-dlq"
    )
    values[f"{stage}DeadLetterQueue"] = dlq_url
    values[f"{stage}DeadLetterQueue.Arn"] = dlq_arn
    queue_url, queue_arn = _queue(server, template, evaluator, f"{stage}Queue", f"{name}-{suffix}")
    values[f"{stage}Queue"] = queue_url
    values[f"{stage}Queue.Arn"] = queue_arn
    props = evaluator.resolve(resource(template, f"{stage}Rule"))
    rule = f"{name}-{suffix}"
    events = server.client("events")
    events.put_rule(
        Name=rule,
        EventBusName=props["EventBusName"],
        EventPattern=json.dumps(props["EventPattern"]),
        State=props["State"],
        Description=props["Description"],
    )
    events.put_targets(Rule=rule, EventBusName=props["EventBusName"], Targets=props["Targets"])
    return queue_url, queue_arn, dlq_url, rule


def _unpack_stage(
    server: MotoServer, template: dict[str, Any], evaluator: Evaluator, name: str
) -> LocalUnpackStage:
    queue_url, queue_arn, dlq_url, rule = _queue_behind_rule(
        server, template, evaluator, name, "Unpack"
    )
    environment = evaluator.resolve(function_environment(template, "UnpackFunction"))
    return LocalUnpackStage(
        queue_url=queue_url,
        queue_arn=queue_arn,
        dead_letter_queue_url=dlq_url,
        rule_name=rule,
        prefix=str(environment["UNPACK_PREFIX"]),
    )


def _import_stage(
    server: MotoServer, template: dict[str, Any], evaluator: Evaluator, name: str
) -> LocalImportStage:
    """ImportQueue behind its rule, and the service role Bedrock assumes, created in
    moto's IAM with the template's trust and statements (moto enforces neither)."""
    role_arn = _role(server, template, evaluator, "BedrockImportRole", f"{name}-bedrock-import")
    evaluator.values["BedrockImportRole.Arn"] = role_arn
    queue_url, queue_arn, dlq_url, rule = _queue_behind_rule(
        server, template, evaluator, name, "Import"
    )
    return LocalImportStage(
        queue_url=queue_url,
        queue_arn=queue_arn,
        dead_letter_queue_url=dlq_url,
        rule_name=rule,
        role_arn=role_arn,
    )


def _role(
    server: MotoServer, template: dict[str, Any], evaluator: Evaluator, logical_id: str, name: str
) -> str:
    props = evaluator.resolve(resource(template, logical_id))
    iam = server.client("iam")
    arn = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
    )["Role"]["Arn"]
    for policy in props.get("Policies", []):
        if policy is None:  # an !If that chose AWS::NoValue
            continue
        iam.put_role_policy(
            RoleName=name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(policy["PolicyDocument"]),
        )
    return str(arn)


def _bucket(server: MotoServer, template: dict[str, Any], evaluator: Evaluator, name: str) -> str:
    if not evaluator.condition("CreateBucket"):
        return str(evaluator.values["ArchiveBucketName"])
    props = evaluator.resolve(resource(template, "ArchiveBucket"))
    s3 = server.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_public_access_block(
        Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
    )
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                    **{k: v for k, v in rule.items() if k == "BucketKeyEnabled"},
                }
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
        },
    )
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
    s3.put_bucket_lifecycle_configuration(
        Bucket=name,
        LifecycleConfiguration={
            "Rules": [_lifecycle_rule(rule) for rule in props["LifecycleConfiguration"]["Rules"]]
        },
    )
    return name


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's spelling of a rule to the S3 API's."""
    converted: dict[str, Any] = {
        "ID": rule["Id"],
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "AbortIncompleteMultipartUpload" in rule:
        converted["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return converted


def _queue(
    server: MotoServer, template: dict[str, Any], evaluator: Evaluator, logical_id: str, name: str
) -> tuple[str, str]:
    props = evaluator.resolve(resource(template, logical_id))
    wanted = (
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "RedrivePolicy",
        "SqsManagedSseEnabled",
    )
    attributes = {key: _queue_attribute(props[key]) for key in wanted if key in props}
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _queue_attribute(value: Any) -> str:
    """CloudFormation's typed value as SQS's string attribute."""
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _table(server: MotoServer, template: dict[str, Any], evaluator: Evaluator, name: str) -> str:
    props = evaluator.resolve(resource(template, "StateTable"))
    dynamodb = server.client("dynamodb")
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode=props["BillingMode"],
    )
    ttl = props["TimeToLiveSpecification"]
    dynamodb.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": ttl["Enabled"]},
    )
    return name
