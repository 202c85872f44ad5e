"""Does the archive bucket clean up after uploads that never finish?

A suspended archive leaves its multipart upload open until a later invocation resumes
it; one that is never resumed (a message dead-lettered, a stack deleted) is billed for
its parts until a lifecycle rule aborts it. The stack's own bucket has that rule; an
existing bucket (ArchiveBucketName) may not, so the archiver checks once per cold start
and warns."""

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any


def _rule_prefix(rule: Mapping[str, Any]) -> str | None:
    """The key prefix a rule applies to; None when it filters on more than a prefix (tags,
    sizes), which our uploads cannot be relied on to match."""
    if "Prefix" in rule:  # the legacy form
        return str(rule["Prefix"])
    rule_filter = rule.get("Filter", {})
    if set(rule_filter) <= {"Prefix"}:
        return str(rule_filter.get("Prefix", ""))
    return None


def aborts_incomplete_uploads(rules: Iterable[Mapping[str, Any]], prefix: str) -> bool:
    """Whether an enabled rule aborts incomplete multipart uploads of every key under
    ``prefix``."""
    for rule in rules:
        if rule.get("Status") != "Enabled" or "AbortIncompleteMultipartUpload" not in rule:
            continue
        rule_prefix = _rule_prefix(rule)
        if rule_prefix is not None and prefix.startswith(rule_prefix):
            return True
    return False


def lifecycle_warning(client: S3Client, bucket: str, prefix: str) -> str | None:
    """A warning for the log when the bucket would keep abandoned uploads, else None."""
    try:
        rules = client.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Error")
        if code != "NoSuchLifecycleConfiguration":
            return f"could not read the lifecycle rules of bucket {bucket!r} ({code})"
        rules = []
    except BotoCoreError as exc:
        return f"could not read the lifecycle rules of bucket {bucket!r} ({type(exc).__name__})"
    if aborts_incomplete_uploads(rules, prefix):
        return None
    return (
        f"bucket {bucket!r} has no enabled lifecycle rule that aborts incomplete multipart "
        f"uploads under {prefix!r}: an archive suspended and never resumed stays billed; "
        "add one (docs/deploy.md: an existing bucket)"
    )
