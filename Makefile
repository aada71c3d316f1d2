# Everything a fresh clone needs: `make demo` and `make test` create the virtualenv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LITELLM_VENV := .venv-litellm
LITELLM_STAMP := $(LITELLM_VENV)/.installed

.PHONY: demo test lint format bench clean venv binaries promtool redis-server e2e jaeger collector demo-otlp \
	clean-binaries test-litellm

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

# PROVIDER picks the client library: openai (default), anthropic, groq, gemini, bedrock, mistral, cohere.
PROVIDER ?= openai
demo: $(STAMP)
	cd examples && env $(DEMO_ENV) ../$(BIN)/opentelemetry-instrument ../$(BIN)/python -m support_agent \
		--provider $(PROVIDER)

test: $(STAMP) binaries promtool redis-server $(LITELLM_STAMP)
	$(BIN)/ruff check otel_agentops tests examples benchmarks
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory test-litellm

# LiteLLM pins openai<3 while the main virtualenv tests openai 3, so LiteLLM gets a virtualenv of its own
# and its tests (tests/litellm_provider, not collected in .venv) run there.
$(LITELLM_STAMP): pyproject.toml
	test -x $(LITELLM_VENV)/bin/python || $(PYTHON) -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LITELLM_VENV)/bin/python -m pip install --quiet -e ".[litellm,openai,anthropic]" \
		"pytest>=8,<10" "pytest-asyncio>=0.24,<2" "pytest-timeout>=2.3,<3" "mcp>=2.2,<3"
	touch $(LITELLM_STAMP)

test-litellm: $(LITELLM_STAMP)
	LITELLM_LOCAL_MODEL_COST_MAP=True $(LITELLM_VENV)/bin/python -m pytest -q tests/litellm_provider

# Real Jaeger v2 and OpenTelemetry Collector binaries for the e2e tests, `make jaeger` and `make collector`:
# built once per machine with Go from the module proxy, cached outside the repo
# (${XDG_CACHE_HOME:-~/.cache}/otel-agentops). Without Go: a message, and the e2e tests skip (not in CI).
binaries:
	bash scripts/otel-binaries.sh build all

# promtool for the alert-rule unit tests (Debian's prometheus package, when root).
promtool:
	bash scripts/ensure-debian-tool.sh promtool prometheus

# redis-server for the shared-state and Redis cache tests (Debian's redis-server package, when root);
# the tests start their own server on a random loopback port.
redis-server:
	bash scripts/ensure-debian-tool.sh redis-server redis-server

e2e: $(STAMP) binaries promtool
	$(BIN)/python -m pytest -q tests/e2e

# Jaeger v2 with an in-memory store for the demo: OTLP on localhost:4317/4318, UI and API on
# http://localhost:16686. Then, in another terminal: make demo-otlp
jaeger:
	bash scripts/otel-binaries.sh build jaeger
	$$(bash scripts/otel-binaries.sh path jaeger) --config collector-config/jaeger.yaml

# The Collector (collector-config/otelcol.yaml) on localhost:4317/4318 in front of a Jaeger on
# localhost:14317, Prometheus metrics on http://localhost:8889/metrics. Ctrl-C stops both.
collector:
	bash scripts/otel-binaries.sh build all
	bash scripts/run-collector-stack.sh

# The example agent exporting over OTLP (to `make jaeger` or `make collector`) instead of the console.
OTLP_ENDPOINT ?= http://localhost:4317
demo-otlp: $(STAMP)
	cd examples && env $(DEMO_ENV) OTEL_TRACES_EXPORTER=otlp OTEL_METRICS_EXPORTER=otlp \
		OTEL_EXPORTER_OTLP_ENDPOINT=$(OTLP_ENDPOINT) \
		../$(BIN)/opentelemetry-instrument ../$(BIN)/python -m support_agent

clean-binaries:
	bash scripts/otel-binaries.sh clean

lint: $(STAMP)
	$(BIN)/ruff check otel_agentops tests examples benchmarks
	$(BIN)/ruff format --check otel_agentops tests examples benchmarks

format: $(STAMP)
	$(BIN)/ruff format otel_agentops tests examples benchmarks
	$(BIN)/ruff check --fix otel_agentops tests examples benchmarks

# The overhead benchmarks (bare SDK, otel-agentops, the official instrumentation, OpenLLMetry), ~10 min;
# BENCH_ARGS=--quick for a one-minute run. Results: benchmarks/results/.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
