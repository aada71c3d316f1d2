# Everything a fresh clone needs: `make demo` and `make test` create the virtualenv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The tool-using example agent on the embedded fake provider, under opentelemetry-instrument,
# printing each trace as a tree and a run summary. No API key, no backend.
demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/ruff check otel_agentops tests examples benchmarks
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check otel_agentops tests examples benchmarks
	$(BIN)/ruff format --check otel_agentops tests examples benchmarks

format: $(STAMP)
	$(BIN)/ruff format otel_agentops tests examples benchmarks
	$(BIN)/ruff check --fix otel_agentops tests examples benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
