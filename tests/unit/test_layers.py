"""The package's layers, read from the imports themselves: a lower layer never imports a
higher one, and the runtime (what Lambda runs) never imports the tooling."""

import ast
import json
from pathlib import Path

import pytest

from ft_archiver_tools.check_build import development_files
from tests.support.interpreter import run_fresh

RUNTIME = Path(__file__).resolve().parents[2] / "functions" / "ft_archiver"

# layer -> the ft_archiver modules it may not import (prefixes)
FORBIDDEN = {
    "domain": ("ft_archiver.adapters", "ft_archiver.service", "ft_archiver.handlers",
               "ft_archiver.wiring", "ft_archiver.settings", "ft_archiver.observability"),
    "adapters": ("ft_archiver.handlers", "ft_archiver.wiring"),
    # The service owns its ports and their types (service/ports.py); adapters implement
    # them and are chosen by the wiring, so the service never names one.
    "service": ("ft_archiver.adapters", "ft_archiver.handlers", "ft_archiver.wiring",
                "ft_archiver.observability", "ft_archiver.settings"),
}  # fmt: skip


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def modules() -> list[Path]:
    return sorted(RUNTIME.rglob("*.py"))


def test_there_is_a_runtime_to_check() -> None:
    assert len(modules()) > 30


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(RUNTIME)))
def test_the_runtime_never_imports_the_tooling(path: Path) -> None:
    assert not {name for name in imports(path) if name.startswith("ft_archiver_tools")}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_layer_imports_one_above_it(layer: str) -> None:
    offending = {
        f"{path.relative_to(RUNTIME)} imports {name}"
        for path in (RUNTIME / layer).rglob("*.py")
        for name in imports(path)
        if name.startswith(FORBIDDEN[layer])
    }
    assert offending == set()


# What the webhook never needs: it verifies, parses and enqueues, and never streams.
NOT_FOR_THE_WEBHOOK = (
    "requests",  # Together's client
    "ft_archiver.adapters.together",
    "ft_archiver.adapters.sha256_state",  # ctypes and libcrypto
    "ft_archiver.service.transfer",  # the transfer engine
    "ft_archiver.service.archive",
)


def loaded_by(module: str) -> set[str]:
    """The modules importing ``module`` loads, in a fresh interpreter (as a cold start)."""
    probe = (
        "import importlib, json, sys\n"
        "importlib.import_module(sys.argv[1])\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    return set(json.loads(run_fresh(probe, module)))


def test_the_webhook_imports_no_transfer_engine_no_requests_and_no_ctypes() -> None:
    loaded = loaded_by("ft_archiver.handlers.webhook")
    assert "ft_archiver.service.intake" in loaded  # the probe did import the handler
    assert loaded & set(NOT_FOR_THE_WEBHOOK) == set()


# Every function's settings model but the webhook's (ft_archiver.settings imports each
# model when it is first asked for), and the unpack domain.
NOT_FOR_THE_WEBHOOK_COLD_START = (
    "ft_archiver.settings.archiving",
    "ft_archiver.settings.archive_steps",
    "ft_archiver.settings.poller",
    "ft_archiver.settings.transfer",
    "ft_archiver.settings.unpacker",
    "ft_archiver.domain.unpack.request",
)


def test_the_webhook_builds_its_own_settings_model_only() -> None:
    loaded = loaded_by("ft_archiver.handlers.webhook")
    assert "ft_archiver.settings.webhook" in loaded
    assert loaded & set(NOT_FOR_THE_WEBHOOK_COLD_START) == set()


def test_the_unpacker_does_import_its_settings_and_its_domain() -> None:
    loaded = loaded_by("ft_archiver.handlers.unpacker")
    assert {"ft_archiver.settings.unpacker", "ft_archiver.domain.unpack.request"} <= loaded


def test_the_archiver_does_import_what_the_webhook_must_not() -> None:
    """The probe can see these modules: it is the webhook that does without them."""
    assert set(NOT_FOR_THE_WEBHOOK) <= loaded_by("ft_archiver.handlers.archiver")


def test_the_build_check_finds_development_code(tmp_path: Path) -> None:
    (tmp_path / "ft_archiver" / "local").mkdir(parents=True)
    (tmp_path / "ft_archiver" / "cli.py").write_text("")
    (tmp_path / "ft_archiver" / "handlers").mkdir()
    (tmp_path / "ft_archiver_tools").mkdir()
    assert development_files(tmp_path) == [
        "ft_archiver/cli.py", "ft_archiver/local", "ft_archiver_tools",
    ]  # fmt: skip
    clean = tmp_path / "clean"
    (clean / "ft_archiver" / "handlers").mkdir(parents=True)
    assert development_files(clean) == []
