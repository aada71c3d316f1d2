"""A tiny Anthropic app for subprocess tests: four LLM calls and one token count against the fake provider.

    opentelemetry-instrument python tests/apps/anthropic_app.py      # traced by the distro, as a user would
    python tests/apps/anthropic_app.py --global-provider [--no-agentops]

With ``--global-provider`` the app installs a global SDK TracerProvider itself (so anthropic 2.x traces
itself) and, unless ``--no-agentops``, calls `otel_agentops.instrument()`; it then prints its finished spans
too. It prints one line of JSON, ``{"anthropic_app": {"requests": [...], "spans": [...]}}``, with the
``traceparent`` each request carried (under opentelemetry-instrument, exported spans may follow it).
"""

from __future__ import annotations

import asyncio
import json
import sys

import anthropic

from otel_agentops.fake_provider import FakeProvider

MODEL = "claude-haiku-4-5"
USER = [{"role": "user", "content": "Where is order ORD-1042?"}]


def _setup(instrument: bool) -> object:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    if instrument:
        import otel_agentops

        otel_agentops.instrument()
    return exporter


def _calls(base_url: str) -> None:
    llm = anthropic.Anthropic(api_key="sk-ant-fake", base_url=base_url, max_retries=0)
    llm.messages.create(model=MODEL, max_tokens=256, messages=USER)
    for _event in llm.messages.create(model=MODEL, max_tokens=256, messages=USER, stream=True):
        pass
    with llm.messages.stream(model=MODEL, max_tokens=256, messages=USER) as stream:
        stream.get_final_message()
    llm.messages.count_tokens(model=MODEL, messages=USER)  # not an LLM call

    async def async_call() -> None:
        async_llm = anthropic.AsyncAnthropic(api_key="sk-ant-fake", base_url=base_url, max_retries=0)
        await async_llm.messages.create(model=MODEL, max_tokens=256, messages=USER)
        await async_llm.close()

    asyncio.run(async_call())


def main(argv: list[str]) -> int:
    exporter = _setup("--no-agentops" not in argv) if "--global-provider" in argv else None
    with FakeProvider() as fake:
        _calls(fake.anthropic_base_url)
        requests = [{"path": r.path, "traceparent": r.headers.get("traceparent")} for r in fake.requests]
    spans = [
        {
            "name": span.name,
            "span_id": f"{span.context.span_id:016x}",
            "trace_id": f"{span.context.trace_id:032x}",
            "scope": span.instrumentation_scope.name if span.instrumentation_scope else None,
        }
        for span in (exporter.get_finished_spans() if exporter is not None else ())  # type: ignore[attr-defined]
    ]
    print(json.dumps({"anthropic_app": {"requests": requests, "spans": spans}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
