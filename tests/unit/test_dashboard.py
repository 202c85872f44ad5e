"""template.yaml's dashboard: valid JSON under every combination of its conditions, each
metric one the functions emit (read from their code) or AWS publishes for a resource of
the stack, and every alarm's metric on it."""

import ast
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from ft_archiver.observability import REFUSALS
from ft_archiver_tools.template import Evaluator, load_template, resource

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions" / "ft_archiver"
# What AWS publishes, per namespace, for the dimension the widgets use.
AWS_METRICS = {
    "AWS/Lambda": ("FunctionName", {"Errors", "Throttles", "RecursiveInvocationsDropped"}),
    "AWS/SQS": ("QueueName", {"ApproximateNumberOfMessagesVisible",
                              "ApproximateNumberOfMessagesNotVisible",
                              "ApproximateAgeOfOldestMessage"}),
    "AWS/States": ("StateMachineArn", {"ExecutionsStarted", "ExecutionsSucceeded",
                                       "ExecutionsFailed", "ExecutionsTimedOut",
                                       "ExecutionsAborted"}),
}  # fmt: skip
SWITCHES = {"WebhookEnabled": ("true", "false"), "Unpack": ("true", "false"),
            "Import": ("none", "bedrock")}  # fmt: skip


def emitted_metrics() -> set[str]:
    """Every metric name the functions pass to ``add_metric``, by reading their code: a
    literal, either literal of a conditional, or the names handed down to it (the
    refusals' table, retry_later's argument)."""
    names = set(REFUSALS.values())
    for path in FUNCTIONS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            function = (
                node.func.attr
                if isinstance(node.func, ast.Attribute)
                else getattr(node.func, "id", "")
            )
            if function == "add_metric":
                for keyword in node.keywords:
                    if keyword.arg == "name":
                        names |= _literals(keyword.value)
            if function == "retry_later" and len(node.args) == 3:
                names |= _literals(node.args[2])
    return names


def _literals(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _literals(node.body) | _literals(node.orelse)
    return set()


def physical_ids(template: dict[str, Any]) -> dict[str, str]:
    values = {"AWS::Region": "eu-west-1", "AWS::StackName": "s", "AWS::Partition": "aws",
              "AWS::AccountId": "123456789012"}  # fmt: skip
    for name, spec in template["Resources"].items():
        values[name] = f"physical-{name}"
        if spec["Type"] == "AWS::SQS::Queue":
            values[f"{name}.QueueName"] = f"queue-{name}"
    return values


def dashboard(switches: dict[str, str]) -> tuple[dict[str, Any], Evaluator]:
    template = load_template()
    evaluator = Evaluator(template, {**physical_ids(template), **switches})
    body = evaluator.resolve(resource(template, "ArchiveDashboard")["DashboardBody"])
    return json.loads(body), evaluator


def metrics_of(body: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    found = []
    for widget in body["widgets"]:
        for metric in widget["properties"]["metrics"]:
            names = [part for part in metric if isinstance(part, str)]
            found.append((names[0], names[1], tuple(names[2:])))
    return found


COMBINATIONS = [
    dict(zip(SWITCHES, values, strict=True)) for values in itertools.product(*SWITCHES.values())
]


def test_the_dashboard_is_on_by_default_with_its_url_in_the_outputs() -> None:
    template = load_template()
    assert template["Parameters"]["Dashboard"]["Default"] == "true"
    assert template["Resources"]["ArchiveDashboard"]["Condition"] == "DashboardOn"
    assert "DashboardUrl" in template["Outputs"]


@pytest.mark.parametrize(
    "switches", COMBINATIONS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items())
)
def test_every_widget_names_an_emitted_metric(switches: dict[str, str]) -> None:
    body, evaluator = dashboard(switches)
    template = evaluator.template
    emitted = emitted_metrics()
    present = {
        evaluator.values[name]: name
        for name, spec in template["Resources"].items()
        if "Condition" not in spec or evaluator.condition(spec["Condition"])
    }
    present |= {
        evaluator.values[f"{name}.QueueName"]: name
        for name in present.values()
        if template["Resources"][name]["Type"] == "AWS::SQS::Queue"
    }
    for namespace, name, dimensions in metrics_of(body):
        if namespace == "FtArchiver":
            assert name in emitted, f"{name} is on the dashboard but no function emits it"
            assert dimensions == ("service", "ft-archiver")
            continue
        dimension, published = AWS_METRICS[namespace]
        assert name in published, (namespace, name)
        assert dimensions[0] == dimension
        assert dimensions[1] in present, f"{name} of {dimensions[1]}: no such resource here"


@pytest.mark.parametrize(
    "switches", COMBINATIONS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items())
)
def test_every_alarm_s_metric_is_on_the_dashboard(switches: dict[str, str]) -> None:
    body, evaluator = dashboard(switches)
    shown = set(metrics_of(body))
    for name, spec in evaluator.template["Resources"].items():
        if spec["Type"] != "AWS::CloudWatch::Alarm":
            continue
        if "Condition" in spec and not evaluator.condition(spec["Condition"]):
            continue
        alarm = evaluator.resolve(spec["Properties"])
        dimensions = tuple(part for d in alarm["Dimensions"] for part in (d["Name"], d["Value"]))
        assert (alarm["Namespace"], alarm["MetricName"], dimensions) in shown, name


def test_the_service_dimension_is_the_functions_service_name() -> None:
    shared = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert shared["POWERTOOLS_SERVICE_NAME"] == "ft-archiver"
    assert shared["POWERTOOLS_METRICS_NAMESPACE"] == "FtArchiver"
