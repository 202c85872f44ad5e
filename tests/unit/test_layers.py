"""The package's layers, read from the imports themselves: a lower layer never imports a
higher one, and the runtime (what Lambda runs) never imports the tooling."""

import ast
from pathlib import Path

import pytest

from ft_archiver_tools.check_build import development_files

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
