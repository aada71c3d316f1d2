"""The span pipeline under `opentelemetry-instrument`, exporting over OTLP (gRPC, HTTP) to a real receiver."""

from __future__ import annotations

import json
from collections import Counter
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from support.instrumented import run_instrumented
from support.otlp_receiver import OtlpReceiver
from test_auto_instrumentation import AGENT_ENV, EXAMPLES

PROTOCOLS = ["grpc", "http/protobuf"]
FORKING_APP = Path(__file__).resolve().parent.parent / "support" / "forking_app.py"
HOOK = "otel_agentops.sdk.pipeline:install_tail_sampling"

# What one run of the example agent makes: three agent runs and one streamed summary call, 4 traces.
EXAMPLE_SPANS = {
    "invoke_agent support-agent": 3,
    "embeddings text-embedding-3-small": 3,
    "chat gpt-4o-mini": 7,
    "execute_tool lookup_order": 2,
    "execute_tool search_docs": 1,
}
EXAMPLE_TRACES = 4


def decision(kept: str, reason: str, trigger: str = "root_ended") -> frozenset[tuple[str, str]]:
    return frozenset(
        {
            ("agentops.sampling.decision", kept),
            ("agentops.sampling.reason", reason),
            ("agentops.sampling.trigger", trigger),
        }
    )


@pytest.fixture
def receiver():
    with OtlpReceiver() as otlp:
        yield otlp


def run_example(receiver: OtlpReceiver, protocol: str, **env: str) -> None:
    run_instrumented(
        ["-m", "support_agent"],
        {
            **AGENT_ENV,
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint(protocol),
            **env,
        },
        cwd=EXAMPLES,
    )


def transport(protocol: str) -> str:
    return "grpc" if protocol == "grpc" else "http"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_slow_trace_is_kept_with_its_reason(receiver, protocol):
    run_example(receiver, protocol, OTEL_AGENTOPS_SAMPLING="tail", OTEL_AGENTOPS_SAMPLING_SLOW="0")
    spans = receiver.spans(transport(protocol))
    assert Counter(span.name for span in spans) == EXAMPLE_SPANS
    assert len({span.span_id for span in spans}) == len(spans)
    roots = [span for span in spans if not span.parent_span_id]
    assert len(roots) == len({span.trace_id for span in spans}) == EXAMPLE_TRACES
    assert all(root.attributes["agentops.sampling.reason"] == "slow" for root in roots)
    assert not any("agentops.sampling.reason" in span.attributes for span in spans if span.parent_span_id)
    assert receiver.counter_values("agentops.sampling.decisions") == {
        decision("kept", "slow"): EXAMPLE_TRACES
    }


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_ratio_zero_keeps_no_trace(receiver, protocol):
    run_example(receiver, protocol, OTEL_AGENTOPS_SAMPLING="tail", OTEL_AGENTOPS_SAMPLING_RATIO="0")
    assert receiver.spans() == []
    assert receiver.counter_values("agentops.sampling.decisions") == {
        decision("dropped", "ratio"): EXAMPLE_TRACES
    }


def test_without_tail_sampling_everything_goes_out_unchanged(receiver):
    run_example(receiver, "grpc")
    spans = receiver.spans("grpc")
    assert Counter(span.name for span in spans) == EXAMPLE_SPANS
    assert not any("agentops.sampling.reason" in span.attributes for span in spans)
    assert receiver.counter_values("agentops.sampling.decisions") == {}


def test_the_tail_sampling_hook_is_registered():
    """For apps where another configurator (opentelemetry-distro's) is loaded instead of ours."""
    hooks = {ep.value for ep in entry_points(group="opentelemetry_pre_instrument")}
    assert HOOK in hooks


def fake_opentelemetry_distro(directory: Path) -> None:
    """An installed distribution that registers a configurator like opentelemetry-distro's (the SDK's own
    set-up, nothing added) and, if this checkout's metadata lacks it, our hook."""
    (directory / "fake_otel_distro.py").write_text(
        "from opentelemetry.sdk._configuration import _OTelSDKConfigurator\n\n\n"
        "class OpenTelemetryConfigurator(_OTelSDKConfigurator):\n    pass\n"
    )
    info = directory / "fake_otel_distro-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-otel-distro\nVersion: 1.0\n")
    entry_points_txt = (
        "[opentelemetry_configurator]\nconfigurator = fake_otel_distro:OpenTelemetryConfigurator\n"
    )
    if HOOK not in {ep.value for ep in entry_points(group="opentelemetry_pre_instrument")}:
        entry_points_txt += f"\n[opentelemetry_pre_instrument]\nagentops_tail_sampling = {HOOK}\n"
    (info / "entry_points.txt").write_text(entry_points_txt)


def test_tail_sampling_when_another_configurator_set_the_sdk_up(receiver, tmp_path):
    fake_opentelemetry_distro(tmp_path)
    run_example(
        receiver,
        "http/protobuf",
        PYTHONPATH=str(tmp_path),
        OTEL_PYTHON_CONFIGURATOR="configurator",  # theirs, as if it had been found first
        OTEL_AGENTOPS_SAMPLING="tail",
        OTEL_AGENTOPS_SAMPLING_RATIO="1",
    )
    spans = receiver.spans("http")
    assert Counter(span.name for span in spans) == EXAMPLE_SPANS
    roots = [span for span in spans if not span.parent_span_id]
    # The reason is only there when the tail sampler is in the pipeline.
    assert [root.attributes["agentops.sampling.reason"] for root in roots] == ["ratio"] * EXAMPLE_TRACES


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_parent_and_forked_workers_export_side_by_side(receiver, protocol, tmp_path):
    workers, per_worker = 3, 100
    result = run_instrumented(
        [str(FORKING_APP), str(workers), str(per_worker)],
        {
            "OTEL_SERVICE_NAME": "forking-app",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint(protocol),
            # Small batches: every process exports often, at the same time; what is left below a batch
            # when a worker exits goes out only if the worker flushes at exit (default 5 s delay).
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "16",
            "OTEL_AGENTOPS_SAMPLING": "tail",
            "OTEL_AGENTOPS_SAMPLING_SLOW": "0",  # keep everything
        },
        cwd=tmp_path,
    )
    made = json.loads(result.stdout.strip().splitlines()[-1])
    spans = receiver.spans(transport(protocol))
    assert len({span.span_id for span in spans}) == len(spans)
    assert receiver.corrupt == 0
    assert Counter(span.name for span in spans) == {
        "before-fork": 1,
        "before-fork step": 1,
        "parent": made["parent"],
        "parent step": made["parent"],
        "worker": workers * per_worker,
        "worker step": workers * per_worker,
    }
