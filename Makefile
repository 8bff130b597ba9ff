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

.PHONY: demo test lint typecheck pytest bench tools package package-aws package-azure package-gcp clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.core-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
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

tools: $(TOOLS)/azurite/node_modules/.bin/azurite $(TOOLS)/checkov/bin/checkov

demo: $(VENV)/.core-installed
	$(BIN)/controller-backup demo

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

pytest: $(VENV)/.dev-installed tools
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/run.py

# Deployable bundles under dist/<cloud>/: the core, that cloud's handlers and only its SDKs.
package-aws package-azure package-gcp: package-%: $(VENV)/.dev-installed
	$(BIN)/python scripts/package_$*.py

package: package-aws package-azure package-gcp

clean:
	rm -rf $(VENV) $(TOOLS) dist build .demo
