"""The AWS calls a Lambda function's code can make, derived from the code itself.

From the handler the template names, every function, method and module body the
handler can reach is followed (imports, names, ``module.attribute``, ``self.method``;
a method of a reachable class counts once its name is called anywhere reachable, since
the service layer calls adapters through duck-typed ports). In what is reached, a call
on a boto3 client (a parameter or ``self`` attribute typed with a ``mypy_boto3_*``
client, as every adapter types its client) is an API operation, named as botocore's
service model names it, and becomes the IAM action that authorises it.

For DynamoDB the state table's key prefix goes with each action (``archive#``,
``parts#``, ...): the prefix literals and the calls of one reachable function and of
the helpers it calls, so the test can compare them with each statement's
``dynamodb:LeadingKeys``.
"""

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import botocore.session
from botocore import xform_name

import ft_archiver

PACKAGE = "ft_archiver"
PACKAGE_DIR = Path(ft_archiver.__file__).resolve().parent
CLIENT_STUBS = "mypy_boto3_"

# boto3's service name where IAM's prefix differs.
IAM_PREFIX = {"stepfunctions": "states"}
# Operations authorised by an action of another name. Sources: the Service Authorization
# Reference, "Actions, resources, and condition keys for Amazon S3" (HeadObject needs
# s3:GetObject; CreateMultipartUpload, UploadPart and CompleteMultipartUpload need
# s3:PutObject; ListParts s3:ListMultipartUploadParts; ListObjectsV2 s3:ListBucket;
# GetBucketLifecycleConfiguration s3:GetLifecycleConfiguration) and "... for Amazon SQS"
# (a batch action is authorised by its single action: SendMessageBatch by SendMessage).
ACTION_OF = {
    "s3:HeadObject": "s3:GetObject",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "s3:ListParts": "s3:ListMultipartUploadParts",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "sqs:SendMessageBatch": "sqs:SendMessage",
}
# The same operation on a given version (a VersionId in the request) is another action
# (same S3 page: GetObject/HeadObject with versionId, DeleteObject with versionId, ...).
VERSIONED = {
    "s3:GetObject": "s3:GetObjectVersion",
    "s3:DeleteObject": "s3:DeleteObjectVersion",
    "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
}
# Library functions that call AWS themselves: Powertools' parameters utility reads a
# secret with GetSecretValue.
LIBRARY_CALLS = {
    ("aws_lambda_powertools.utilities.parameters", "get_secret"): "secretsmanager:GetSecretValue",
}
KEY_PREFIX = "dynamodb"  # the service whose calls carry the state table's key prefix


@dataclass(frozen=True)
class Calls:
    """What one function's code can ask of AWS."""

    actions: frozenset[str]
    # (IAM action, leading-key prefix such as "archive#") for every DynamoDB call
    keyed: frozenset[tuple[str, str]]
    # DynamoDB calls reached with no key prefix in sight: a grant cannot be checked
    unkeyed: frozenset[str]
    sites: dict[str, list[str]] = field(default_factory=dict, compare=False)


# -- the package, indexed -----------------------------------------------------------------

Target = tuple[str, str, str | None]  # ("module"|"function"|"class"|"external", module, name)


@dataclass
class Module:
    name: str
    tree: ast.Module
    imports: dict[str, tuple[str, str | None]]  # local name -> (module, attribute)
    type_imports: dict[str, tuple[str, str | None]]  # the same, under TYPE_CHECKING
    functions: dict[str, ast.FunctionDef]
    classes: dict[str, ast.ClassDef]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _bind(
    into: dict[str, tuple[str, str | None]], node: ast.Import | ast.ImportFrom, source: str
) -> None:
    for alias in node.names:
        if isinstance(node, ast.Import):
            if alias.asname:
                into[alias.asname] = (alias.name, None)
            else:
                into[alias.name.split(".")[0]] = (alias.name.split(".")[0], None)
        else:
            into[alias.asname or alias.name] = (source, alias.name)


@cache
def package() -> dict[str, Module]:
    modules = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        name = _module_name(path)
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and _is_type_checking(node)
            for inner in node.body
        }
        imports: dict[str, tuple[str, str | None]] = {}
        type_imports: dict[str, tuple[str, str | None]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                source = (
                    _absolute(name, node, is_package) if isinstance(node, ast.ImportFrom) else ""
                )
                _bind(type_imports if id(node) in typing_only else imports, node, source)
        modules[name] = Module(
            name,
            tree,
            imports,
            type_imports,
            {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)},
            {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)},
        )
    return modules


