"""Instrumenting imports no client library: each is patched when the app imports it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SCRIPT = """
import json, sys
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import otel_agentops

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
done = otel_agentops.instrument(tracer_provider=provider)
heavy = ("openai", "anthropic", "groq", "ollama", "mcp", "langchain_core", "langgraph")
loaded_after_instrument = [name for name in heavy if name in sys.modules]

import openai  # the app's own import: patched now
from otel_agentops.fake_provider import FakeProvider

with FakeProvider() as fake:
    client = openai.OpenAI(api_key="sk-test", base_url=fake.openai_base_url, max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
otel_agentops.uninstrument()
import anthropic  # after uninstrument: the pending hook must not patch it
from anthropic.resources.messages import Messages
print(json.dumps({
    "done": done,
    "loaded_after_instrument": loaded_after_instrument,
    "spans": [span.name for span in exporter.get_finished_spans()],
    "anthropic_patched": "FunctionWrapper" in type(Messages.__dict__["create"]).__name__,
}))
"""


def test_libraries_are_patched_on_import_only():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loaded_after_instrument"] == []
    assert {"agentops_openai", "agentops_anthropic", "agentops_langchain", "agentops_mcp"} <= set(
        report["done"]
    )
    assert report["spans"] == ["chat gpt-4o-mini"]
    assert report["anthropic_patched"] is False


def test_a_library_that_is_not_installed_is_skipped_quietly(caplog):
    """litellm is not installed in this virtualenv (it has its own): no ERROR for it, nothing patched."""
    import importlib.metadata
    import logging

    import otel_agentops

    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("litellm")
    caplog.set_level(logging.DEBUG)
    try:
        done = otel_agentops.instrument()
    finally:
        otel_agentops.uninstrument()
    assert "agentops_litellm" not in done
    assert "agentops_openai" in done
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("LiteLLMInstrumentor not instrumented" in r.getMessage() for r in caplog.records)
