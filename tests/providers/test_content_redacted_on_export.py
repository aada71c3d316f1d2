"""Content redacted in the export worker rather than in the call (``otel_agentops.sdk.deferred_content``),
with the real openai SDK: the same attributes as when redacted in the call, and only where every processor
sees spans through our exporter."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest
from openai_helpers import client
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_agentops
from otel_agentops.config.sampling import SamplingSettings
from otel_agentops.fake_provider.scenario import Reply
from otel_agentops.genai import semconv
from otel_agentops.genai.failsafe import reset_reported
from otel_agentops.redaction import Redactor
from otel_agentops.sdk.deferred_content import MAX_PENDING_CHARS, exports_redacted, pending_content
from otel_agentops.sdk.export_guard import GuardedBatchSpanProcessor
from otel_agentops.sdk.pipeline import SpanPipeline, tail_sampling_pipeline
from otel_agentops.sdk.redacting_export import RedactingSpanExporter

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
MESSAGES = [
    {"role": "system", "content": "You are a support agent."},
    {"role": "user", "content": "Where is ORD-1042? Mail me at jane.doe@example.com"},
]
INPUT = [
    {"role": "user", "parts": [{"type": "text", "content": "Where is ORD-1042? Mail me at [REDACTED:email]"}]}
]
SYSTEM = [{"type": "text", "content": "You are a support agent."}]
OUTPUT = [
    {
        "role": "assistant",
        "parts": [{"type": "text", "content": "Shipped; I wrote to [REDACTED:email]."}],
        "finish_reason": "stop",
    }
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Looks an order up",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        },
    }
]
CONTENT_KEYS = (semconv.SYSTEM_INSTRUCTIONS, semconv.INPUT_MESSAGES, semconv.OUTPUT_MESSAGES)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[TracerProvider]:
    """A provider instrumented with content capture on span; its processors are the test's to add."""
    reset_reported()
    monkeypatch.setenv(CAPTURE, "span_only")
    tracer_provider = TracerProvider(span_limits=SpanLimits())
    otel_agentops.instrument(tracer_provider=tracer_provider)
    yield tracer_provider
    otel_agentops.uninstrument()
    tracer_provider.shutdown()


def chat(fake_provider: Any, messages: list[dict[str, Any]] | None = None, **options: Any) -> None:
    fake_provider.script(
        Reply(text="Shipped; I wrote to jane.doe@example.com.", input_tokens=20, output_tokens=8)
    )
    client(fake_provider, "sync").chat.completions.create(
        model="gpt-4o-mini", messages=messages or MESSAGES, **options
    )


def content(span: Any) -> dict[str, Any]:
    return {key: json.loads(span.attributes[key]) for key in CONTENT_KEYS if key in span.attributes}


def batch_exporting(provider: TracerProvider) -> tuple[InMemorySpanExporter, GuardedBatchSpanProcessor]:
    """Our exporting pipeline on ``provider``: batch processor → safety net → an in-memory exporter."""
    exported = InMemorySpanExporter()
    batch = GuardedBatchSpanProcessor(RedactingSpanExporter(exported))
    provider.add_span_processor(batch)
    return exported, batch


def chat_under_limits(
    monkeypatch: pytest.MonkeyPatch, fake_provider: Any, limits: SpanLimits, *, redacting: bool = True
) -> dict[str, Any]:
    """The attributes of one chat's span on a provider of its own with ``limits``."""
    reset_reported()
    monkeypatch.setenv(CAPTURE, "span_only")
    tracer_provider = TracerProvider(span_limits=limits)
    exported = InMemorySpanExporter()
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(RedactingSpanExporter(exported) if redacting else exported)
    )
    otel_agentops.instrument(tracer_provider=tracer_provider)
    try:
        chat(fake_provider)
    finally:
        otel_agentops.uninstrument()
    [span] = exported.get_finished_spans()
    return dict(span.attributes)