def resolve(module: str, name: str, depth: int = 0) -> Target | None:
    """What ``name`` means at the top of ``module``: one of ours, or a library's."""
    modules = package()
    here = modules[module]
    if name in here.functions:
        return ("function", module, name)
    if name in here.classes:
        return ("class", module, name)
    if name not in here.imports or depth > 10:
        return None
    source, attribute = here.imports[name]
    if attribute is None:
        return ("module", source, None) if source in modules else ("external", source, None)
    if f"{source}.{attribute}" in modules:
        return ("module", f"{source}.{attribute}", None)
    if source in modules:
        return resolve(source, attribute, depth + 1)  # a re-export
    return ("external", source, attribute)


def client_service(module: str, annotation: ast.expr | None, depth: int = 0) -> str | None:
    """The boto3 service of a client annotated ``S3Client`` (or ``"S3Client"``), by the
    ``mypy_boto3_*`` stub module it comes from, through re-exports of ours."""
    if annotation is None or depth > 10:
        return None
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        annotation = ast.parse(annotation.value, mode="eval").body
    if not isinstance(annotation, ast.Name):
        return None
    here = package()[module]
    bound = here.type_imports.get(annotation.id) or here.imports.get(annotation.id)
    if bound is None:
        return None
    source, attribute = bound
    if source.startswith(CLIENT_STUBS):
        return source.removeprefix(CLIENT_STUBS)
    if source in package() and attribute:
        return client_service(source, ast.Name(attribute), depth + 1)
    return None


# -- what a function's code reaches -------------------------------------------------------

Unit = tuple[str, str | None, str]  # (module, class or None, function); "" is the module body


def _function(unit: Unit) -> ast.FunctionDef | None:
    module, cls, name = unit
    here = package()[module]
    if not name:
        return None
    if cls is None:
        return here.functions.get(name)
    for node in here.classes[cls].body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


class _Scan(ast.NodeVisitor):
    """Names, attribute names and calls of a body, annotations left out."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.attributes: set[str] = set()
        self.module_attributes: set[tuple[str, str]] = set()
        self.values: set[str] = set()  # names used as values, not as `x.attr` receivers
        self.imports: list[ast.Import | ast.ImportFrom] = []

    def visit_arg(self, node: ast.arg) -> None:  # annotations are not calls
        return

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        """A nested function: its body runs when the enclosing one calls it."""
        for decorator in node.decorator_list:
            self.visit(decorator)
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        for statement in node.body:
            self.visit(statement)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.visit(node.body)

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node):
            for statement in node.orelse:
                self.visit(statement)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.imports.append(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.imports.append(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.attributes.add(node.attr)
        if isinstance(node.value, ast.Name):
            self.names.add(node.value.id)
            self.module_attributes.add((node.value.id, node.attr))
            return
        self.visit(node.value)

    def visit_Name(self, node: ast.Name) -> None:
        self.names.add(node.id)
        self.values.add(node.id)


def _module_body(module: str) -> Iterator[ast.AST]:
    """What runs when the module is imported: everything but function bodies."""
    for statement in package()[module].tree.body:
        if isinstance(statement, ast.FunctionDef):
            yield from statement.decorator_list
            yield from (d for d in [*statement.args.defaults, *statement.args.kw_defaults] if d)
        elif isinstance(statement, ast.ClassDef):
            yield from statement.decorator_list
            yield from statement.bases
            for inner in statement.body:
                if isinstance(inner, ast.FunctionDef):
                    yield from inner.decorator_list
                    yield from (d for d in [*inner.args.defaults, *inner.args.kw_defaults] if d)
                else:
                    yield inner
        else:
            yield statement


def _scan(unit: Unit) -> _Scan:
    scan = _Scan()
    node = _function(unit)
    if node is None:
        for part in _module_body(unit[0]):
            scan.visit(part)
    else:
        scan.visit_FunctionDef(node)
    return scan


def _methods(module: str, cls: str) -> Iterator[tuple[str, str, str]]:
    """A class's methods and those of its bases of ours: (module, class, method)."""
    node = package()[module].classes[cls]
    for item in node.body:
        if isinstance(item, ast.FunctionDef):
            yield module, cls, item.name
    for base in node.bases:
        if isinstance(base, ast.Name):
            target = resolve(module, base.id)
            if target and target[0] == "class" and target[2]:
                yield from _methods(target[1], target[2])


