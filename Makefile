# The two commands of the README: `make demo` and `make test`. Both install what they need.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin

.PHONY: install demo test lint stack-up stack-down browser

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/chiso766 demo

lint: install
	$(BIN)/ruff check pipeline streams sinks dashboards tests benchmarks
	$(BIN)/ruff format --check pipeline streams sinks dashboards tests benchmarks
	$(BIN)/mypy pipeline streams sinks dashboards

# Debian's headless Chromium for the report's browser tests (tests/test_report_browser.py).
browser:
	tools/install-chromium.sh

test: install browser
	$(BIN)/chiso766 stack up
	$(MAKE) lint
	$(BIN)/pytest

stack-up: install
	$(BIN)/chiso766 stack up

stack-down: install
	$(BIN)/chiso766 stack down