EXPECTED = {
    semconv.SYSTEM_INSTRUCTIONS: SYSTEM,
    semconv.INPUT_MESSAGES: INPUT,
    semconv.OUTPUT_MESSAGES: OUTPUT,
}


def test_content_is_redacted_by_the_export_worker_as_the_app_sent_it(
    provider: TracerProvider, fake_provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported, batch = batch_exporting(provider)
    threads: list[str] = []
    content_json = Redactor.content_json

    def record_thread(self: Redactor, value: Any, **options: Any) -> str:
        threads.append(threading.current_thread().name)
        return content_json(self, value, **options)

    monkeypatch.setattr(Redactor, "content_json", record_thread)
    messages, tools = copy.deepcopy(MESSAGES), copy.deepcopy(TOOLS)
    chat(fake_provider, messages, tools=tools)
    # What the app does to its messages and tools after the call does not change what the call recorded
    # (tool definitions are recorded as the app passed them: its own dictionaries).
    messages[1]["content"] = "changed after the call"
    messages.append({"role": "assistant", "content": "appended after the call"})
    tools[0]["function"]["description"] = "changed after the call"
    tools.append({"type": "function", "function": {"name": "appended"}})
    assert threads == []  # nothing redacted in the call
    batch.force_flush()
    [span] = exported.get_finished_spans()
    assert content(span) == EXPECTED
    assert json.loads(span.attributes[semconv.TOOL_DEFINITIONS]) == TOOLS
    assert threads and threading.main_thread().name not in threads
    assert span.attributes[semconv.USAGE_INPUT_TOKENS] == 20


def test_in_the_call_when_another_processor_could_see_the_span(
    provider: TracerProvider, fake_provider: Any
) -> None:
    ours, theirs = InMemorySpanExporter(), InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(ours)))
    chat(fake_provider)
    assert content(ours.get_finished_spans()[0]) == EXPECTED
    # A processor added later (an app's own): from the next call on, content is redacted in the call,
    # and that processor sees it, redacted, as ours does.
    provider.add_span_processor(SimpleSpanProcessor(theirs))
    chat(fake_provider)
    [span] = theirs.get_finished_spans()
    assert content(span) == EXPECTED
    assert content(ours.get_finished_spans()[1]) == EXPECTED


def test_behind_the_tail_sampler_the_kept_copy_carries_the_content(
    provider: TracerProvider, fake_provider: Any
) -> None:
    exported = InMemorySpanExporter()
    sampler = tail_sampling_pipeline(exported, settings=SamplingSettings(ratio=1.0, decision_wait=0.05))
    provider.add_span_processor(sampler)
    chat(fake_provider)
    sampler.force_flush()
    [span] = exported.get_finished_spans()
    assert content(span) == EXPECTED
    assert span.attributes[semconv.SAMPLING_REASON]


def test_the_sdk_attribute_length_limit_still_applies(
    monkeypatch: pytest.MonkeyPatch, fake_provider: Any
) -> None:
    attributes = chat_under_limits(monkeypatch, fake_provider, SpanLimits(max_span_attribute_length=40))
    full = json.dumps(INPUT, separators=(",", ":"), ensure_ascii=False)
    assert attributes[semconv.INPUT_MESSAGES] == full[:40]


def test_a_failure_on_export_drops_the_content_and_keeps_the_span(
    provider: TracerProvider,
    fake_provider: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    exported = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(exported)))
    chat(fake_provider)  # a first call decides how content is captured, with the redactor intact

    def broken(self: Redactor, value: Any, **options: Any) -> str:
        raise RuntimeError("redactor bug")

    monkeypatch.setattr(Redactor, "content_json", broken)
    with caplog.at_level("DEBUG", logger="otel_agentops"):
        chat(fake_provider)
    first, second = exported.get_finished_spans()
    assert content(first) == EXPECTED
    assert content(second) == {}
    assert second.attributes[semconv.USAGE_OUTPUT_TOKENS] == 8
    assert "redacting content on export" in caplog.text


