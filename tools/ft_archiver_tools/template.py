"""template.yaml, read with its CloudFormation tags, and a small evaluator for the
intrinsics the local stack needs (Ref, If, Equals, Not, Sub of known names, GetAtt)."""

import re
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
NO_VALUE = object()


class _CfnLoader(yaml.SafeLoader):
    """Turns ``!Ref x`` into ``{"Ref": x}`` and ``!Sub ...`` into ``{"Fn::Sub": ...}``."""


def _construct(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506
    return document


class Evaluator:
    """Resolves intrinsics against parameter values and the physical ids of resources."""

    def __init__(self, template: dict[str, Any], values: dict[str, Any]) -> None:
        self.template = template
        self.values = {
            name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()
        }
        self.values.update(values)

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            resolved = [self.resolve(item) for item in value]
            return [item for item in resolved if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return NO_VALUE if argument == "AWS::NoValue" else self.values[argument]
            if name == "Fn::If":
                condition, when_true, when_false = argument
                return self.resolve(when_true if self.condition(condition) else when_false)
            if name == "Fn::Equals":
                left, right = (self.resolve(item) for item in argument)
                return left == right
            if name == "Fn::Not":
                return not self.resolve(argument[0])
            if name == "Fn::GetAtt":
                return self.values[".".join(argument)]
            if name == "Fn::Sub":
                return self._sub(argument)
        resolved_map = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved_map.items() if item is not NO_VALUE}

    def _sub(self, argument: Any) -> str:
        text, names = (argument, {}) if isinstance(argument, str) else argument
        lookup = {**self.values, **{k: self.resolve(v) for k, v in names.items()}}
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(lookup[m.group(1)]), text)


def resource(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][logical_id].get("Properties", {})
    return properties


def function_environment(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """Globals' variables merged with the function's own, unresolved."""
    shared = template.get("Globals", {}).get("Function", {}).get("Environment", {})
    own = resource(template, logical_id).get("Environment", {})
    return {**shared.get("Variables", {}), **own.get("Variables", {})}


def function_names(template: dict[str, Any]) -> list[str]:
    """The logical ids of the template's Lambda functions."""
    return [
        name
        for name, spec in template["Resources"].items()
        if spec["Type"] == "AWS::Serverless::Function"
    ]
