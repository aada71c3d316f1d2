"""`opentelemetry-instrument` for real, in a subprocess, on the example agent (no code change in it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from support.instrumented import json_spans, run_instrumented

from otel_agentops.instrumentors import INSTRUMENTORS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"

AGENT_ENV = {
    "OTEL_SERVICE_NAME": "support-agent",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_AGENTOPS_AGENT_FUNCTIONS": "support_agent.agent:run_agent=support-agent",
    "OTEL_AGENTOPS_TOOL_FUNCTIONS": "support_agent.tools:lookup_order,support_agent.tools:search_docs",
    "OTEL_BSP_SCHEDULE_DELAY": "100",
}


def run_agent(module: str = "support_agent", **env: str) -> subprocess.CompletedProcess[str]:
    return run_instrumented(["-m", module], {**AGENT_ENV, **env}, EXAMPLES)


def test_entry_points_match_the_registry():
    ours = {
        ep.name: ep.value
        for ep in entry_points(group="opentelemetry_instrumentor")
        if ep.value.startswith("otel_agentops")
    }
    assert ours == INSTRUMENTORS
    names = [ep.name for ep in entry_points(group="opentelemetry_instrumentor")]
    assert len(names) == len(set(names)), "entry-point names must be unique across installed packages"
    exporters = {ep.name: ep.value for ep in entry_points(group="opentelemetry_traces_exporter")}
    assert exporters["agentops_console"] == "otel_agentops.sdk.console:ConsoleTreeSpanExporter"
    configurators = {ep.name: ep.value for ep in entry_points(group="opentelemetry_configurator")}
    assert configurators["agentops"] == "otel_agentops.sdk.configurator:AgentOpsConfigurator"


def test_example_agent_spans_under_opentelemetry_instrument():
    result = run_agent(OTEL_TRACES_EXPORTER="console")
    spans = json_spans(result.stdout)
    by_name: dict[str, list[dict]] = {}
    for span in spans:
        by_name.setdefault(span["name"], []).append(span)
    assert {name: len(group) for name, group in by_name.items()} == {
        "invoke_agent support-agent": 3,
        "embeddings text-embedding-3-small": 3,
        "chat gpt-4o-mini": 7,
        "execute_tool lookup_order": 2,
        "execute_tool search_docs": 1,
    }
    agents = {span["context"]["span_id"]: span for span in by_name["invoke_agent support-agent"]}
    for name in (
        "embeddings text-embedding-3-small",
        "execute_tool lookup_order",
        "execute_tool search_docs",
    ):
        assert all(span["parent_id"] in agents for span in by_name[name]), name
    chats = by_name["chat gpt-4o-mini"]
    in_agent = [span for span in chats if span["parent_id"] in agents]
    assert len(in_agent) == 6  # two per task; the streamed summary is its own trace
    [summary_call] = [span for span in chats if span["parent_id"] is None]
    assert summary_call["attributes"]["gen_ai.request.stream"] is True
    assert summary_call["attributes"]["gen_ai.response.time_to_first_chunk"] > 0

    first_step = next(s for s in in_agent if s["attributes"].get("agentops.response.tool_calls"))
    attributes = dict(first_step["attributes"])
    assert attributes.pop("gen_ai.operation.name") == "chat"
    assert attributes.pop("gen_ai.provider.name") == "openai"
    assert attributes.pop("gen_ai.request.model") == "gpt-4o-mini"
    assert attributes.pop("gen_ai.request.temperature") == 0.2
    assert attributes.pop("server.address") == "127.0.0.1"
    assert isinstance(attributes.pop("server.port"), int)
    assert attributes.pop("gen_ai.response.model") == "gpt-4o-mini"
    assert attributes.pop("gen_ai.response.id").startswith("chatcmpl-")
    assert attributes.pop("gen_ai.response.finish_reasons") == ["tool_calls"]
    assert attributes.pop("agentops.response.tool_calls") in (["lookup_order"], ["search_docs"])
    [call_id] = attributes.pop("agentops.response.tool_call_ids")
    assert attributes.pop("gen_ai.usage.input_tokens") > 0
    assert attributes.pop("gen_ai.usage.output_tokens") > 0
    assert attributes.pop("gen_ai.usage.cost") > 0
    assert attributes == {}
    assert first_step["kind"] == "SpanKind.CLIENT"
    # The tool span that ran this call carries the model's call id: the two join up, zero-code.
    [tool_span] = [
        s
        for s in spans
        if s["name"].startswith("execute_tool")
        and s["context"]["trace_id"] == first_step["context"]["trace_id"]
    ]
    assert tool_span["attributes"]["gen_ai.tool.call.id"] == call_id
    assert first_step["resource"]["attributes"]["service.name"] == "support-agent"
    # No prompt or completion content without the opt-in.
    assert "gen_ai.input.messages" not in result.stdout
    assert "Use lookup_order to tell me" not in json.dumps(spans)


def test_decorated_variant_gives_the_same_tree_plus_conversations():
    env = {
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_AGENTOPS_AGENT_FUNCTIONS": "",
        "OTEL_AGENTOPS_TOOL_FUNCTIONS": "",
    }
    spans = json_spans(run_agent("support_agent.decorated", **env).stdout)
    counts: dict[str, int] = {}
    for span in spans:
        counts[span["name"]] = counts.get(span["name"], 0) + 1
    assert counts == {
        "invoke_agent support-agent": 3,
        "embeddings text-embedding-3-small": 3,
        "chat gpt-4o-mini": 7,
        "execute_tool lookup_order": 2,
        "execute_tool search_docs": 1,
    }
    agents = {s["context"]["trace_id"]: s for s in spans if s["name"] == "invoke_agent support-agent"}
    in_runs = [s for s in spans if s["context"]["trace_id"] in agents]
    assert len(in_runs) == 15
    for span in in_runs:  # the agent span and everything below it
        ticket = agents[span["context"]["trace_id"]]["attributes"]["gen_ai.conversation.id"]
        assert span["attributes"]["gen_ai.conversation.id"] == ticket
    assert len({a["attributes"]["gen_ai.conversation.id"] for a in agents.values()}) == 3
    tools = [s for s in spans if s["name"].startswith("execute_tool")]
    assert all(s["attributes"]["gen_ai.tool.call.id"].startswith("call_") for s in tools)


def test_example_trees_and_summary_on_the_console():
    result = run_agent(OTEL_TRACES_EXPORTER="agentops_console", OTEL_AGENTOPS_SUMMARY="true")
    out = result.stdout
    assert out.count("└─ invoke_agent support-agent") == 3
    assert re.search(
        r"├─ chat gpt-4o-mini  \d+ ms  openai  tokens \d+→\d+  \$0\.\d+  tools: lookup_order", out
    )
    assert re.search(r"execute_tool search_docs", out)
    summary = out[out.index("── otel-agentops run summary") :]
    assert "trace " not in summary  # every tree printed before the summary
    assert re.search(r"^calls\s+10 \(chat 7, embeddings 3\)", summary, re.M)
    assert re.search(r"^errors\s+0", summary, re.M)
    assert re.search(r"^latency\s+p50 [\d.]+ m?s\s+p95 [\d.]+ m?s\s+p99 [\d.]+ m?s", summary, re.M)
    assert re.search(r"^tokens\s+in \d+\s+out \d+", summary, re.M)
    assert re.search(r"^cost\s+\$0\.\d+ total", summary, re.M)
    assert re.search(r"^tool calls\s+lookup_order 2, search_docs 1$", summary, re.M)
    assert re.search(r"^tools run\s+lookup_order 2, search_docs 1$", summary, re.M)


@pytest.mark.parametrize("disabled", ["agentops_openai", "*"])
def test_disabled_instrumentations_are_honoured(disabled):
    result = run_agent(OTEL_TRACES_EXPORTER="console", OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=disabled)
    names = {span["name"] for span in json_spans(result.stdout)}
    assert not any(name.startswith(("chat ", "embeddings ")) for name in names)
    assert ("invoke_agent support-agent" in names) == (disabled != "*")


def test_anthropic_app_one_llm_span_per_call_under_opentelemetry_instrument():
    """anthropic 2.x traces itself under the distro's global TracerProvider; the user still sees one span."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ANTHROPIC_"))}
    result = subprocess.run(
        [str(INSTRUMENT), sys.executable, str(ROOT / "tests" / "apps" / "anthropic_app.py")],
        env={
            **clean,
            "OTEL_SERVICE_NAME": "anthropic-app",
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    spans = json_spans(result.stdout)
    names: dict[str, int] = {}
    for span in spans:
        names[span["name"]] = names.get(span["name"], 0) + 1
    # create, create(stream=True), the stream() helper, async create; count_tokens keeps Anthropic's own span.
    assert names == {"chat claude-haiku-4-5": 4, "anthropic.messages.count_tokens": 1}
    chats = [span for span in spans if span["name"] == "chat claude-haiku-4-5"]
    plain = next(span for span in chats if "gen_ai.request.stream" not in span["attributes"])
    attributes = dict(plain["attributes"])
    assert attributes.pop("gen_ai.operation.name") == "chat"
    assert attributes.pop("gen_ai.provider.name") == "anthropic"
    assert attributes.pop("gen_ai.request.model") == "claude-haiku-4-5"
    assert attributes.pop("gen_ai.request.max_tokens") == 256
    assert attributes.pop("server.address") == "127.0.0.1"
    assert isinstance(attributes.pop("server.port"), int)
    assert attributes.pop("gen_ai.response.model") == "claude-haiku-4-5"
    assert attributes.pop("gen_ai.response.id").startswith("msg_fake")
    assert attributes.pop("gen_ai.response.finish_reasons") == ["end_turn"]
    assert attributes.pop("gen_ai.usage.input_tokens") > 0
    assert attributes.pop("gen_ai.usage.output_tokens") > 0
    assert attributes.pop("gen_ai.usage.cost") > 0
    assert attributes == {}
    # Every request's traceparent (injected by the SDK) names the LLM span it belongs to.
    [report_line] = [line for line in result.stdout.splitlines() if line.startswith('{"anthropic_app"')]
    report = json.loads(report_line)["anthropic_app"]
    sent = [r["traceparent"].split("-")[2] for r in report["requests"] if r["path"] == "/v1/messages"]
    assert sorted(sent) == sorted(span["context"]["span_id"].removeprefix("0x") for span in chats)
