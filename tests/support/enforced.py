"""IAM enforced by moto: each function's handler run with its template role's credentials.

moto's server evaluates identity policies once its ``INITIAL_NO_AUTH_ACTION_COUNT`` is
reached (``/moto-api/reset-auth``; moto/core/authorization.py): every request must then
be signed by an IAM user's or an assumed role's keys, and the caller's policies must
allow the action on the resource (moto/iam/access_control.py). What it evaluates, read
from that source (moto 5.2), and so what this module can prove:

- the action, for every service: the statement's ``Action`` (wildcards as ``.*``) or
  ``NotAction``; an explicit ``Deny`` wins. But moto names the action after the API
  operation (``s3:CreateMultipartUpload``, ``s3:HeadObject``), where IAM authorises
  some operations by another action (``s3:PutObject``, ``s3:GetObject``: the Service
  Authorization Reference, as tests/support/permissions.py's ACTION_OF and VERSIONED
  have it). So each granted action is put with the operations it authorises, and
  a versioned action (``s3:GetObjectVersion``) can be seen only with its plain one;
- the resource only where moto names one: S3 (``arn:aws:s3:::bucket`` and
  ``bucket/key``, with its own map of operations to actions), SQS (the queue's ARN), IAM
  and STS. Every other service is checked against ``*``, which a statement naming an ARN
  never matches; so for those services the statements are put with ``Resource: "*"``,
  and their resources stay proven by text (tests/unit/test_permissions.py);
- no condition: an operator other than StringEquals is skipped, and no request carries
  a context key (aws:SourceArn, kms:ViaService, events:source, dynamodb:LeadingKeys) for
  a StringEquals to compare; ``NotResource`` is not read.

The roles are the template's own statements, resolved against the local stack's values
(``LocalResources.values``), never copied by hand. Their trust is the one thing changed:
Lambda cannot assume a role in moto, so each role trusts the test's administrator, who
assumes it (STS AssumeRole, checked against that trust by moto).
"""

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import requests

from ft_archiver_tools.local.aws import MotoServer
from ft_archiver_tools.template import Evaluator, load_template
from tests.support.iam import Statement, actions, as_list, role_of
from tests.support.permissions import ACTION_OF, VERSIONED

TEMPLATE = load_template()
# Services whose requests moto checks against a resource it names (the rest: "*").
RESOURCE_CHECKED = ("s3:", "sqs:", "iam:", "sts:")
# moto's refusal; SQS's comes as XML to a JSON client, which botocore reads as "403"
DENIED = {"AccessDenied", "AccessDeniedException", "403"}


@dataclass(frozen=True)
class Denial:
    action: str
    resource: str

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}"


def operations_of(action: str) -> list[str]:
    """The action and the API operations it authorises, as moto names its checks."""
    plain = {versioned: plain for plain, versioned in VERSIONED.items()}.get(action)
    found = [action, *(op for op, by in ACTION_OF.items() if by in (action, plain))]
    return sorted({*found, *([plain] if plain else [])})


def for_moto(statement: Statement) -> list[Statement]:
    """The statement as moto can check it: each action with the operations it
    authorises; the actions of services whose resource moto names keep their resources,
    the others get ``*`` (their resources: text only)."""
    every = sorted({op for action in actions(statement) for op in operations_of(action)})
    kept = [a for a in every if a.startswith(RESOURCE_CHECKED)]
    widened = [a for a in every if not a.startswith(RESOURCE_CHECKED)]
    found: list[Statement] = []
    if kept:
        found.append({**statement, "Action": kept})
    if widened:
        found.append({**statement, "Action": widened, "Resource": "*"})
    return found


def resolved_statements(values: dict[str, Any], function: str) -> list[Statement]:
    """The statements of the function's role (or of the role ``function`` names), as
    the stack resolves them; a resource the local stack does not make (a log group, a
    function) gets a placeholder ARN."""
    placeholders = {
        f"{name}.Arn": f"arn:aws:local:us-east-1:123456789012:{name}"
        for name in TEMPLATE["Resources"]
    }
    evaluator = Evaluator(TEMPLATE, {**placeholders, **values})
    found: list[Statement] = []
    kind = TEMPLATE["Resources"][function]["Type"]
    logical = function if kind == "AWS::IAM::Role" else role_of(TEMPLATE, function)
    role = TEMPLATE["Resources"][logical]["Properties"]
    for policy in evaluator.resolve(role.get("Policies", [])):
        found.extend(as_list(policy["PolicyDocument"]["Statement"]))
    return found


