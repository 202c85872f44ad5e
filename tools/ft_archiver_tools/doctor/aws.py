"""The AWS checks: who the credentials are, the archive bucket (versioning, the rule that
aborts abandoned uploads, and with ``--write-test`` an object written, read back and
deleted, and the checksum modes the store keeps), the event bus, the state table and
the archive queue, when configured."""

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ft_archiver.adapters.aws_errors import AWS_ERRORS, error_code
from ft_archiver.adapters.bucket_check import aborts_incomplete_uploads
from ft_archiver.domain.checksums import ALGORITHMS, ChecksumMode
from ft_archiver_tools.doctor.checksum_modes import checksum_modes
from ft_archiver_tools.doctor.result import Check, advised, failed, passed, reason

# service name -> a boto3 client of it, configured as the archiver's own
Clients = Callable[[str], Any]
NOT_FOUND = {
    "404",
    "NoSuchBucket",
    "NotFound",
    "ResourceNotFoundException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
}
WRITE_TEST_BODY = b"ft-archiver doctor: a write test, deleted at once\n"


def from_stack(variable: str, output: str) -> str:
    return f"set {variable} to the stack's {output} output (or pass --stack NAME)"


@dataclass(frozen=True)
class Resources:
    """What the archiver would use; None where nothing is configured."""

    region: str
    bucket: str | None
    prefix: str
    checksum_algorithm: str
    checksum_mode: ChecksumMode
    event_bus: str | None
    table: str | None
    queue_url: str | None


def aws_checks(clients: Clients, resources: Resources, write_test: bool) -> Iterator[Check]:
    check = identity(clients("sts"), resources.region)
    yield check
    if not check.ok:
        return  # every other call would fail the same way
    if resources.bucket is None:
        yield failed(
            "s3.bucket",
            "no archive bucket is configured",
            from_stack("ARCHIVE_BUCKET (or --bucket)", "ArchiveBucketName"),
        )
    else:
        s3 = clients("s3")
        check = bucket(s3, resources.bucket)
        yield check
        if check.ok:
            yield versioning(s3, resources.bucket)
            yield lifecycle(s3, resources.bucket, resources.prefix)
            yield public_access(s3, resources.bucket)
            yield tls_only(s3, resources.bucket)
            if write_test:
                yield put_and_delete(
                    s3, resources.bucket, resources.prefix, resources.checksum_algorithm,
                    resources.checksum_mode,
                )  # fmt: skip
                yield checksum_modes(
                    s3, resources.bucket, resources.prefix, resources.checksum_mode,
                    resources.checksum_algorithm,
                )  # fmt: skip
    if resources.event_bus:
        yield event_bus(clients("events"), resources.event_bus)
    if resources.table:
        yield state_table(clients("dynamodb"), resources.table)
    if resources.queue_url:
        yield archive_queue(clients("sqs"), resources.queue_url)


def _missing(exc: Exception) -> bool:
    return error_code(exc) in NOT_FOUND


def identity(sts: Any, region: str) -> Check:
    try:
        caller = sts.get_caller_identity()
    except AWS_ERRORS as exc:
        return failed(
            "aws.identity",
            f"AWS refused or found no credentials: {reason(exc)}",
            "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or "
            "renew the session (aws sso login)",
        )
    return passed("aws.identity", f"AWS credentials of {caller['Arn']}, region {region}")


def bucket(s3: Any, name: str) -> Check:
    try:
        head = s3.head_bucket(Bucket=name)
    except AWS_ERRORS as exc:
        code = error_code(exc)
        if _missing(exc):
            return failed(
                "s3.bucket",
                f"bucket {name} does not exist",
                "create it, or " + from_stack("ARCHIVE_BUCKET (or --bucket)", "ArchiveBucketName"),
            )
        if code in ("403", "AccessDenied"):
            return failed(
                "s3.bucket",
                f"bucket {name}: access denied (HeadBucket)",
                "grant s3:ListBucket on it, or check the name: another account may own it",
            )
        if code in ("301", "PermanentRedirect"):
            return failed(
                "s3.bucket",
                f"bucket {name} is in another region",
                "set AWS_REGION to the bucket's region",
            )
        return failed("s3.bucket", f"bucket {name}: {reason(exc)}", "check the name and access")
    region = head.get("BucketRegion")
    return passed("s3.bucket", f"bucket {name} exists" + (f" in {region}" if region else ""))


def versioning(s3: Any, name: str) -> Check:
    """Informational: an archive written again over itself is kept only with versioning."""
    try:
        status = s3.get_bucket_versioning(Bucket=name).get("Status")
    except AWS_ERRORS as exc:
        return passed(
            "s3.versioning",
            f"versioning of bucket {name}: unknown ({reason(exc)}; not needed to archive)",
        )
    if status == "Enabled":
        return passed("s3.versioning", f"versioning of bucket {name}: Enabled")
    return passed(
        "s3.versioning",
        f"versioning of bucket {name}: {status or 'never enabled'} "
        "(an archive written again replaces the earlier object)",
    )


