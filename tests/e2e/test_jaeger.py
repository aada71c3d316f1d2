"""The example agent under `opentelemetry-instrument`, exporting OTLP straight to a real Jaeger v2."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from e2e_support import FakeProvider, Jaeger, parent_id, process_tags, root, root_name, run_agent, tags

CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")


def exporter_env(jaeger: Jaeger, protocol: str) -> dict[str, str]:
    endpoint = jaeger.otlp_grpc if protocol == "grpc" else jaeger.otlp_http
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{endpoint}",
    }


def spans_by_name(traces: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for trace in traces:
        for span in trace["spans"]:
            by_name.setdefault(span["operationName"], []).append(span)
    return by_name


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_agent_trace_trees_in_jaeger(jaeger: Jaeger, protocol: str):
    service = "e2e-tree-" + protocol.split("/", maxsplit=1)[0]
    run_agent({"OTEL_SERVICE_NAME": service, **exporter_env(jaeger, protocol)})
    # One trace per agent run (3 tasks) and one for the streamed summary, made outside any agent.
    traces = jaeger.wait_for_traces(service, 4)
    assert Counter(root_name(trace) for trace in traces) == {
        "invoke_agent support-agent": 3,
        "chat gpt-4o-mini": 1,
    }
    by_name = spans_by_name(traces)
    assert {name: len(spans) for name, spans in by_name.items()} == {
        "invoke_agent support-agent": 3,
        "embeddings text-embedding-3-small": 3,
        "chat gpt-4o-mini": 7,
        "execute_tool lookup_order": 2,
        "execute_tool search_docs": 1,
    }
    for trace in traces:
        top = root(trace)
        assert process_tags(trace, top).get("telemetry.sdk.language") == "python"
        assert trace["processes"][top["processID"]]["serviceName"] == service
        if top["operationName"] != "invoke_agent support-agent":
            assert tags(top)["gen_ai.request.stream"] is True
            continue
        assert tags(top)["span.kind"] == "internal"
        children = [span for span in trace["spans"] if parent_id(span) == top["spanID"]]
        assert len(children) == len(trace["spans"]) - 1, "every other span is a direct child of the agent"
        names = Counter(span["operationName"] for span in children)
        assert names["embeddings text-embedding-3-small"] == 1
        assert names["chat gpt-4o-mini"] == 2
        assert sum(count for name, count in names.items() if name.startswith("execute_tool ")) == 1
        # Children in the order the agent made them: embed, ask, run the tool, ask again.
        ordered = [
            span["operationName"].split()[0] for span in sorted(children, key=lambda s: s["startTime"])
        ]
        assert ordered == ["embeddings", "chat", "execute_tool", "chat"]

    first_step = next(
        span
        for span in by_name["chat gpt-4o-mini"]
        if tags(span).get("gen_ai.response.finish_reasons")
        and "tool_calls" in tags(span)["gen_ai.response.finish_reasons"]
    )
    attributes = tags(first_step)
    assert attributes["span.kind"] == "client"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.response.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.request.temperature"] == 0.2
    assert attributes["server.address"] == "127.0.0.1"
    assert isinstance(attributes["server.port"], int)
    assert attributes["gen_ai.response.id"].startswith("chatcmpl-")
    assert (
        isinstance(attributes["gen_ai.usage.input_tokens"], int)
        and attributes["gen_ai.usage.input_tokens"] > 0
    )
    assert isinstance(attributes["gen_ai.usage.output_tokens"], int)
    assert attributes["gen_ai.usage.cost"] > 0
    assert "error" not in attributes
    embedding = tags(by_name["embeddings text-embedding-3-small"][0])
    assert embedding["gen_ai.operation.name"] == "embeddings"
    assert embedding["gen_ai.usage.input_tokens"] > 0
    tool = tags(by_name["execute_tool lookup_order"][0])
    assert tool["gen_ai.operation.name"] == "execute_tool"
    assert tool["gen_ai.tool.name"] == "lookup_order"
    # Content capture is off by default: no prompt or completion text anywhere.
    everything = json.dumps(traces)
    assert not any(key in everything for key in CONTENT_KEYS)
    assert "Use lookup_order to tell me" not in everything


def test_message_content_reaches_jaeger_only_when_captured(jaeger: Jaeger):
    service = "e2e-content"
    run_agent(
        {
            "OTEL_SERVICE_NAME": service,
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only",
            **exporter_env(jaeger, "grpc"),
        }
    )
    traces = jaeger.wait_for_traces(service, 4)
    chats = spans_by_name(traces)["chat gpt-4o-mini"]
    captured = [tags(span) for span in chats]
    assert all("gen_ai.input.messages" in attrs for attrs in captured)
    assert all("gen_ai.output.messages" in attrs for attrs in captured)
    asked = [json.loads(attrs["gen_ai.input.messages"]) for attrs in captured]
    assert any(
        "Use lookup_order to tell me where order ORD-1042 is." in json.dumps(messages) for messages in asked
    )
    # The semantic-convention message shape survives the trip through OTLP and Jaeger.
    first = asked[0][0]
    assert first["role"] in ("system", "user") and isinstance(first["parts"], list)


# TODO(#10, redaction): fill in when the in-process redaction (otel_agentops/redaction) masks captured
# content. The secret below reaches the model's answer, hence gen_ai.output.messages of the first chat
# span and gen_ai.input.messages of the summary's; the assertions say what Jaeger must then show. Until
# then this is an expected failure (non-strict: it starts passing by itself once redaction works).
SECRET = "sk-proj-e2eSECRETe2eSECRETe2eSECRET0123"


def test_secrets_in_captured_content_are_masked_in_jaeger(jaeger: Jaeger, fake_provider: FakeProvider):
    service = "e2e-content-secret"
    fake_provider.script(
        {"text": f"Your API key is {SECRET}, keep it safe."}, times=1, path="/v1/chat/completions"
    )
    run_agent(
        {
            "OTEL_SERVICE_NAME": service,
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only",
            "OPENAI_BASE_URL": fake_provider.openai_base_url,
            "OPENAI_API_KEY": "fake-key",
            **exporter_env(jaeger, "grpc"),
        }
    )
    traces = jaeger.wait_for_traces(service, 4)
    everything = json.dumps(traces)
    assert "gen_ai.output.messages" in everything  # the content is there...
    assert SECRET not in everything  # ...with the secret masked
    assert "[REDACTED:" in everything
