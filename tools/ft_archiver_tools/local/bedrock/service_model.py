"""Amazon Bedrock's control plane as botocore's own service model describes it.

The model is botocore's (``get_service_model("bedrock")``: the JSON botocore ships,
never a copy in this repository), so the fake moves with the botocore the project
installs. From it:

- ``input_problems``/``output_problems``: what a value breaks of an operation's input or
  output shape, each problem a line naming its path (``jobTags[3].key: ...``): required
  members, types, ``min``/``max`` (a length for strings, blobs, lists and maps, a value
  for numbers), ``pattern``, ``enum``, unions (exactly one member) and members the shape
  does not have. botocore's client checks only required members, types and ``min``
  (botocore/validate.py), so a request that breaks a pattern or a ``max`` reaches a
  server: this is the check the real service makes there.
- ``parse_request``: an HTTP request into its operation and parameters by the model's
  ``http`` trait (rest-json: method and ``requestUri``, ``{label}`` members in the path,
  ``location`` querystring/header members, the JSON body for the rest).
- ``output_response``/``error_response``: what botocore parses back: the operation's
  ``responseCode`` and JSON body, timestamps in each shape's ``timestampFormat`` (rest-json's
  default is epoch seconds; Bedrock's ``Timestamp`` shape says ``iso8601``; botocore's
  parser, ``utils.parse_timestamp``, reads either); an error as the status its shape's
  ``error.httpStatusCode`` gives, ``x-amzn-ErrorType: <Code>`` and ``{"message": ...}``,
  which ``RestJSONParser`` turns into the modelled exception.
"""

import base64
import email.utils
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

from ft_archiver_tools.local.bedrock import patterns

SERVICE_NAME = "bedrock"
# Errors the model does not list but a rest-json service answers: an unknown route.
UNMODELLED_ERROR_STATUS = {"UnknownOperationException": 404}
_INTEGER_BOUNDS = {"byte": 2**7, "short": 2**15, "integer": 2**31, "long": 2**63}
_SHOWN_CHARS = 80


@cache
def bedrock_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model(SERVICE_NAME)


def operation_model(operation: str) -> OperationModel:
    return bedrock_model().operation_model(operation)


# -- validation --------------------------------------------------------------------------


def input_problems(operation: str, params: Mapping[str, Any]) -> list[str]:
    """What ``params`` (as a boto3 caller passes them: datetimes, bytes) breaks of the
    operation's input shape; empty when the real service's model would accept them."""
    shape = operation_model(operation).input_shape
    return shape_problems(shape, params) if shape is not None else _no_shape(params)


def output_problems(operation: str, output: Mapping[str, Any]) -> list[str]:
    """The same for an answer: the fake checks every one before it is sent, so it can
    never serve a shape botocore's model does not describe."""
    shape = operation_model(operation).output_shape
    return shape_problems(shape, output) if shape is not None else _no_shape(output)


def shape_problems(shape: Shape, value: Any, path: str = "") -> list[str]:
    problems: list[str] = []
    _check(shape, value, path, problems)
    return problems


def _no_shape(value: Mapping[str, Any]) -> list[str]:
    return [f"{name}: the operation takes no members" for name in value]


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    where = path or shape.name
    kind = shape.type_name
    if shape.metadata.get("document"):
        return  # any JSON value
    if kind == "structure":
        _check_structure(shape, value, path, problems)
    elif kind == "list":
        if not isinstance(value, list | tuple):
            problems.append(f"{where}: expected a list, got {_show(value)}")
            return
        _check_range(shape, len(value), where, problems, "length")
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}[{index}]", problems)  # type: ignore[attr-defined]
    elif kind == "map":
        if not isinstance(value, Mapping):
            problems.append(f"{where}: expected a map, got {_show(value)}")
            return
        _check_range(shape, len(value), where, problems, "length")
        for key, item in value.items():
            _check(shape.key, key, f"{path}[{key!r}] (key)", problems)  # type: ignore[attr-defined]
            _check(shape.value, item, f"{path}[{key!r}]", problems)  # type: ignore[attr-defined]
    elif kind == "string":
        _check_string(shape, value, where, problems)
    elif kind in _INTEGER_BOUNDS:
        _check_integer(shape, value, where, problems)
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{where}: expected a number, got {_show(value)}")
        elif not math.isnan(value):
            _check_range(shape, value, where, problems, "value")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{where}: expected a boolean, got {_show(value)}")
    elif kind == "timestamp":
        if not isinstance(value, datetime):
            problems.append(f"{where}: expected a timestamp, got {_show(value)}")
    elif kind == "blob":
        if not isinstance(value, bytes | bytearray):
            problems.append(f"{where}: expected bytes, got {_show(value)}")
            return
        _check_range(shape, len(value), where, problems, "length")
    else:
        problems.append(f"{where}: the fake cannot check a {kind} shape ({shape.name})")


