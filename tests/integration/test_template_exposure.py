"""template.yaml as the internet and a webhook-secret holder meet it: what they can reach,
overwrite and cost (issue 17, section 3), read from the template itself."""

import re
from collections.abc import Iterator
from typing import Any

import pytest

from ft_archiver.domain.parts import DEFAULT_MAX_ARCHIVE_GIB
from ft_archiver.settings import ArchiverSettings
from ft_archiver_tools.template import function_environment, load_template

TEMPLATE = load_template()
PARAMETERS = TEMPLATE["Parameters"]


# -- the archive prefix ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "allowed"),
    [
        ("models/", True),
        ("team/models/", True),
        ("", False),  # a webhook's key could then be any key in a folder of the bucket
        ("/", False),
        ("/models/", False),
        ("models", False),
    ],
)
def test_the_archive_prefix_parameter_is_never_empty(prefix: str, allowed: bool) -> None:
    parameter = PARAMETERS["ArchivePrefix"]
    assert re.fullmatch(parameter["AllowedPattern"], parameter["Default"])
    accepted = bool(re.fullmatch(parameter["AllowedPattern"], prefix)) and len(prefix) >= int(
        parameter["MinLength"]
    )
    assert accepted is allowed


# -- what one request can cost -----------------------------------------------------------


@pytest.mark.parametrize("function", ["ArchiverFunction", "ArchiveStepsFunction"])
def test_both_archiving_functions_refuse_archives_above_max_archive_gib(function: str) -> None:
    """The archiver plans every archive; the steps plan a delegated one again (its size
    may have changed): each applies the limit before CreateMultipartUpload."""
    environment = function_environment(TEMPLATE, function)
    assert environment["FT_ARCHIVER_MAX_ARCHIVE_GIB"] == {"Ref": "MaxArchiveGiB"}
    parameter = PARAMETERS["MaxArchiveGiB"]
    assert (
        parameter["Default"]
        == DEFAULT_MAX_ARCHIVE_GIB
        == ArchiverSettings.model_fields["max_archive_gib"].default
    )
    assert parameter["MinValue"] == 0  # 0: no limit


# -- the public endpoint -----------------------------------------------------------------

RESOURCES = TEMPLATE["Resources"]
WEBHOOK = {"WebhookFunction", "WebhookFunctionRole", "WebhookLogGroup", "WebhookErrorsAlarm",
           "WebhookThrottlesAlarm"}  # fmt: skip


def _conditions() -> dict[str, str | None]:
    """Each resource's condition, SAM's Function URL (``{function}Url``) with its function's."""
    found = {name: spec.get("Condition") for name, spec in RESOURCES.items()}
    for name, spec in RESOURCES.items():
        if "FunctionUrlConfig" in spec.get("Properties", {}):
            found[f"{name}Url"] = spec.get("Condition")
    return found


def _references(value: Any, guard: str | None = None) -> Iterator[tuple[str, str | None]]:
    """Every logical id ``value`` names (Ref, GetAtt, Sub), with the condition of the
    Fn::If whose true branch it sits in, if any."""
    if isinstance(value, list):
        for item in value:
            yield from _references(item, guard)
    elif isinstance(value, dict):
        if set(value) == {"Ref"}:
            yield value["Ref"], guard
        elif set(value) == {"Fn::GetAtt"}:
            yield value["Fn::GetAtt"][0], guard
        elif set(value) == {"Fn::Sub"}:
            argument = value["Fn::Sub"]
            text, names = (argument, {}) if isinstance(argument, str) else argument
            for name in re.findall(r"\$\{([^}!]+)\}", text):
                if name not in names:
                    yield name.split(".")[0], guard
            yield from _references(list(names.values()), guard)
        elif set(value) == {"Fn::If"}:
            condition, when_true, when_false = value["Fn::If"]
            yield from _references(when_true, condition)
            yield from _references(when_false, guard)
        else:
            for item in value.values():
                yield from _references(item, guard)


def test_nothing_refers_to_a_resource_that_may_be_absent() -> None:
    """A conditional resource is named only where the same condition holds: by a resource
    or an output of that condition, or in the true branch of an Fn::If on it."""
    conditions = _conditions()
    holders = [*RESOURCES.items(), *TEMPLATE["Outputs"].items()]
    checked = 0
    for name, spec in holders:
        own = spec.get("Condition")
        for target, guard in _references({k: v for k, v in spec.items() if k != "Condition"}):
            needed = conditions.get(target)
            if needed is not None:
                checked += 1
                assert needed in (own, guard), f"{name} names {target}, which needs {needed}"
    assert checked > len(WEBHOOK)


def test_with_webhook_enabled_false_no_public_endpoint_and_no_webhook_secret() -> None:
    parameter = PARAMETERS["WebhookEnabled"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("true", ["true", "false"])
    assert TEMPLATE["Conditions"]["WebhookOn"] == {
        "Fn::Equals": [{"Ref": "WebhookEnabled"}, "true"]
    }
    conditioned = {name for name, spec in RESOURCES.items() if spec.get("Condition") == "WebhookOn"}
    assert conditioned == WEBHOOK
    urls = [name for name, spec in RESOURCES.items() if "FunctionUrlConfig" in spec["Properties"]]
    assert urls == ["WebhookFunction"]  # the only public endpoint, and it goes with it
    assert TEMPLATE["Outputs"]["WebhookUrl"]["Condition"] == "WebhookOn"
    readers = {name for name, spec in RESOURCES.items()
               if ("WebhookSecretName", None) in _references(spec)}  # fmt: skip
    assert readers == {"WebhookFunction", "WebhookFunctionRole"}  # no other reads the secret


def test_the_poller_is_on_by_default_so_a_stack_without_the_webhook_still_archives() -> None:
    assert PARAMETERS["PollerEnabled"]["Default"] == "true"


# -- the distributed path ----------------------------------------------------------------


def test_the_steps_function_has_a_reserved_concurrency_of_its_own() -> None:
    steps = RESOURCES["ArchiveStepsFunction"]["Properties"]
    assert steps["ReservedConcurrentExecutions"] == {"Ref": "ArchiveStepsReservedConcurrency"}
    reserved = PARAMETERS["ArchiveStepsReservedConcurrency"]
    # as many distributed archives at once as archives run at once, each with its workers
    workers = PARAMETERS["DistributedWorkers"]["Default"]
    archives = PARAMETERS["ArchiverMaxConcurrency"]["Default"]
    assert reserved["Default"] == workers * archives
    assert reserved["MinValue"] >= 1


def test_the_state_machine_logs_errors_without_execution_data_to_a_group_with_retention() -> None:
    logging = RESOURCES["ArchiveStateMachine"]["Properties"]["Logging"]
    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ERROR", False)
    [destination] = logging["Destinations"]
    group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"]
    assert group[1] == "Arn"
    spec = RESOURCES[group[0]]
    assert spec["Type"] == "AWS::Logs::LogGroup"
    assert spec["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert spec["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/aws/vendedlogs/states/")


def test_the_state_table_outlives_the_stack() -> None:
    table = RESOURCES["StateTable"]
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
