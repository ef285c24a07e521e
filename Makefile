# Rollback Cockpit — `make help` lists the targets.
# `make demo` and `make test` bootstrap everything they need on a fresh machine.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PINS := $(shell cat pyproject.toml constraints.txt 2>/dev/null | cksum | cut -d' ' -f1)
# Two levels, both from constraints.txt: what the demo runs on (about 15 s on a fresh machine),
# and everything the tests, checks and other drills' platform clients need.
BASE := $(VENV)/.base-$(PINS)
STAMP := $(VENV)/.installed-$(PINS)

.DEFAULT_GOAL := help

##@ Run

demo: $(BASE) ## Run the cockpit on its built-in simulated production (installs only what it needs)
	$(BIN)/cockpit demo

##@ Quality

test: $(STAMP) services ## Run the whole test suite (starts the services tests need)
	$(BIN)/pytest -q

check: $(STAMP) lint types contracts test ## Lint, types, import contracts and tests

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check cockpit widgets providers tests scripts
	$(BIN)/ruff format --check cockpit widgets providers tests scripts

types: $(STAMP) ## mypy --strict on cockpit, providers, widgets
	$(BIN)/mypy

contracts: $(STAMP) ## import-linter: core and providers never import Textual, ...
	$(BIN)/lint-imports

format: $(STAMP) ## Reformat the code with ruff
	$(BIN)/ruff format cockpit widgets providers tests scripts
	$(BIN)/ruff check --fix cockpit widgets providers tests scripts

##@ Artefacts

bench: $(STAMP) ## Benchmarks, printed as a table with ratios against baselines
	$(BIN)/python scripts/bench.py

docs: $(STAMP) ## Regenerate the provider reference in docs/procedure-format.md
	$(BIN)/python -m cockpit.procedure_reference docs/procedure-format.md

screenshots: $(STAMP) ## Regenerate the SVG screenshots in screenshots/ and the snapshot tests' (fixed clock)
	$(BIN)/python scripts/screenshots.py
	$(BIN)/pytest -q tests/test_snapshots.py --snapshot-update

lock: ## Re-pin constraints.txt from a fresh resolution (review the diff)
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv && .lockvenv/bin/pip install -q '.[dev,kubernetes,docker,postgres,aws]' \
	  && .lockvenv/bin/pip freeze --exclude rollback-cockpit | grep -v '^-e' > constraints.txt && rm -rf .lockvenv

##@ Set-up

services: ## Install (as root) what the tests drive: sshd, tmux, sqlite3, Prometheus, podman, PostgreSQL, Redis
	bash scripts/services.sh

venv: $(STAMP) ## Create .venv with the pinned packages

$(BASE): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e .
	rm -f $(VENV)/.base-* && touch $@

$(STAMP): $(BASE)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,kubernetes,docker,postgres,aws]'
	rm -f $(VENV)/.installed-* && touch $@

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache

help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

.PHONY: demo test check lint types contracts format bench screenshots docs lock services venv clean help
