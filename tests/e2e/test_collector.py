"""The example agent -> OTLP -> the real Collector (collector-config/otelcol.yaml) -> Jaeger, Prometheus.

One scenario per module (the processes are slow to start): a healthy run and a run whose chat calls fail
(500 from the fake provider, after the SDK's own retries), both with a secret planted in a resource
attribute, through tail sampling at ratio 0. Then each test checks one promise of the config.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_support import (
    CONFIG,
    DATA_TIMEOUT,
    Collector,
    Jaeger,
    parent_id,
    process_tags,
    root,
    run_agent,
    start_collector,
    start_fake_provider,
    tags,
    validate_collector_config,
    wait_for,
)

HEALTHY, FAULTY, INSTRUMENTS = "e2e-healthy", "e2e-faulty", "e2e-instruments"
SECRET = "sk-proj-e2eCollectorSecret0123456789abcdef"
MAX_LENGTH = 256
RESOURCE = f"agentops.e2e.api_key={SECRET},agentops.e2e.note=key:{SECRET},agentops.e2e.blob={'x' * 1000}"
RULES = CONFIG / "prometheus" / "agentops-alerts.yaml"
SAMPLING = {
    # Keep errors only: nothing is slow or expensive enough, and the probabilistic share is 0.
    "AGENTOPS_TAIL_SAMPLING_PERCENT": "0",
    "AGENTOPS_TAIL_SAMPLING_SLOW_MS": "600000",
    "AGENTOPS_TAIL_SAMPLING_COST_USD": "1000",
    "AGENTOPS_TAIL_SAMPLING_DECISION_WAIT": "20s",
    "AGENTOPS_TAIL_SAMPLING_WAIT_AFTER_ROOT": "1s",
    "AGENTOPS_SPANMETRICS_FLUSH": "1s",
    "AGENTOPS_MAX_ATTRIBUTE_LENGTH": str(MAX_LENGTH),
}

SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][\w:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def parse(exposition: str) -> list[Sample]:
    samples = []
    for line in exposition.splitlines():
        if line.startswith("#") or not (match := SAMPLE.match(line)):
            continue
        labels = dict(LABEL.findall(match["labels"] or ""))
        samples.append(Sample(match["name"], labels, float(match["value"])))
    return samples


def value(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


@dataclass
class Scenario:
    collector: Collector
    jaeger: Jaeger
    instruments: list[str]


@pytest.fixture(scope="module")
def scenario(jaeger: Jaeger, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    workdir = tmp_path_factory.mktemp("collector")
    settings = {**SAMPLING, "AGENTOPS_COLLECTOR_TRACES_ENDPOINT": jaeger.otlp_grpc}
    with (
        start_collector(workdir, CONFIG / "otelcol.yaml", settings) as collector,
        start_fake_provider(workdir) as fake,
    ):
        common = {
            "OPENAI_BASE_URL": fake.openai_base_url,
            "OPENAI_API_KEY": "fake-key",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_RESOURCE_ATTRIBUTES": RESOURCE,
            # The process's own safety net limited to our spans leaves the resource (and its planted
            # secret) to the Collector's redaction, which is what this scenario tests.
            "OTEL_AGENTOPS_REDACT_ALL_SPANS": "false",
        }
        run_agent(
            {
                **common,
                "OTEL_SERVICE_NAME": HEALTHY,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{collector.otlp_grpc}",
            }
        )
        # Every chat call fails, the SDK's two retries included: the first agent run raises and the app
        # exits with the error (its spans are flushed at exit).
        fake.add_fault({"status": 500}, times=None, path="/v1/chat/completions")
        failed = run_agent(
            {
                **common,
                "OTEL_SERVICE_NAME": FAULTY,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{collector.otlp_http}",
            },
            expect_ok=False,
        )
        assert "InternalServerError" in failed.stderr, failed.stderr[-2000:]
        emitted = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).with_name("emit_instruments.py")),
                collector.otlp_grpc,
                INSTRUMENTS,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )

        # 4 healthy traces (3 agent runs, the summary) and 1 failed one reached a decision.
        def decided() -> bool:
            samples = parse(collector.scrape(collector.telemetry))
            name = "otelcol_processor_tail_sampling_global_count_traces_sampled"
            return value(samples, name, sampled="false") >= 4 and value(samples, name, sampled="true") >= 1

        wait_for("the tail-sampling decisions", decided, DATA_TIMEOUT, collector.process.tail)
        yield Scenario(collector, jaeger, emitted.stdout.split("\n"))


def test_collector_configs_validate(tmp_path: Path):
    for config in ("otelcol.yaml", "otelcol-agent.yaml"):
        result = validate_collector_config(CONFIG / config)
        assert result.returncode == 0, f"{config}: {result.stdout}{result.stderr}"
    # ...and `validate` does reject a config that uses a component the build does not have.
    broken = tmp_path / "broken.yaml"
    text = (CONFIG / "otelcol.yaml").read_text()
    broken.write_text(text.replace("  batch:\n", "  groupbytrace:\n  batch:\n", 1))
    result = validate_collector_config(broken)
    assert result.returncode != 0
    assert "groupbytrace" in result.stdout + result.stderr


def test_tail_sampling_keeps_error_traces_and_drops_healthy_ones(scenario: Scenario):
    [trace] = scenario.jaeger.wait_for_traces(FAULTY, 1)
    top = root(trace)
    assert top["operationName"] == "invoke_agent support-agent"
    assert tags(top)["otel.status_code"] == "ERROR"
    spans = {span["operationName"]: span for span in trace["spans"]}
    assert set(spans) == {
        "invoke_agent support-agent",
        "embeddings text-embedding-3-small",
        "chat gpt-4o-mini",
    }
    chat = tags(spans["chat gpt-4o-mini"])
    assert chat["otel.status_code"] == "ERROR"
    assert chat["error.type"] == "openai.InternalServerError"
    assert parent_id(spans["chat gpt-4o-mini"]) == top["spanID"]
    # The healthy run's traces were decided before the failed one (tail-sampling metrics above) and
    # dropped: ratio 0, no error, not slow, not expensive.
    assert scenario.jaeger.traces(HEALTHY) == []


def test_redaction_masks_a_planted_secret_and_keeps_token_counts(scenario: Scenario):
    [trace] = scenario.jaeger.wait_for_traces(FAULTY, 1)
    assert SECRET not in json.dumps(trace)
    resource = process_tags(trace, root(trace))
    assert resource["agentops.e2e.api_key"] == "****"  # key names a secret: whole value masked
    assert resource["agentops.e2e.note"] == "key:****"  # value pattern: only the key masked
    assert resource["redaction.masked.count"] == 2
    # transform/truncate: oversized attributes cut at AGENTOPS_MAX_ATTRIBUTE_LENGTH.
    assert resource["agentops.e2e.blob"] == "x" * MAX_LENGTH
    # Token counts are numbers the redaction never turns into "****".
    embeddings = next(s for s in trace["spans"] if s["operationName"].startswith("embeddings "))
    usage = tags(embeddings)["gen_ai.usage.input_tokens"]
    assert isinstance(usage, int) and usage > 0


def test_spanmetrics_count_every_span_before_sampling(scenario: Scenario):
    def spans_counted() -> list | None:
        samples = parse(scenario.collector.scrape())
        calls = "traces_span_metrics_calls_total"
        healthy_chats = value(samples, calls, job=HEALTHY, span_name="chat gpt-4o-mini")
        failed_chats = value(
            samples, calls, job=FAULTY, span_name="chat gpt-4o-mini", status_code="STATUS_CODE_ERROR"
        )
        return samples if healthy_chats == 7 and failed_chats == 1 else None

    samples = wait_for("span metrics on the Prometheus endpoint", spans_counted, DATA_TIMEOUT)
    calls = "traces_span_metrics_calls_total"
    # The dropped healthy traces are counted all the same: RED metrics stay exact under sampling.
    assert value(samples, calls, job=HEALTHY, span_name="invoke_agent support-agent") == 3
    assert value(samples, calls, job=HEALTHY, span_name="execute_tool lookup_order") == 2
    chat = next(s for s in samples if s.name == calls and s.labels.get("span_name") == "chat gpt-4o-mini")
    assert chat.labels["gen_ai_request_model"] == "gpt-4o-mini"
    assert chat.labels["gen_ai_provider_name"] == "openai"
    assert chat.labels["span_kind"] == "SPAN_KIND_CLIENT"
    failed = [
        s
        for s in samples
        if s.name == calls
        and s.labels.get("job") == FAULTY
        and s.labels.get("status_code") == "STATUS_CODE_ERROR"
    ]
    assert {s.labels.get("error_type") for s in failed if s.labels["span_name"].startswith("chat")} == {
        "openai.InternalServerError"
    }
    assert value(samples, "traces_span_metrics_duration_seconds_count", job=HEALTHY) == 16
    assert any(s.name == "traces_span_metrics_duration_seconds_bucket" for s in samples)


def rule_expressions() -> list[str]:
    """The `expr:` of every rule in the alert rules file (block or single-line)."""
    expressions, block, indent = [], None, 0
    for line in RULES.read_text().splitlines():
        stripped = line.lstrip()
        if block is not None:
            if stripped and len(line) - len(stripped) <= indent:
                expressions.append("\n".join(block))
                block = None
            else:
                block.append(line)
                continue
        if stripped.startswith("expr:"):
            rest = stripped[len("expr:") :].strip()
            if rest in ("|", ">", "|-", ">-"):
                block, indent = [], len(line) - len(stripped)
            else:
                expressions.append(rest)
    if block is not None:
        expressions.append("\n".join(block))
    return expressions


def rule_metric_names() -> set[str]:
    """Metric names the alert rules query: label matchers and grouping labels left out."""
    names = set()
    for expression in rule_expressions():
        bare = re.sub(r"\{[^}]*\}", "", expression)
        bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", bare)
        names |= set(re.findall(r"(?<![\w:])((?:gen_ai|agentops|traces_span_metrics)_\w+)(?![\w:])", bare))
    return names


def test_app_metrics_reach_prometheus_under_the_names_the_alert_rules_use(scenario: Scenario):
    names = rule_metric_names()
    assert "gen_ai_client_operation_duration_seconds_bucket" in names
    assert "agentops_circuit_breaker_state_ratio" in names

    def all_there() -> list[Sample] | None:
        samples = parse(scenario.collector.scrape())
        return samples if names <= {s.name for s in samples} else None

    def missing() -> str:
        present = {s.name for s in parse(scenario.collector.scrape())}
        return f"missing: {sorted(names - present)}\nemitted instruments: {scenario.instruments}"

    samples = wait_for("every metric the alert rules use", all_there, DATA_TIMEOUT, missing)
    # From the real app, not only from the instrument emitter.
    duration = "gen_ai_client_operation_duration_seconds_count"
    assert value(samples, duration, job=HEALTHY, gen_ai_operation_name="chat") == 7
    assert value(samples, duration, job=FAULTY, error_type="openai.InternalServerError") == 1
    assert value(samples, "gen_ai_usage_cost_USD_count", job=HEALTHY) == 10
    assert value(samples, "gen_ai_client_token_usage_count", job=HEALTHY, gen_ai_token_type="input") == 10
    assert value(samples, "agentops_errors_total", job=FAULTY, error_type="openai.InternalServerError") == 1
    assert value(samples, "agentops_tool_calls_total", job=HEALTHY) > 0
