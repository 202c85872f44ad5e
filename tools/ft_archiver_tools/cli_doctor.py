"""The command line's doctor command: will ft-archiver work with this Together account and
this AWS account, now? One line per check (``doctor/``), exit 0 when every check holds,
1 when one does not, 2 when the configuration does not even say what to check.

Read-only, but for ``--write-test``'s object, which is deleted again at once.
"""

import argparse
import os
import sys
from collections.abc import Callable
from functools import partial

from ft_archiver.adapters.retry import RetryPolicy
from ft_archiver.adapters.together import TogetherClient
from ft_archiver.domain.unexpected import UnexpectedAnswer
from ft_archiver.errors import ConfigurationError
from ft_archiver.settings import CliSettings
from ft_archiver.wiring.aws import aws_client, aws_region, secret
from ft_archiver_tools.doctor.aws import Resources, aws_checks, identity
from ft_archiver_tools.doctor.bedrock import bedrock_checks
from ft_archiver_tools.doctor.report import Report
from ft_archiver_tools.doctor.result import Check, failed
from ft_archiver_tools.doctor.stack import read_stack
from ft_archiver_tools.doctor.together import Target, answers, together_checks

EXIT_FAILURE = 1
# A doctor answers in seconds: fewer and shorter retries than an archive's.
MAX_ATTEMPTS = 3
MAX_DELAY_S = 5.0
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0


def run_doctor(args: argparse.Namespace, settings: CliSettings) -> int:
    region = _required(settings, args.stack)
    report = Report(sys.stdout, args.json)
    stack_read = True
    if args.stack:
        check, found = read_stack(aws_client("cloudformation", settings), args.stack)
        report.add(check)
        stack_read = found is not None
        settings = _with_stack(settings, found or {}, args)
    _check_together(report, settings, args.stack)
    clients = partial(aws_client, settings=settings)
    if stack_read:
        heard: list[Check] = []
        for check in aws_checks(clients, _resources(settings, region), args.write_test):
            heard.append(check)
            report.add(check)  # each line as it is found
        if heard[0].ok and settings.import_role_arn:  # who is asking is known
            role, quota = settings.import_role_arn, settings.imported_model_quota
            for check in bedrock_checks(clients, region, role, quota):
                report.add(check)
    else:  # which resources to look at is not known: who is asking, at least
        report.add(identity(clients("sts"), region))
    return 0 if report.finish() else EXIT_FAILURE


def _check_together(report: Report, settings: CliSettings, stack: str | None) -> None:
    key = _api_key(settings, stack)
    if isinstance(key, Check):
        report.add(key)
        return
    secret_value, source = key
    report.hide(secret_value)
    heard: list[UnexpectedAnswer] = []
    client = _together(settings, secret_value, heard.append)
    target = Target(settings.archive_bucket, settings.archive_prefix, settings.part_size)
    try:
        for check in together_checks(client, settings.together_base_url, source, target):
            report.add(check)
    finally:
        client.close()
    if heard:
        report.add(answers(heard))


def _resources(settings: CliSettings, region: str) -> Resources:
    return Resources(
        region,
        settings.archive_bucket,
        settings.archive_prefix,
        settings.checksum_algorithm,
        settings.checksum_mode,
        settings.event_bus_name or None,  # empty: the archiver publishes no events
        settings.state_table_name,
        settings.archive_queue_url,
    )


def _required(settings: CliSettings, stack: str | None) -> str:
    """The region, or one ConfigurationError naming everything missing that no check can
    stand in for (the key and the bucket may come from ``--stack``)."""
    problems: list[str] = []
    region = ""
    try:
        region = aws_region(settings)
    except ConfigurationError as exc:
        problems.append(str(exc))
    if stack is None:
        key = settings.together_api_key
        if not (key and key.get_secret_value()) and not settings.together_api_key_secret_name:
            problems.append("TOGETHER_API_KEY is not set (nor TOGETHER_API_KEY_SECRET_NAME)")
        if not settings.archive_bucket:
            problems.append("no bucket: pass --bucket or --stack NAME, or set ARCHIVE_BUCKET")
    if problems:
        raise ConfigurationError("; ".join(problems))
    return region


def _with_stack(
    settings: CliSettings, found: dict[str, str], args: argparse.Namespace
) -> CliSettings:
    """The stack's names in place of the environment's; flags still win, and an explicit
    TOGETHER_BASE_URL (a simulator, a proxy) wins over the stack's."""
    from pydantic import ValidationError

    values = dict(found)
    if os.environ.get("TOGETHER_BASE_URL"):
        values.pop("together_base_url", None)
    flags = {"archive_bucket": args.bucket, "archive_prefix": args.prefix}
    values.update({name: value for name, value in flags.items() if value is not None})
    try:
        return CliSettings.model_validate({**settings.model_dump(), **values})
    except ValidationError as exc:
        raise ConfigurationError(
            f"stack {args.stack}'s settings are invalid: {exc.errors()[0]['msg']}"
        ) from None


def _api_key(settings: CliSettings, stack: str | None) -> tuple[str, str] | Check:
    """The key and where it came from, or the failed Check that says why there is none."""
    direct = settings.together_api_key
    if direct is not None and direct.get_secret_value():
        return direct.get_secret_value(), "from TOGETHER_API_KEY"
    name = settings.together_api_key_secret_name
    if name:
        try:
            return secret(name, settings).strip(), f"from secret {name}"
        except ConfigurationError as exc:
            return failed(
                "together.key",
                str(exc),
                "grant secretsmanager:GetSecretValue on it, or set TOGETHER_API_KEY",
            )
    return failed(
        "together.key",
        f"no Together API key: TOGETHER_API_KEY is not set and stack {stack} names no secret",
        "set TOGETHER_API_KEY",
    )


def _together(
    settings: CliSettings, key: str, heard: Callable[[UnexpectedAnswer], None]
) -> TogetherClient:
    """A client for seconds, not hours; what Together answers that it does not document
    is heard (a check of its own) instead of logged."""
    return TogetherClient(
        key,
        settings.together_base_url,
        connect_timeout_s=min(settings.connect_timeout_s, CONNECT_TIMEOUT_S),
        read_timeout_s=min(settings.read_timeout_s, READ_TIMEOUT_S),
        retry=RetryPolicy(
            min(settings.max_attempts, MAX_ATTEMPTS),
            settings.retry_base_delay_s,
            min(settings.retry_max_delay_s, MAX_DELAY_S),
        ),
        pool_size=4,
        on_unexpected=heard,
    )