def reachable(handler: str) -> set[Unit]:
    """Every unit a Lambda handler (``module.function``) can run."""
    module, function = handler.rsplit(".", 1)
    units: set[Unit] = set()
    classes: set[tuple[str, str]] = set()
    value_modules: set[str] = set()
    attributes: set[str] = set()
    pending: list[Unit] = [(module, None, ""), (module, None, function)]

    def add(unit: Unit) -> None:
        if unit not in units:
            units.add(unit)
            pending.append(unit)

    def reach(target: Target | None, as_value: bool = False) -> None:
        if target is None or target[0] == "external":
            return
        kind, where, name = target
        add((where, None, ""))
        if kind == "function" and name:
            add((where, None, name))
        elif kind == "class" and name:
            classes.add((where, name))
        elif kind == "module" and as_value:
            value_modules.add(where)

    while pending:
        while pending:
            unit = pending.pop()
            units.add(unit)
            here, cls, _ = unit
            scan = _scan(unit)
            attributes |= scan.attributes
            modules = package()
            for node in scan.imports:
                source = (
                    _absolute(here, node, is_package=_is_package(here))
                    if isinstance(node, ast.ImportFrom)
                    else ""
                )
                for alias in node.names:
                    full = alias.name if isinstance(node, ast.Import) else source
                    if full in modules:
                        add((full, None, ""))
                    if isinstance(node, ast.ImportFrom) and f"{source}.{alias.name}" in modules:
                        add((f"{source}.{alias.name}", None, ""))
            for name in scan.names:
                reach(resolve(here, name), as_value=name in scan.values)
            for receiver, attribute in scan.module_attributes:
                target = resolve(here, receiver)
                if target and target[0] == "module":
                    reach(resolve(target[1], attribute) or ("module", target[1], None))
            if cls is not None:  # self.method: the class is already reached
                classes.add((here, cls))
        # methods of reached classes (and functions of modules passed as values) whose
        # name is called or read somewhere reached
        for where, cls in list(classes):
            for owner, owner_cls, method in _methods(where, cls):
                if method in attributes or (method.startswith("__") and method.endswith("__")):
                    add((owner, owner_cls, method))
        for where in list(value_modules):
            for name in package()[where].functions:
                if name in attributes:
                    add((where, None, name))
    return units


def _is_package(module: str) -> bool:
    return (PACKAGE_DIR.parent / module.replace(".", "/") / "__init__.py").exists()


# -- the calls in what is reached ---------------------------------------------------------


@cache
def _operations(service: str) -> dict[str, str]:
    """boto3 method name -> API operation name, from botocore's service model."""
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


def _clients(unit: Unit) -> tuple[dict[str, str], dict[str, str]]:
    """The unit's typed client parameters, and its class's ``self.<attribute>`` clients."""
    module, cls, _ = unit
    node = _function(unit)
    params = {}
    if node is not None:
        for arg in [*node.args.args, *node.args.kwonlyargs]:
            service = client_service(module, arg.annotation)
            if service:
                params[arg.arg] = service
    attributes = {}
    if cls is not None:
        init = _function((module, cls, "__init__"))
        if init is not None:
            typed = {
                a.arg: s
                for a in init.args.args
                if (s := client_service(module, a.annotation)) is not None
            }
            for statement in ast.walk(init):
                if (
                    isinstance(statement, ast.Assign)
                    and isinstance(statement.value, ast.Name)
                    and statement.value.id in typed
                ):
                    for target in statement.targets:
                        if isinstance(target, ast.Attribute):
                            attributes[target.attr] = typed[statement.value.id]
    return params, attributes


def _carries_version(call: ast.Call, unit: Unit) -> bool:
    """Whether the request may name an object version: ``VersionId=``, or ``**`` a
    mapping built by a function of ours that puts a ``"VersionId"`` in it."""
    node = _function(unit)
    for keyword in call.keywords:
        if keyword.arg == "VersionId":
            return True
        if keyword.arg is not None:
            continue
        value = keyword.value
        if isinstance(value, ast.Name) and node is not None:  # extra = version_arg(...)
            for statement in ast.walk(node):
                if (
                    isinstance(statement, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == value.id for t in statement.targets)
                    and _builds_version(statement.value, unit[0])
                ):
                    return True
        elif _builds_version(value, unit[0]):
            return True
    return False


def _builds_version(value: ast.expr, module: str) -> bool:
    if isinstance(value, ast.Dict):
        return any(isinstance(k, ast.Constant) and k.value == "VersionId" for k in value.keys)
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        target = resolve(module, value.func.id)
        if target and target[0] == "function" and target[2]:
            body = package()[target[1]].functions[target[2]]
            return any(
                isinstance(n, ast.Constant) and n.value == "VersionId" for n in ast.walk(body)
            )
    return False


