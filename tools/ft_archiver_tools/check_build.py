"""Imports every handler of template.yaml from its built artifact (.aws-sam/build/<Function>)
with the Lambda runtime's Python, isolated from this checkout and its virtualenv: proof
that the artifact is complete. Usage: check_build.py PYTHON313 (run by `make package`)."""

import os
import subprocess
import sys
from pathlib import Path

from ft_archiver_tools.template import load_template

ROOT = Path(__file__).resolve().parents[2]  # the repository
PROBE = """
import importlib, sys
sys.path.insert(0, sys.argv[1])
module, attribute = sys.argv[2].rsplit(".", 1)
handler = getattr(importlib.import_module(module), attribute)
assert callable(handler)
loaded = sys.modules[module].__file__
assert loaded.startswith(sys.argv[1]), loaded
print(f"{sys.argv[2]} imports from {loaded} with Python {sys.version.split()[0]}")
"""


def main(python: str) -> int:
    template = load_template()
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "ft-archiver",
        "POWERTOOLS_METRICS_NAMESPACE": "FtArchiver",
    }
    failures = 0
    for name, spec in template["Resources"].items():
        if spec["Type"] != "AWS::Serverless::Function":
            continue
        artifact = ROOT / ".aws-sam" / "build" / name
        handler = spec["Properties"]["Handler"]
        done = subprocess.run(  # noqa: S603 - our own interpreter path and probe
            [python, "-I", "-c", PROBE, str(artifact), handler],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        sys.stdout.write(done.stdout)
        if done.returncode:
            failures += 1
            sys.stderr.write(f"{name}: {handler} does not import from {artifact}\n{done.stderr}")
        for found in development_files(artifact):
            failures += 1
            sys.stderr.write(f"{name}: the artifact holds development code: {found}\n")
    return 1 if failures else 0


# What runs on a laptop or in CI, never in Lambda: the command line, the simulator, the
# emulator launchers, serve and the demo (ft_archiver_tools), and the test tooling.
DEVELOPMENT = ("ft_archiver_tools", "ft_archiver/local", "ft_archiver/cli*.py", "moto",
               "pytest", "_pytest", "hypothesis", "mypy")  # fmt: skip


def development_files(artifact: Path) -> list[str]:
    """What of DEVELOPMENT is in a built function's folder (relative paths)."""
    return sorted(str(path.relative_to(artifact)) for pattern in DEVELOPMENT
                  for path in artifact.glob(pattern))  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