BLOCKS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def public_access(s3: Any, name: str) -> Check:
    """The stack's own bucket blocks public access; an existing bucket may not."""
    try:
        found = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    except AWS_ERRORS as exc:
        if error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
            said = f"the public access block of bucket {name} could not be read: {reason(exc)}"
            return advised("s3.public_access", said, "grant s3:GetBucketPublicAccessBlock")
        found = {}
    missing = [setting for setting in BLOCKS if not found.get(setting)]
    if not missing:
        return passed("s3.public_access", f"bucket {name} blocks every kind of public access")
    return advised(
        "s3.public_access",
        f"bucket {name} does not set {', '.join(missing)}: a policy or ACL could make "
        "archives public",
        f"aws s3api put-public-access-block --bucket {name} --public-access-block-configuration "
        + ",".join(f"{setting}=true" for setting in BLOCKS),
    )


def tls_only(s3: Any, name: str) -> Check:
    """The stack's own bucket denies every request not made over TLS; an existing one
    needs that statement added (docs/deploy.md: an existing bucket)."""
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
    except AWS_ERRORS as exc:
        if error_code(exc) != "NoSuchBucketPolicy":
            return advised("s3.tls_only", f"the policy of bucket {name} could not be read: "
                           f"{reason(exc)}", "grant s3:GetBucketPolicy")  # fmt: skip
        policy = {}
    if denies_insecure_transport(policy):
        return passed("s3.tls_only", f"bucket {name} refuses requests not made over TLS")
    return advised(
        "s3.tls_only",
        f"the policy of bucket {name} does not deny requests not made over TLS",
        "add the DenyInsecureTransport statement (docs/deploy.md: an existing bucket)",
    )


def denies_insecure_transport(policy: dict[str, Any]) -> bool:
    """A Deny of s3:* to everyone on the bucket and its objects when
    aws:SecureTransport is false, as the template's ArchiveBucketPolicy has it."""
    statements = policy.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        condition = statement.get("Condition", {}).get("Bool", {})
        actions = statement.get("Action")
        if (
            statement.get("Effect") == "Deny"
            and str(condition.get("aws:SecureTransport")).lower() == "false"
            and ("s3:*" in actions if isinstance(actions, list) else actions == "s3:*")
            and statement.get("Principal") in ("*", {"AWS": "*"})
        ):
            return True
    return False


def lifecycle(s3: Any, name: str, prefix: str) -> Check:
    """The rule the archiver's cold start also looks for (adapters/bucket_check.py)."""
    fix = (
        "add a lifecycle rule with AbortIncompleteMultipartUpload for the prefix "
        "(docs/deploy.md: an existing bucket)"
    )
    try:
        rules = s3.get_bucket_lifecycle_configuration(Bucket=name).get("Rules", [])
    except AWS_ERRORS as exc:
        if error_code(exc) != "NoSuchLifecycleConfiguration":
            return failed(
                "s3.lifecycle",
                f"the lifecycle rules of bucket {name} could not be read: {reason(exc)}",
                "grant s3:GetLifecycleConfiguration",
            )
        rules = []
    if aborts_incomplete_uploads(rules, prefix):
        return passed(
            "s3.lifecycle",
            f"a lifecycle rule of bucket {name} aborts incomplete "
            f"multipart uploads under {prefix!r}",
        )
    return failed(
        "s3.lifecycle",
        f"no enabled lifecycle rule of bucket {name} aborts "
        f"incomplete multipart uploads under {prefix!r}: an archive suspended and "
        "never resumed stays billed",
        fix,
    )


def put_and_delete(
    s3: Any, name: str, prefix: str, algorithm_name: str, mode: ChecksumMode = "full-object"
) -> Check:
    """A small object put as the archiver puts a small archive (with its checksum, or
    with mode none without one), checked (the checksum the store kept, or with mode
    none the bytes read back), and deleted again (that very version: no delete marker,
    nothing left behind)."""
    algorithm = ALGORITHMS[algorithm_name]
    key = f"{prefix}ft-archiver-doctor/{uuid.uuid4().hex}.txt"
    where = f"s3://{name}/{key}"
    sent = algorithm.encode(algorithm.compute(WRITE_TEST_BODY))
    checksum = {} if mode == "none" else {
        "ChecksumAlgorithm": algorithm.name, algorithm.s3_field: sent
    }  # fmt: skip
    try:
        put = s3.put_object(Bucket=name, Key=key, Body=WRITE_TEST_BODY, **checksum)
    except AWS_ERRORS as exc:
        return failed(
            "s3.write_test",
            f"PutObject of {where} failed: {reason(exc)}",
            "grant s3:PutObject under the prefix",
        )
    version = {"VersionId": put["VersionId"]} if put.get("VersionId") else {}
    try:
        if mode == "none":
            check = _read_bytes_back(s3, name, key, version, where)
        else:
            check = _read_back(s3, name, key, version, algorithm.s3_field, sent, where)
    finally:
        left = _delete(s3, name, key, version, where)
    return left or check