class _AppProcessor(SpanProcessor):
    pass


class _Counting(SpanProcessor):
    agentops_reads_no_content = True


def test_which_pipelines_redact_on_export() -> None:
    def verdict(*processors: SpanProcessor) -> bool:
        tracer_provider = TracerProvider()
        for processor in processors:
            tracer_provider.add_span_processor(processor)
        span = tracer_provider.get_tracer("t").start_span("s")
        return exports_redacted(span)

    mem = InMemorySpanExporter()
    assert verdict(SimpleSpanProcessor(RedactingSpanExporter(mem)))
    assert verdict(GuardedBatchSpanProcessor(RedactingSpanExporter(mem)))
    assert verdict(tail_sampling_pipeline(mem))
    pipeline = SpanPipeline(SamplingSettings())
    stand_in = pipeline.exporting_processor(mem)
    assert pipeline.tail_sampler is not None
    assert verdict(stand_in, pipeline.tail_sampler)
    assert not verdict(SimpleSpanProcessor(mem))
    assert not verdict(SimpleSpanProcessor(RedactingSpanExporter(mem)), _AppProcessor())
    assert verdict(SimpleSpanProcessor(RedactingSpanExporter(mem)), _Counting())
    assert not exports_redacted(object())


def test_the_export_copy_holds_no_unredacted_content(provider: TracerProvider, fake_provider: Any) -> None:
    exported = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(exported)))
    chat(fake_provider)
    [span] = exported.get_finished_spans()
    pending = pending_content(span)
    assert pending is not None
    # What rides on the exported span (for a second exporter) is the redacted attributes only.
    assert "jane.doe@example.com" not in repr([getattr(pending, name) for name in pending.__slots__])
    assert {key: json.loads(value) for key, value in pending.attributes().items()} == EXPECTED


class _Function(pydantic.BaseModel):
    name: str
    description: str


class _Tool(pydantic.BaseModel):
    type: str = "function"
    function: _Function


def test_content_that_is_not_plain_data_or_too_big_is_redacted_in_the_call(
    provider: TracerProvider, fake_provider: Any
) -> None:
    exported, batch = batch_exporting(provider)
    tool = _Tool(function=_Function(name="lookup_order", description="as sent"))
    big = [{"role": "user", "content": "x" * (MAX_PENDING_CHARS + 1)}]
    chat(fake_provider, tools=[tool])
    chat(fake_provider, big)
    # The app edits its pydantic tool after the call: the span says what was sent.
    tool.function.description = "edited after the call"
    batch.force_flush()
    with_tool, with_big = exported.get_finished_spans()
    assert "as sent" in with_tool.attributes[semconv.TOOL_DEFINITIONS]
    assert "edited" not in with_tool.attributes[semconv.TOOL_DEFINITIONS]
    assert json.loads(with_big.attributes[semconv.INPUT_MESSAGES])[0]["parts"][0]["content"].startswith("xxx")


def test_a_processor_added_while_a_stream_is_open_gets_the_content(
    provider: TracerProvider, fake_provider: Any
) -> None:
    ours, theirs = InMemorySpanExporter(), InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(ours)))
    fake_provider.script(
        Reply(text="Shipped; I wrote to jane.doe@example.com.", input_tokens=20, output_tokens=8)
    )
    stream = client(fake_provider, "sync").chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    provider.add_span_processor(SimpleSpanProcessor(theirs))
    for _ in stream:
        pass
    [span] = theirs.get_finished_spans()
    assert content(span) == EXPECTED
    assert content(ours.get_finished_spans()[0]) == EXPECTED


def test_a_low_attribute_count_limit_keeps_content_in_the_call(
    monkeypatch: pytest.MonkeyPatch, fake_provider: Any
) -> None:
    limits = SpanLimits(max_span_attributes=6)
    deferred = chat_under_limits(monkeypatch, fake_provider, limits)
    assert deferred.keys() == chat_under_limits(monkeypatch, fake_provider, limits, redacting=False).keys()
