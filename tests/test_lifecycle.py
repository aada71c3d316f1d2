"""Context, suppression, uninstrument and fail-open: the promises that protect the host app."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from opentelemetry import context as otel_context
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.instrumentation.utils import suppress_instrumentation

import otel_agentops
from otel_agentops.fake_provider.scenario import Reply
from otel_agentops.genai import semconv
from otel_agentops.providers import openai as openai_provider

USER = [{"role": "user", "content": "hello"}]


def _client(fake, kind="sync"):
    cls = openai.AsyncOpenAI if kind == "async" else openai.OpenAI
    return cls(api_key="sk-test", base_url=fake.openai_base_url, max_retries=0)


async def test_asyncio_gather_children_of_caller(fake_provider, instrumented):
    llm = _client(fake_provider, "async")
    tracer = instrumented.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("agent run") as parent:
        await asyncio.gather(
            *(llm.chat.completions.create(model="gpt-4o-mini", messages=USER) for _ in range(5))
        )
    llm_spans = [s for s in instrumented.spans() if s.name == "chat gpt-4o-mini"]
    assert len(llm_spans) == 5
    assert {s.parent.span_id for s in llm_spans} == {parent.get_span_context().span_id}
    assert {s.context.trace_id for s in llm_spans} == {parent.get_span_context().trace_id}


async def test_thread_pool_children_of_caller(fake_provider, instrumented):
    llm = _client(fake_provider)
    tracer = instrumented.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("agent run") as parent, ThreadPoolExecutor(max_workers=4) as pool:
        futures = [
            pool.submit(llm.chat.completions.create, model="gpt-4o-mini", messages=USER) for _ in range(6)
        ]
        results = [f.result() for f in futures]
    assert all(r.choices[0].message.content for r in results)
    llm_spans = [s for s in instrumented.spans() if s.name == "chat gpt-4o-mini"]
    assert len(llm_spans) == 6
    assert {s.parent.span_id for s in llm_spans} == {parent.get_span_context().span_id}


async def test_thread_pool_task_does_not_leak_context_between_tasks(instrumented):
    tracer = instrumented.tracer_provider.get_tracer("app")
    with ThreadPoolExecutor(max_workers=1) as pool:
        with tracer.start_as_current_span("first"):
            pool.submit(lambda: None).result()
        leftover = pool.submit(otel_context.get_current).result()
    assert leftover == otel_context.Context()


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_suppressed_instrumentation_records_nothing(kind, fake_provider, instrumented):
    llm = _client(fake_provider, kind)
    with suppress_instrumentation():
        result = llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
        if kind == "async":
            result = await result
    assert result.choices[0].message.content
    assert otel_context.get_value(_SUPPRESS_INSTRUMENTATION_KEY) is None
    assert instrumented.spans() == []
    assert instrumented.metric_points(semconv.METRIC_OPERATION_DURATION) == []


def test_uninstrument_restores_original_methods(fake_provider, instrument):
    from openai.resources.chat.completions import AsyncCompletions, Completions
    from openai.resources.embeddings import Embeddings

    originals = (Completions.create, AsyncCompletions.create, Embeddings.create)
    telemetry = instrument()
    assert Completions.create is not originals[0]
    assert hasattr(Completions.create, "__wrapped__")
    otel_agentops.uninstrument()
    assert (Completions.create, AsyncCompletions.create, Embeddings.create) == originals
    _client(fake_provider).chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert telemetry.spans() == []


def test_instrument_twice_patches_once(fake_provider, instrument):
    telemetry = instrument()
    assert otel_agentops.instrument(tracer_provider=telemetry.tracer_provider) == []
    _client(fake_provider).chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert len(telemetry.spans()) == 1


def test_disabled_instrumentation_is_skipped(fake_provider, instrument):
    telemetry = instrument(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="agentops_openai")
    _client(fake_provider).chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert telemetry.spans() == []


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("stream", [False, True])
async def test_broken_extractor_fails_open(kind, stream, fake_provider, instrumented, monkeypatch, caplog):
    """An extractor that raises (e.g. after an SDK upgrade) must not change what the app gets."""

    def broken(*_args, **_kwargs):
        raise KeyError("extractor broke")

    monkeypatch.setattr(openai_provider, "_chat_usage", broken)
    monkeypatch.setattr(openai_provider, "_chat_chunk", broken)
    caplog.set_level(logging.DEBUG, logger="otel_agentops")
    fake_provider.script(Reply(text="still fine", input_tokens=3, output_tokens=2), times=2)
    llm = _client(fake_provider, kind)

    for _ in range(2):
        result = llm.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=stream)
        if kind == "async":
            result = await result
        if stream:
            chunks = [c async for c in result] if kind == "async" else list(result)
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        else:
            text = result.choices[0].message.content
        assert text == "still fine"

    spans = instrumented.spans()
    assert len(spans) == 2  # the spans still end
    assert all(s.status.status_code.name == "UNSET" for s in spans)
    failures = [r for r in caplog.records if r.name == "otel_agentops" and "extraction" in r.getMessage()]
    assert len(failures) == 1  # once, not once per call
    assert failures[0].levelno == logging.DEBUG


async def test_broken_request_extraction_fails_open(fake_provider, instrumented, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("request extraction broke")

    monkeypatch.setattr(openai_provider, "_server", broken)
    llm = _client(fake_provider)
    result = llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert result.choices[0].message.content
    assert fake_provider.request_count() == 1
    assert instrumented.spans() == []  # no half-made span; the call itself went through
