"""The import checks, with an import role configured (IMPORT_ROLE_ARN or the stack's
ImportRoleArn): does this region offer Custom Model Import, and will Bedrock be able to
assume the role it is handed."""

import json
from typing import Any
from urllib.parse import unquote

from ft_archiver.adapters.aws_errors import AWS_ERRORS, error_code
from ft_archiver_tools.doctor.result import Check, advised, failed, passed, reason

# "Amazon Bedrock Custom Model Import is supported in the following Regions": the user
# guide's "Import a customized model into Amazon Bedrock" page
# (https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-import-model.html).
IMPORT_REGIONS = frozenset({"us-east-1", "us-west-2"})
BEDROCK = "bedrock.amazonaws.com"


def bedrock_checks(clients: Any, region: str, role_arn: str, model_quota: int) -> list[Check]:
    return [
        import_region(clients("bedrock"), region, model_quota),
        import_role(clients("iam"), role_arn),
    ]


def import_region(bedrock: Any, region: str, model_quota: int) -> Check:
    """ListImportedModels answers in a region that offers Custom Model Import; the
    count against the quota the stage warns of."""
    listed = region in IMPORT_REGIONS
    try:
        count = len(bedrock.list_imported_models(maxResults=1000).get("modelSummaries", []))
    except AWS_ERRORS as exc:
        where = "" if listed else f"; AWS lists Custom Model Import in {_regions()} only"
        return failed(
            "bedrock.region",
            f"Bedrock's ListImportedModels failed in {region}: {reason(exc)}{where}",
            f"deploy (or set AWS_REGION) in {_regions()}, and allow bedrock:ListImportedModels",
        )
    detail = f"Custom Model Import answers in {region}: {count} imported model(s)"
    if not listed:
        return advised(
            "bedrock.region", detail,
            f"{region} is not among the regions AWS's user guide lists ({_regions()}): "
            "check that imports are offered there",
        )  # fmt: skip
    if count >= model_quota:
        return advised(
            "bedrock.region", f"{detail}, the quota of {model_quota} reached",
            "the next import waits until a model is deleted or the quota (Imported models "
            "per account) is raised; FT_ARCHIVER_IMPORTED_MODEL_QUOTA says the new quota",
        )  # fmt: skip
    return passed("bedrock.region", detail)


def import_role(iam: Any, role_arn: str) -> Check:
    """The role exists and trusts bedrock.amazonaws.com, with aws:SourceAccount (the
    confused deputy: Bedrock's service role page asks for it)."""
    name = role_arn.rsplit("/", 1)[-1]
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except AWS_ERRORS as exc:
        missing = error_code(exc) == "NoSuchEntity"
        return failed(
            "bedrock.role",
            f"import role {role_arn} {'does not exist' if missing else 'could not be read'}"
            f"{'' if missing else ': ' + reason(exc)}",
            "set IMPORT_ROLE_ARN to the stack's ImportRoleArn output (or pass --stack NAME)",
        )
    trust = _document(role.get("AssumeRolePolicyDocument"))
    statements = [s for s in trust.get("Statement", []) if _trusts_bedrock(s)]
    if not statements:
        return failed(
            "bedrock.role",
            f"import role {role_arn} does not trust {BEDROCK}",
            f"allow {BEDROCK} sts:AssumeRole in its trust policy (the stack's "
            "BedrockImportRole does)",
        )
    if not any("aws:SourceAccount" in json.dumps(s.get("Condition", {})) for s in statements):
        return advised(
            "bedrock.role", f"import role {role_arn} trusts {BEDROCK} from any account",
            "add an aws:SourceAccount condition (and aws:SourceArn on model-import-job/*)",
        )  # fmt: skip
    return passed("bedrock.role", f"import role {role_arn} trusts {BEDROCK} for this account")


def _document(value: Any) -> dict[str, Any]:
    """IAM's policy document: a dict from boto3, or URL-encoded JSON from some servers."""
    if isinstance(value, dict):
        return value
    document: dict[str, Any] = json.loads(unquote(str(value or "{}")))
    return document


def _trusts_bedrock(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal", {})
    services = principal.get("Service", []) if isinstance(principal, dict) else []
    services = [services] if isinstance(services, str) else services
    return statement.get("Effect") == "Allow" and BEDROCK in services


def _regions() -> str:
    return ", ".join(sorted(IMPORT_REGIONS))