def _check_structure(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    where = path or shape.name
    if not isinstance(value, Mapping):
        problems.append(f"{where}: expected a structure, got {_show(value)}")
        return
    assert isinstance(shape, StructureShape)
    members = shape.members
    for name in value:
        if name not in members:
            problems.append(f"{_join(path, name)}: not a member of {shape.name}")
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(f"{_join(path, name)}: required, missing")
    present = [name for name in members if value.get(name) is not None]
    chosen = [str(name) for name, item in value.items() if item is not None]  # known or not
    if shape.is_tagged_union and len(chosen) != 1:
        got = f"{len(chosen)}: {', '.join(chosen)}" if chosen else "none"
        problems.append(
            f"{where}: a union takes exactly one member of {', '.join(members)}; got {got}"
        )
    for name in present:
        _check(members[name], value[name], _join(path, name), problems)


def _check_string(shape: Shape, value: Any, where: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        problems.append(f"{where}: expected a string, got {_show(value)}")
        return
    _check_range(shape, len(value), where, problems, "length")  # code points, as Smithy counts
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        problems.append(f"{where}: {_show(value)} is not one of {', '.join(enum)}")
    pattern = shape.metadata.get("pattern")
    if pattern is None:
        return
    # The whole value must match (re.fullmatch), though Smithy does not anchor patterns:
    # AWS's services apply them to the whole value (the same shapes' patterns were once
    # published as ^...$), and for a fake the stricter reading is the safe one: it never
    # accepts what the service might refuse.
    try:
        matched = patterns.fullmatch(pattern, value)
    except re.error:
        problems.append(f"{where}: pattern {pattern} is not one Python can evaluate")
        return
    if not matched:
        problems.append(f"{where}: {_show(value)} does not match pattern {pattern}")


def _check_integer(shape: Shape, value: Any, where: str, problems: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{where}: expected an integer, got {_show(value)}")
        return
    bound = _INTEGER_BOUNDS[shape.type_name]
    if not -bound <= value < bound:
        problems.append(f"{where}: {value} does not fit a {shape.type_name}")
        return
    _check_range(shape, value, where, problems, "value")


def _check_range(shape: Shape, measure: float, where: str, problems: list[str], what: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and measure < low:
        problems.append(f"{where}: {what} {measure} is under the minimum {low}")
    if high is not None and measure > high:
        problems.append(f"{where}: {what} {measure} is over the maximum {high}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _show(value: Any) -> str:
    shown = repr(value)
    if len(shown) > _SHOWN_CHARS:
        shown = shown[: _SHOWN_CHARS - 3] + "..."
    return shown if isinstance(value, str) else f"{type(value).__name__} {shown}"


# -- requests ----------------------------------------------------------------------------


class UnknownRouteError(LookupError):
    """No operation of the model has this method and path."""


@dataclass(frozen=True)
class ParsedRequest:
    """An operation's parameters as a boto3 caller would have passed them, and what could
    not be read off the wire (a body that is not JSON, an integer that is not one)."""

    operation: str
    params: dict[str, Any]
    wire_problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Route:
    operation: str
    method: str
    path: re.Pattern[str]
    labels: tuple[str, ...]
    literal_chars: int  # more literal text first: /a/b before /a/{label}


@cache
def _routes() -> tuple[_Route, ...]:
    model = bedrock_model()
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        template = http["requestUri"].split("?", 1)[0]
        labels: list[str] = []
        pieces: list[str] = []
        for literal, label in re.findall(r"([^{]*)(?:\{([^}]+)\})?", template):
            pieces.append(re.escape(literal))
            if label:
                labels.append(label.rstrip("+"))
                pieces.append("(.+)" if label.endswith("+") else "([^/]+)")
        literal_chars = len(re.sub(r"\{[^}]+\}", "", template))
        path = re.compile("".join(pieces))
        routes.append(_Route(name, http["method"], path, tuple(labels), literal_chars))
    return tuple(sorted(routes, key=lambda route: -route.literal_chars))


def parse_request(
    method: str, target: str, headers: Mapping[str, str], body: bytes
) -> ParsedRequest:
    """``target`` is the request line's path and query; ``headers`` keyed in lower case.
    ``UnknownRouteError`` when no operation has this method and path."""
    url = urlsplit(target)
    for route in _routes():
        match = route.path.fullmatch(url.path)
        if route.method == method and match:
            break
    else:
        raise UnknownRouteError(f"{method} {url.path}")
    shape = operation_model(route.operation).input_shape
    params: dict[str, Any] = {}
    problems: list[str] = []
    if shape is None:
        return ParsedRequest(route.operation, params, problems)
    assert isinstance(shape, StructureShape)
    uri = {label: unquote(value) for label, value in zip(route.labels, match.groups(), strict=True)}
    query = parse_qs(url.query, keep_blank_values=True)
    body_members: dict[str, str] = {}  # wire name -> member name
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            params[name] = _from_text(member, uri[wire_name], name, problems)
        elif location == "querystring":
            _take_query(member, name, wire_name, query, params, problems)
        elif location == "header" and wire_name.lower() in headers:
            params[name] = _from_text(member, headers[wire_name.lower()], name, problems)
        elif location == "headers":
            prefix = wire_name.lower()
            found = {k[len(prefix) :]: v for k, v in headers.items() if k.startswith(prefix)}
            if found:
                params[name] = found
        elif location is None:
            body_members[wire_name] = name
    problems += [f"{key}: query parameter not in the model" for key in query]
    _take_body(shape, body, body_members, params, problems)
    return ParsedRequest(route.operation, params, problems)


def _take_query(
    member: Shape,
    name: str,
    wire_name: str,
    query: dict[str, list[str]],
    params: dict[str, Any],
    problems: list[str],
) -> None:
    if member.type_name == "map":  # the query's remaining parameters
        params[name] = {key: values[-1] for key, values in query.items()}
        query.clear()
        return
    values = query.pop(wire_name, None)
    if values is None:
        return
    if member.type_name == "list":
        item = member.member  # type: ignore[attr-defined]
        params[name] = [_from_text(item, value, name, problems) for value in values]
    elif len(values) > 1:
        problems.append(f"{name}: {len(values)} values in the query string, one expected")
    else:
        params[name] = _from_text(member, values[0], name, problems)


def _take_body(
    shape: StructureShape,
    body: bytes,
    body_members: dict[str, str],
    params: dict[str, Any],
    problems: list[str],
) -> None:
    if not body.strip():
        return
    try:
        document = json.loads(body)
    except ValueError as exc:
        problems.append(f"the body is not JSON: {exc}")
        return
    if not isinstance(document, dict):
        problems.append(f"the body is not a JSON object: {_show(document)}")
        return
    for key, value in document.items():
        if value is None:
            continue  # JSON null: the member is absent
        if key in body_members:
            name = body_members[key]
            params[name] = _from_json(shape.members[name], value)
        elif key in shape.members:
            problems.append(f"{key}: belongs in the {_location(shape, key)}, not the body")
        else:
            params[key] = value  # reported as not a member


def _location(shape: StructureShape, name: str) -> str:
    return str(shape.members[name].serialization.get("location"))


def _from_text(shape: Shape, text: str, name: str, problems: list[str]) -> Any:
    """A path, query or header value as the type its shape says."""
    kind = shape.type_name
    try:
        if kind in _INTEGER_BOUNDS:
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            if text not in ("true", "false"):
                raise ValueError(text)
            return text == "true"
        if kind == "timestamp":
            default = "rfc822" if shape.serialization.get("location") == "header" else "iso8601"
            return _parse_timestamp(text, shape.serialization.get("timestampFormat", default))
    except ValueError:
        problems.append(f"{name}: {text!r} is not a {kind}")
        return text
    return text


def _from_json(shape: Shape, value: Any) -> Any:
    """A body value as the type its shape says; what does not fit is left as it came,
    for the validator to name."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict) and not shape.metadata.get("document"):
        assert isinstance(shape, StructureShape)
        wire_names = {m.serialization.get("name", n): n for n, m in shape.members.items()}
        decoded = {}
        for key, item in value.items():
            if item is None:
                continue
            name = wire_names.get(key, key)
            decoded[name] = _from_json(shape.members[name], item) if name in shape.members else item
        return decoded
    if kind == "list" and isinstance(value, list):
        return [_from_json(shape.member, item) for item in value]  # type: ignore[attr-defined]
    if kind == "map" and isinstance(value, dict):
        return {k: _from_json(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp" and isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            return _parse_timestamp(value, shape.serialization.get("timestampFormat"))
        except ValueError:
            return value
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            return value
    return value


def _parse_timestamp(value: float | str, timestamp_format: str | None) -> datetime:
    """rest-json's body default is epoch seconds; a shape may say iso8601 or rfc822."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if timestamp_format == "rfc822":
        return email.utils.parsedate_to_datetime(value)
    if timestamp_format == "unixTimestamp":
        return datetime.fromtimestamp(float(value), UTC)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- responses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WireResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def output_response(operation: str, output: Mapping[str, Any]) -> WireResponse:
    """An answer as the wire carries it. The caller checks ``output_problems`` first."""
    model = operation_model(operation)
    status = int(model.http.get("responseCode", 200))
    headers = {"Content-Type": "application/json"}
    body: dict[str, Any] = {}
    shape = model.output_shape
    if shape is not None:
        assert isinstance(shape, StructureShape)
        for name, value in output.items():
            member = shape.members[name]
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name", name)
            if location == "header":
                headers[wire_name] = _header_text(member, value)
            elif location == "statusCode":
                status = int(value)
            else:
                body[wire_name] = _to_json(member, value)
    return WireResponse(status, headers, json.dumps(body).encode())


def error_status(code: str) -> int:
    """The HTTP status of an error code: its shape's ``error.httpStatusCode``."""
    if code in UNMODELLED_ERROR_STATUS:
        return UNMODELLED_ERROR_STATUS[code]
    return int(bedrock_model().shape_for(code).metadata["error"]["httpStatusCode"])


def error_response(code: str, message: str) -> WireResponse:
    """An error botocore's rest-json parser maps to the modelled exception ``code``."""
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code}
    body = json.dumps({"message": message}).encode()
    return WireResponse(error_status(code), headers, body)


def error_problems(code: str, message: str) -> list[str]:
    """What an error's body breaks of its shape (an unmodelled code has none)."""
    if code in UNMODELLED_ERROR_STATUS:
        return []
    return shape_problems(bedrock_model().shape_for(code), {"message": message})


def modelled_errors(operation: str) -> frozenset[str]:
    shapes = operation_model(operation).error_shapes
    return frozenset(cast(StructureShape, shape).error_code for shape in shapes)


def _to_json(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure" and not shape.metadata.get("document"):
        assert isinstance(shape, StructureShape)
        return {
            shape.members[name].serialization.get("name", name): _to_json(shape.members[name], v)
            for name, v in value.items()
            if v is not None
        }
    if kind == "list":
        return [_to_json(shape.member, item) for item in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {k: _to_json(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        return _timestamp(value, shape.serialization.get("timestampFormat", "unixTimestamp"))
    if kind == "blob":
        return base64.b64encode(value).decode()
    return value


def _header_text(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        return str(_timestamp(value, shape.serialization.get("timestampFormat", "rfc822")))
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return str(value)


def _timestamp(moment: datetime, timestamp_format: str) -> str | float:
    moment = moment.astimezone(UTC)
    if timestamp_format == "iso8601":
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"
    if timestamp_format == "rfc822":
        return email.utils.format_datetime(moment, usegmt=True)
    return round(moment.timestamp(), 3)
