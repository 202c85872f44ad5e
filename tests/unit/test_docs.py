"""The documentation against the code, so that they cannot drift apart: every
environment variable a settings model reads, every template parameter and every flag
of the command line is documented, with the default the code has."""

import argparse
import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

import ft_archiver.settings
from ft_archiver_tools.cli import build_parser
from ft_archiver_tools.template import load_template

DOCS = Path(__file__).resolve().parents[2] / "docs"
MIB, GIB = 1024**2, 1024**3
# Defaults that are not a value to print: required, unset, derived at run time.
NO_VALUE = (None, "", PydanticUndefined)


def rows(page: str) -> list[list[str]]:
    """The cells of every table row of a page."""
    found = []
    for line in (DOCS / page).read_text().splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|[\s|:-]+\|", line):
            found.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return found


def names_in(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


def shown(value: Any) -> str:
    """A default as the docs write it: 8MiB for a size in bytes, 960 for 960.0."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and value >= MIB and value % MIB == 0:
        return f"{value // GIB}GiB" if value % GIB == 0 else f"{value // MIB}MiB"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def settings_fields() -> dict[str, set[Any]]:
    """Each variable any settings model reads, and the defaults it has there."""
    found: dict[str, set[Any]] = {}
    for module_info in pkgutil.iter_modules(ft_archiver.settings.__path__):
        module = importlib.import_module(f"ft_archiver.settings.{module_info.name}")
        for _, model in inspect.getmembers(module, inspect.isclass):
            if not issubclass(model, BaseSettings) or model is BaseSettings:
                continue
            for field in model.model_fields.values():
                default = field.default
                found.setdefault(str(field.validation_alias), set()).add(
                    None if default is PydanticUndefined else default
                )
    return found


VARIABLES = {name: cells for cells in rows("configuration.md") for name in names_in(cells[0])}


@pytest.mark.parametrize("variable", sorted(settings_fields()))
def test_every_variable_is_documented_with_its_default(variable: str) -> None:
    assert variable in VARIABLES, f"{variable} is read by a settings model: document it"
    for default in settings_fields()[variable]:
        if default not in NO_VALUE:
            assert f"`{shown(default)}`" in VARIABLES[variable][1], (variable, default)


PARAMETERS = load_template()["Parameters"]


@pytest.mark.parametrize("parameter", sorted(PARAMETERS))
def test_every_template_parameter_is_documented_with_its_default(parameter: str) -> None:
    documented = {name: cells for cells in rows("configuration.md") for name in names_in(cells[0])}
    assert parameter in documented, f"template parameter {parameter}: document it"
    default = PARAMETERS[parameter].get("Default")
    cell = documented[parameter][1]
    assert ("empty" in cell) if default == "" else f"`{default}`" in cell, (parameter, cell)


def flags() -> list[tuple[str, str, Any]]:
    """(command, flag, default) of every option of every command."""
    found = []
    parser = build_parser()
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for command, sub in commands.choices.items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for flag in action.option_strings:
                if flag.startswith("--"):
                    found.append((command, flag, action.default))
    return found


DOC_LINES = [line for page in DOCS.glob("*.md") for line in page.read_text().splitlines()]


@pytest.mark.parametrize(("command", "flag", "default"), flags())
def test_every_flag_is_documented_with_its_default(command: str, flag: str, default: Any) -> None:
    mentions = [line for line in DOC_LINES if f"`{flag}" in line]
    assert mentions, f"{command} {flag}: document it"
    if default not in (None, False, True, argparse.SUPPRESS):
        value = shown(default) if not isinstance(default, float) else f"{default:g}"
        written = re.compile(rf"(default |`|\(){re.escape(value)}(`|\)|,|;|\s|$)")
        assert any(written.search(line) for line in mentions), (command, flag, default)


def test_the_readme_links_to_pages_that_exist() -> None:
    readme = (DOCS.parent / "README.md").read_text()
    links = re.findall(r"\]\((docs/[^)#]+)(?:#[^)]*)?\)", readme)
    assert links, "the README is the front door: it links to the docs"
    missing = [link for link in links if not (DOCS.parent / link).is_file()]
    assert missing == []
    assert len(readme.splitlines()) <= 300  # a front door, not the manual


def schema_properties(node: Any) -> set[str]:
    """Every property name anywhere in a JSON schema."""
    found: set[str] = set()
    if isinstance(node, dict):
        found |= set(node.get("properties", {}))
        for value in node.values():
            found |= schema_properties(value)
    elif isinstance(node, list):
        for value in node:
            found |= schema_properties(value)
    return found


SCHEMAS = sorted((DOCS.parent / "events" / "schemas").glob("*.schema.json"))


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda path: path.name)
def test_every_event_field_is_documented(schema: Path) -> None:
    pages = "".join((DOCS / page).read_text() for page in ("events.md", "unpack.md", "import.md"))
    missing = sorted(f for f in schema_properties(json.loads(schema.read_text()))
                     if f"`{f}`" not in pages)  # fmt: skip
    assert missing == [], f"{schema.name}: document {missing} (events, unpack or import.md)"
