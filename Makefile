# driftd developer tasks. `make` (or `make help`) lists them; CI runs `make test` too.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install: the venv is reinstalled only when pyproject changes.
INSTALLED := $(VENV)/.installed

.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.PHONY: help venv run test lint typecheck bench clean

help: ## Show this list of targets
	@echo "Usage: make TARGET [PYTHON=python3.11]"
	@echo
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z_-]+:.*## / { printf "  %-10s %s\n", $$1, $$2 }' \
		$(MAKEFILE_LIST)

venv: $(INSTALLED) ## Create .venv (Python 3.11+) and install driftd with its dev tools

# An existing venv is reused, not re-created: that could switch its interpreter.
$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "driftd needs Python 3.11 or newer (PYTHON=$(PYTHON))." \
		          "Try: make venv PYTHON=python3.11" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> upgrading pip in $(VENV)"
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> installing driftd and its dev tools into $(VENV) (the first time takes a few minutes; pip lists each package)"
	$(BIN)/python -m pip install --progress-bar off -e '.[dev]'
	@echo "==> $(VENV) is ready"
	touch $@

run: venv ## Run the daemon on the built-in synthetic stream (driftd demo)
	$(BIN)/driftd demo

test: venv ## Lint, type-check, then run the test suite (what CI runs)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: venv ## Check style and imports with ruff
	$(BIN)/ruff check .

typecheck: venv ## Type-check src/ with mypy --strict
	$(BIN)/mypy

bench: venv ## Run the benchmarks (outside the test run)
	$(BIN)/python benchmarks/run.py

clean: ## Remove caches and build output (keeps .venv and var/)
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis src/*.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
