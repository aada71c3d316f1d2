"""The example agent on every client library (`python -m support_agent --provider NAME`), traced by
`opentelemetry-instrument` in a subprocess: the same agent, the same tools, each provider's own spans."""

from __future__ import annotations

from collections import Counter

import pytest
from support.instrumented import json_spans
from test_auto_instrumentation import run_agent

# provider flag -> (gen_ai.provider.name, LLM span names, number of embedding spans)
EXPECTED = {
    "openai": ("openai", "chat gpt-4o-mini", 3),
    "anthropic": ("anthropic", "chat claude-haiku-4-5", 0),
    "groq": ("groq", "chat llama-3.3-70b-versatile", 0),
    "bedrock": ("aws.bedrock", "chat anthropic.claude-3-5-haiku-20241022-v1:0", 0),
    "mistral": ("mistral_ai", "chat mistral-small-latest", 3),
    "cohere": ("cohere", "chat command-r", 3),
    "gemini": ("gcp.gemini", "generate_content gemini-2.0-flash", 3),
}


@pytest.mark.parametrize("provider", sorted(EXPECTED))
def test_the_demo_agent_runs_on_each_provider(provider):
    provider_name, chat_name, embeddings = EXPECTED[provider]
    result = run_agent("support_agent", OTEL_TRACES_EXPORTER="console", AGENT_PROVIDER=provider)
    spans = json_spans(result.stdout)
    names = Counter(span["name"] for span in spans)
    assert names["invoke_agent support-agent"] == 3
    assert names["execute_tool lookup_order"] == 2
    assert names["execute_tool search_docs"] == 1
    assert names[chat_name] == 7  # two turns per task and the streamed summary
    operations = ("chat", "generate_content", "embeddings")
    llm_spans = [s for s in spans if s["attributes"].get("gen_ai.operation.name") in operations]
    assert len(llm_spans) == 7 + embeddings
    assert {s["attributes"]["gen_ai.provider.name"] for s in llm_spans} == {provider_name}
    tool_calls = Counter(
        name for s in llm_spans for name in s["attributes"].get("agentops.response.tool_calls", ())
    )
    assert tool_calls == {"lookup_order": 2, "search_docs": 1}
    assert "summary: " in result.stdout
