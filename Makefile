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
DEMO_ENV := OTEL_SERVICE_NAME=support-agent \
	OTEL_TRACES_EXPORTER=agentops_console OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none \
	OTEL_AGENTOPS_SUMMARY=true \
	OTEL_AGENTOPS_AGENT_FUNCTIONS=support_agent.agent:run_agent=support-agent \
	OTEL_AGENTOPS_TOOL_FUNCTIONS=support_agent.tools:lookup_order,support_agent.tools:search_docs

demo: $(STAMP)
	cd examples && env $(DEMO_ENV) ../$(BIN)/opentelemetry-instrument ../$(BIN)/python -m support_agent

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