def _aws_calls(unit: Unit) -> list[tuple[str, ast.Call]]:
    """The IAM actions of the AWS calls a unit makes itself."""
    node = _function(unit)
    if node is None:
        return []
    params, attributes = _clients(unit)
    found = []
    for call in ast.walk(node):
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
            continue
        receiver, method = call.func.value, call.func.attr
        service = None
        if isinstance(receiver, ast.Name):
            service = params.get(receiver.id)
            target = resolve(unit[0], receiver.id)
            if target and target[0] == "external":
                library = ".".join(p for p in (target[1], target[2]) if p)
                if (library, method) in LIBRARY_CALLS:
                    found.append((LIBRARY_CALLS[library, method], call))
        elif (
            isinstance(receiver, ast.Attribute)
            and isinstance(receiver.value, ast.Name)
            and receiver.value.id == "self"
        ):
            service = attributes.get(receiver.attr)
        if service is None:
            continue
        if method == "get_paginator":  # the operation is its argument
            first = call.args[0]
            assert isinstance(first, ast.Constant), ast.unparse(call)
            method = str(first.value)
        operations = _operations(service)
        assert method in operations, f"{service} has no operation {method}: {ast.unparse(call)}"
        action = f"{IAM_PREFIX.get(service, service)}:{operations[method]}"
        action = ACTION_OF.get(action, action)
        found.append((action, call))
        if action in VERSIONED and _carries_version(call, unit):
            found.append((VERSIONED[action], call))
    return found


def _callees(unit: Unit) -> set[Unit]:
    """The functions of ours a unit calls by name: ``f(...)``, ``module.f(...)``,
    ``self.method(...)``."""
    node = _function(unit)
    if node is None:
        return set()
    module, cls, _ = unit
    found: set[Unit] = set()
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        if isinstance(func, ast.Name):
            target = resolve(module, func.id)
            if target and target[0] == "function" and target[2]:
                found.add((target[1], None, target[2]))
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if func.value.id == "self" and cls is not None:
                for owner, owner_cls, method in _methods(module, cls):
                    if method == func.attr:
                        found.add((owner, owner_cls, method))
                        break
            else:
                target = resolve(module, func.value.id)
                if target and target[0] == "module":
                    inner = resolve(target[1], func.attr)
                    if inner and inner[0] == "function" and inner[2]:
                        found.add((inner[1], None, inner[2]))
    return found


def _closure(unit: Unit) -> set[Unit]:
    seen = {unit}
    pending = [unit]
    while pending:
        for callee in _callees(pending.pop()):
            if callee not in seen:
                seen.add(callee)
                pending.append(callee)
    return seen


def _key_prefixes(unit: Unit) -> set[str]:
    """The state table key prefixes a unit writes literally: ``f"archive#{key}"``."""
    node = _function(unit)
    if node is None:
        return set()
    docstrings = {
        id(n.value) for n in ast.walk(node) if isinstance(n, ast.Expr)
    }  # a bare string is a docstring, not a key
    found = set()
    for value in ast.walk(node):
        text = None
        if isinstance(value, ast.JoinedStr) and value.values:
            first = value.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                text = first.value
        elif isinstance(value, ast.Constant) and isinstance(value.value, str):
            text = value.value if id(value) not in docstrings else None
        if text is None:
            continue
        head, sep, _ = text.partition("#")
        if sep and head.isalpha() and head.islower():
            found.add(f"{head}#")
    return found


def derive(handler: str) -> Calls:
    """The AWS calls the code behind a Lambda handler can make."""
    units = reachable(handler)
    actions: set[str] = set()
    sites: dict[str, list[str]] = {}
    keyed_units: dict[Unit, set[str]] = {}
    for unit in units:
        for action, call in _aws_calls(unit):
            actions.add(action)
            sites.setdefault(action, []).append(f"{unit[0]}:{call.lineno}")
            if action.startswith(f"{KEY_PREFIX}:"):
                keyed_units.setdefault(unit, set()).add(action)
    keyed: set[tuple[str, str]] = set()
    covered: set[Unit] = set()
    for unit in units:
        closure = _closure(unit)
        calls = {a for u in closure for a in keyed_units.get(u, set())}
        prefixes = {p for u in closure for p in _key_prefixes(u)}
        if calls and prefixes:
            keyed |= {(action, prefix) for action in calls for prefix in prefixes}
            covered |= closure & set(keyed_units)
    unkeyed = {
        f"{action} at {unit[0]}.{unit[2]}"
        for unit, found in keyed_units.items()
        if unit not in covered
        for action in found
    }
    return Calls(frozenset(actions), frozenset(keyed), frozenset(unkeyed), sites)