def _read_bytes_back(s3: Any, name: str, key: str, version: dict[str, str], where: str) -> Check:
    try:
        body = s3.get_object(Bucket=name, Key=key, **version)["Body"].read()
    except AWS_ERRORS as exc:
        return failed(
            "s3.write_test",
            f"GetObject of {where} failed: {reason(exc)}",
            "grant s3:GetObject under the prefix (checksum mode none reads every archive back)",
        )
    if body != WRITE_TEST_BODY:
        return failed(
            "s3.write_test",
            f"{where} read back {len(body)} bytes other than the {len(WRITE_TEST_BODY)} written",
            "this store does not return what it stored: do not archive to it",
        )
    return passed(
        "s3.write_test", f"wrote, read back and deleted {where}: the bytes read back match"
    )


def _delete(s3: Any, name: str, key: str, version: dict[str, str], where: str) -> Check | None:
    """None once the test object is gone, else the failed Check that says so."""
    try:
        s3.delete_object(Bucket=name, Key=key, **version)
    except AWS_ERRORS as exc:
        return failed(
            "s3.write_test",
            f"the test object {where} could not be deleted: {reason(exc)}",
            "delete it by hand, and grant s3:DeleteObject under the prefix (the archiver "
            "removes what fails verification)",
        )
    return None


def _read_back(
    s3: Any, name: str, key: str, version: dict[str, str], field: str, sent: str, where: str
) -> Check:
    algorithm = field.removeprefix("Checksum")
    try:
        head = s3.head_object(Bucket=name, Key=key, ChecksumMode="ENABLED", **version)
    except AWS_ERRORS as exc:
        return failed(
            "s3.write_test",
            f"HeadObject of {where} failed: {reason(exc)}",
            "grant s3:GetObject under the prefix",
        )
    kept = head.get(field)
    if kept != sent:
        return failed(
            "s3.write_test",
            f"S3 answered {algorithm} {kept!r} for {where}, not the {sent} sent",
            "archives are verified by this checksum: use a "
            "store that keeps it, or set FT_ARCHIVER_CHECKSUM_ALGORITHM to one it "
            "keeps",
        )
    return passed(
        "s3.write_test", f"wrote, read back and deleted {where}: S3 kept its {algorithm} {sent}"
    )


def event_bus(events: Any, name: str) -> Check:
    try:
        events.describe_event_bus(Name=name)
    except AWS_ERRORS as exc:
        if _missing(exc):
            return failed(
                "events.bus",
                f"event bus {name} does not exist",
                from_stack("EVENT_BUS_NAME", "EventBusName") + ", or empty to publish no events",
            )
        return failed(
            "events.bus",
            f"event bus {name}: {reason(exc)}",
            "grant events:DescribeEventBus and events:PutEvents on it",
        )
    return passed("events.bus", f"event bus {name} exists")


def state_table(dynamodb: Any, name: str) -> Check:
    try:
        status = dynamodb.describe_table(TableName=name)["Table"].get("TableStatus")
    except AWS_ERRORS as exc:
        if _missing(exc):
            return failed(
                "dynamodb.table",
                f"state table {name} does not exist",
                from_stack("STATE_TABLE_NAME", "StateTableName")
                + ", or unset it (archives from here are then not idempotent)",
            )
        return failed(
            "dynamodb.table",
            f"state table {name}: {reason(exc)}",
            "grant dynamodb:DescribeTable, GetItem, PutItem, UpdateItem on it",
        )
    if status not in ("ACTIVE", "UPDATING"):
        return failed(
            "dynamodb.table", f"state table {name} is {status}", "wait until it is ACTIVE"
        )
    return passed("dynamodb.table", f"state table {name} is {status}")


def archive_queue(sqs: Any, url: str) -> Check:
    name = url.rstrip("/").rsplit("/", 1)[-1]
    counts = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    try:
        found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=counts)["Attributes"]
    except AWS_ERRORS as exc:
        if _missing(exc):
            return failed(
                "sqs.queue",
                f"archive queue {name} does not exist",
                from_stack("ARCHIVE_QUEUE_URL", "ArchiveQueueUrl"),
            )
        return failed(
            "sqs.queue",
            f"archive queue {name}: {reason(exc)}",
            "grant sqs:GetQueueAttributes and sqs:SendMessage on it",
        )
    waiting, taken = (found.get(count, "0") for count in counts)
    return passed("sqs.queue", f"archive queue {name}: {waiting} waiting, {taken} in flight")
