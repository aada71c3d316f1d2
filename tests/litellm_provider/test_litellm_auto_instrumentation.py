"""LiteLLM under `opentelemetry-instrument`, in a subprocess, on an app that is not changed for tracing."""

from __future__ import annotations

import json
from pathlib import Path

from support.instrumented import json_spans, run_instrumented

APP = Path(__file__).resolve().parent / "apps" / "litellm_app.py"
ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "OTEL_SERVICE_NAME": "litellm-app",
    "OTEL_TRACES_EXPORTER": "console",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_BSP_SCHEDULE_DELAY": "100",
}


def test_one_span_per_litellm_call_under_opentelemetry_instrument():
    result = run_instrumented([str(APP)], ENV, APP.parent)

    [line] = [line for line in result.stdout.splitlines() if line.startswith('{"litellm_app"')]
    requests = json.loads(line)["litellm_app"]["requests"]
    assert requests == ["/v1/chat/completions", "/v1/chat/completions", "/v1/embeddings", "/v1/messages"]
    spans = sorted(json_spans(result.stdout), key=lambda span: span["start_time"])
    # One span per request: none from the openai SDK that LiteLLM calls underneath.
    assert [span["name"] for span in spans] == [
        "chat gpt-4o-mini",
        "chat gpt-4o-mini",
        "embeddings text-embedding-3-small",
        "chat claude-haiku-4-5",
    ]
    assert [span["attributes"]["gen_ai.provider.name"] for span in spans] == [
        "openai",
        "openai",
        "openai",
        "anthropic",
    ]
    assert all(span["kind"] == "SpanKind.CLIENT" for span in spans)
    assert all(span["parent_id"] is None for span in spans)
    plain, streamed, embedded, anthropic = (span["attributes"] for span in spans)
    assert "gen_ai.request.stream" not in plain
    assert streamed["gen_ai.request.stream"] is True
    assert streamed["gen_ai.response.time_to_first_chunk"] > 0
    for attributes in (plain, streamed, anthropic):
        assert attributes["gen_ai.usage.input_tokens"] > 0
        assert attributes["gen_ai.usage.output_tokens"] > 0
        assert attributes["gen_ai.usage.cost"] > 0
        assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert embedded["gen_ai.usage.input_tokens"] > 0
    assert anthropic["gen_ai.request.max_tokens"] == 64
