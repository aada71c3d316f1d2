"""How the pipeline is put together: for the SDK's configurator, and by hand for apps owning a provider."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_agentops.config.sampling import SamplingSettings
from otel_agentops.sdk.export_guard import GuardedBatchSpanProcessor
from otel_agentops.sdk.pipeline import SpanPipeline, tail_sampling_pipeline
from otel_agentops.sdk.tail_sampling import TailSamplingProcessor


def configure_like_the_sdk(pipeline: SpanPipeline, *exporters: InMemorySpanExporter) -> TracerProvider:
    """What `_init_tracing` does with the arguments our configurator passes."""
    arguments = pipeline.sdk_arguments({"span_processors": []})
    provider = TracerProvider(shutdown_on_exit=False)
    for processor in arguments["span_processors"]:
        provider.add_span_processor(processor)
    for exporter in exporters:
        provider.add_span_processor(arguments["export_span_processor"](exporter))
    return provider


def end_traces(provider: TracerProvider, count: int) -> None:
    tracer = provider.get_tracer("pipeline")
    for number in range(count):
        with tracer.start_as_current_span(f"run {number}"), tracer.start_as_current_span("step"):
            pass


def test_without_sampling_each_exporter_gets_a_guarded_batch_processor():
    pipeline = SpanPipeline(None)
    assert pipeline.sdk_arguments({})["span_processors"] == []
    assert isinstance(pipeline.exporting_processor(InMemorySpanExporter()), GuardedBatchSpanProcessor)
    exporter = InMemorySpanExporter()
    provider = configure_like_the_sdk(pipeline, exporter)
    end_traces(provider, 3)
    provider.shutdown()
    assert len(exporter.get_finished_spans()) == 6


def test_with_sampling_one_sampler_feeds_every_exporter():
    pipeline = SpanPipeline(SamplingSettings(ratio=0.0, slow=0.0))
    first, second = InMemorySpanExporter(), InMemorySpanExporter()
    provider = configure_like_the_sdk(pipeline, first, second)
    samplers = [
        p for p in provider._active_span_processor._span_processors if isinstance(p, TailSamplingProcessor)
    ]
    assert samplers == [pipeline.tail_sampler]
    end_traces(provider, 3)
    provider.shutdown()  # the sampler shuts down the batch processors behind it, which flush
    for exporter in (first, second):
        spans = exporter.get_finished_spans()
        assert len(spans) == 6
        assert [s.attributes.get("agentops.sampling.reason") for s in spans if s.parent is None] == [
            "slow"
        ] * 3


def test_by_hand_for_an_app_that_owns_its_provider():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(tail_sampling_pipeline(exporter, settings=SamplingSettings(ratio=1.0)))
    end_traces(provider, 2)
    provider.shutdown()
    assert len(exporter.get_finished_spans()) == 4
