# Two commands on a fresh machine:
#   make demo   back up an emulated controller and restore it into a blank replacement, locally
#   make test   install everything the tests need, then lint, type-check and run the whole suite
# `.ci/run` runs `make test`.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
AZURITE_VERSION := 3.35.0
CHECKOV_VERSION := 3.3.30
# The azurerm and google provider schemas, from CDK for Terraform's prebuilt bindings (their
# .jsii metadata): provider-azurerm 14.23.1 was generated from hashicorp/azurerm 4.55.0,
# provider-google 16.12.1 from hashicorp/google 6.50.0 (tests/terraform/schema.py checks both).
CDKTF_SCHEMAS := $(TOOLS)/cdktf-schemas
CDKTF_BINDINGS := provider-azurerm@14.23.1 provider-google@16.12.1
PIP_VERSION := 26.3
UV_VERSION := 0.13.9

.PHONY: demo test lint typecheck pytest compat bench docs tools package package-aws package-azure package-gcp lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The demo runs the core against the emulator: the core, and the emulator's extra.
$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[emulator]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Azurite (npm) for the Azure Blob tests; checkov in its own venv (its hcl2 fork clashes with python-hcl2).
$(TOOLS)/azurite/node_modules/.bin/azurite:
	mkdir -p $(TOOLS)/azurite
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/azurite azurite@$(AZURITE_VERSION)

$(TOOLS)/checkov/bin/checkov:
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/pip install -q checkov==$(CHECKOV_VERSION)

# Only a binding's package.json and .jsii are kept (about 90 MB each, of 270 MB unpacked); no
# install scripts, no dependencies (cdktf and constructs are not needed to read the JSON).
$(CDKTF_SCHEMAS)/%/.jsii:
	rm -rf $(@D).tmp && mkdir -p $(@D).tmp
	npm pack --silent --pack-destination $(@D).tmp @cdktf/$* >/dev/null
	tar -xzf $(@D).tmp/*.tgz -C $(@D).tmp --strip-components=1 --wildcards 'package/package.json' 'package/.jsii*'
	rm -f $(@D).tmp/*.tgz && rm -rf $(@D) && mv $(@D).tmp $(@D)

tools: $(TOOLS)/azurite/node_modules/.bin/azurite $(TOOLS)/checkov/bin/checkov \
	$(foreach b,$(CDKTF_BINDINGS),$(CDKTF_SCHEMAS)/$(b)/.jsii)

demo: $(VENV)/.demo-installed
	$(BIN)/controller-backup demo

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

# Most tests wait on servers and emulated controllers rather than compute: four workers overlap
# those waits on two cores. A file's tests stay on one worker (its module fixtures are built once).
XDIST := -n 4 --dist loadfile

pytest: $(VENV)/.dev-installed tools
	$(BIN)/pytest $(XDIST)

# The cloud runtimes run Python 3.12 and 3.13: the core's own suites run on each of them too, but
# for the tests marked slow (real-time waits and memory ceilings, which 3.11 runs and which test
# timing, not the language). A missing interpreter fails loudly; `make test COMPAT_PYTHONS=` opts out.
COMPAT_PYTHONS ?= 3.12 3.13
CORE_SUITES := tests/unit tests/integration tests/stores/test_local.py tests/emulator

.venv-%/.installed: pyproject.toml
	@py=$$(for c in python$* $$HOME/.pyenv/versions/$*.*/bin/python$*; do \
	         $$c -c "" 2>/dev/null && { echo $$c; break; }; done); \
	 [ -n "$$py" ] || { echo "python$* not found: install it, or run make test COMPAT_PYTHONS="; exit 1; }; \
	 echo "$$py -m venv .venv-$*"; $$py -m venv .venv-$*
	.venv-$*/bin/pip install -q --upgrade pip
	.venv-$*/bin/pip install -q -e '.[emulator]' 'rich>=13' pytest pytest-timeout pytest-xdist hypothesis
	touch $@

.PRECIOUS: .venv-%/.installed
compat-%: .venv-%/.installed
	.venv-$*/bin/python -m pytest -q -p no:cacheprovider $(XDIST) -m "not slow" $(CORE_SUITES)

compat: $(addprefix compat-,$(COMPAT_PYTHONS))

test: lint typecheck pytest compat

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/run.py

# The Terraform modules' README Inputs and Outputs tables, written from their variables.tf and
# outputs.tf (tests/terraform/test_docs.py fails while one is out of date).
docs: $(VENV)/.dev-installed
	$(BIN)/python scripts/terraform_docs.py

# Deployable bundles under dist/<cloud>/: the core's modules that cloud runs, its handlers, and its
# lock (functions/<cloud>/requirements.lock) installed exactly. Packaging needs pip alone, in a venv
# of its own: no dev toolchain. uv only regenerates the locks: `make lock` keeps the pins the extras
# still allow, `make lock UPGRADE=1` moves every pin to the newest release they allow.
$(TOOLS)/package/bin/python:
	$(PYTHON) -m venv $(TOOLS)/package
	$(TOOLS)/package/bin/python -m pip install -q pip==$(PIP_VERSION)

$(TOOLS)/uv/bin/uv:
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install -q uv==$(UV_VERSION)

package-aws package-azure package-gcp: package-%: $(TOOLS)/package/bin/python
	$(TOOLS)/package/bin/python scripts/package.py $* $(if $(COPIES_TO),--copies-to $(COPIES_TO))

package: package-aws package-azure package-gcp

lock: $(TOOLS)/uv/bin/uv
	$(TOOLS)/uv/bin/python scripts/package.py --lock --uv $(TOOLS)/uv/bin/uv $(if $(UPGRADE),--upgrade) aws azure gcp

# Everything the targets, tests and tools above create: venvs, tools, packages and builds, caches,
# and Terraform's provider folders. Never Terraform state or lock files: those may be a deployment's.
clean:
	rm -rf $(VENV) .venv-* $(TOOLS) dist build .demo *.egg-info shared/*.egg-info
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
	find infra tests -type d -name .terraform -prune -exec rm -rf {} +