@dataclass
class EnforcedIam:
    """An administrator, and a role per function whose policy is the template's (or
    the template's less one statement, for the mutation check)."""

    aws: MotoServer
    values: dict[str, Any]
    admin: tuple[str, str, str | None] = ("", "", None)
    denials: list[Denial] = field(default_factory=list)
    _roles: dict[str, str] = field(default_factory=dict)

    def start(self) -> "EnforcedIam":
        iam = self.aws.client("iam")
        name = f"enforced-admin-{uuid.uuid4().hex[:6]}"
        iam.create_user(UserName=name)
        allow_all = {"Effect": "Allow", "Action": "*", "Resource": "*"}
        everything = {"Version": "2012-10-17", "Statement": [allow_all]}
        iam.put_user_policy(
            UserName=name, PolicyName="admin", PolicyDocument=json.dumps(everything)
        )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        self.admin = (key["AccessKeyId"], key["SecretAccessKey"], None)
        self._admin_arn = iam.get_user(UserName=name)["User"]["Arn"]
        requests.post(f"{self.aws.endpoint_url}/moto-api/reset-auth", data=b"0", timeout=10)
        self.aws.credentials = self.admin  # the test's own calls: the administrator's
        return self

    def stop(self) -> None:
        big = str(10**12).encode()  # moto's default is no enforcement at all
        requests.post(f"{self.aws.endpoint_url}/moto-api/reset-auth", data=big, timeout=10)
        self.aws.credentials = ("testing", "testing", None)

    def grant(self, function: str, without: int | None = None) -> list[Statement]:
        """The function's role with the template's statements (less number ``without``);
        returns the statements as put."""
        iam = self.aws.client("iam")
        role = self._roles.get(function)
        if role is None:
            role = f"enforced-{function}-{uuid.uuid4().hex[:6]}"
            trust = {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": self._admin_arn},
                "Action": "sts:AssumeRole"}]}  # fmt: skip
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
            self._roles[function] = role
        template = resolved_statements(self.values, function)
        kept = [s for n, s in enumerate(template) if n != without]
        moto_statements = [part for s in kept for part in for_moto(s)]
        document = {"Version": "2012-10-17", "Statement": moto_statements}
        iam.put_role_policy(
            RoleName=role, PolicyName="template", PolicyDocument=json.dumps(document)
        )
        return kept

    def keys(self, function: str) -> tuple[str, str, str | None]:
        """Credentials of the function's role (or of a role of the template), assumed."""
        role_arn = f"arn:aws:iam::123456789012:role/{self._roles[function]}"
        sts = self.aws.client("sts")
        answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=function)["Credentials"]
        return answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"]

    def client_as(self, role: str, service: str) -> Any:
        """A client of the moto server signed as the template's role ``role``."""
        key, secret, token = self.keys(role)
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.aws.endpoint_url, region_name="us-east-1",
            aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
        )  # fmt: skip

    @contextmanager
    def as_function(self, function: str) -> Iterator[list[Denial]]:
        """Every AWS call of this process (the handlers' clients and the local event
        source mapping's) signed with the function's assumed role; the denials heard."""
        keys = self.keys(function)
        session = _default_session()
        heard: list[Denial] = []
        hooks = _DenialHooks(heard)
        session.events.register("before-parameter-build.*.*", hooks.before)
        session.events.register("after-call.*.*", hooks.after)
        _sign_with(session, keys)
        self.aws.credentials = keys
        try:
            yield heard
        finally:
            session.events.unregister("before-parameter-build.*.*", hooks.before)
            session.events.unregister("after-call.*.*", hooks.after)
            _sign_with(session, self.admin)
            self.aws.credentials = self.admin
            self.denials.extend(heard)


def _sign_with(session: Any, keys: tuple[str, str, str | None]) -> None:
    """The process's AWS calls signed with ``keys``: boto3's default session (every
    client the handlers build from it), the variables a new session reads (Powertools'
    secret provider builds one), and that provider forgotten so that it does."""
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    session._session.set_credentials(*keys)
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = keys[0], keys[1]
    if keys[2] is None:
        os.environ.pop("AWS_SESSION_TOKEN", None)
    else:
        os.environ["AWS_SESSION_TOKEN"] = keys[2]
    DEFAULT_PROVIDERS.clear()


def _default_session() -> Any:
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    return boto3.DEFAULT_SESSION


class _DenialHooks:
    """botocore's event hooks: each AccessDenied answer, by action and resource."""

    def __init__(self, heard: list[Denial]) -> None:
        self.heard = heard

    def before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["enforced_params"] = params

    def after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any],
              **_: Any) -> None:  # fmt: skip
        if parsed.get("Error", {}).get("Code") not in DENIED:
            return
        service = model.service_model.signing_name
        params = context.get("enforced_params", {})
        self.heard.append(Denial(f"{service}:{model.name}", _resource(params)))


def _resource(params: dict[str, Any]) -> str:
    if "Bucket" in params:
        return f"arn:aws:s3:::{params['Bucket']}/{params.get('Key', '')}".rstrip("/")
    for name in ("QueueUrl", "TableName", "SecretId", "EventBusName", "stateMachineArn"):
        if name in params:
            return str(params[name])
    entries = params.get("Entries") or [{}]
    return str(entries[0].get("EventBusName", "*"))
