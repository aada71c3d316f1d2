"""The span pipeline: [tail sampler →] guarded batch processor → redaction safety net → each exporter.

Under ``opentelemetry-instrument`` our configurator hands the SDK's own set-up (``_initialize_components``)
the tail sampler as a span processor and `SpanPipeline.exporting_processor` as the exporting-processor
factory, so ``OTEL_TRACES_EXPORTER``, ``OTEL_EXPORTER_OTLP_*``, ``OTEL_BSP_*`` and ``OTEL_TRACES_SAMPLER``
keep their standard meaning. When another configurator set the SDK up instead (opentelemetry-distro's,
if it is found first), `install_tail_sampling` (an ``opentelemetry_pre_instrument`` entry point, run
after every configurator and before any app code) puts the tail sampler in front of the exporting
processors it added. Nothing here creates or replaces a TracerProvider.

In code, for an app that sets up its own provider::

    provider.add_span_processor(tail_sampling_pipeline(OTLPSpanExporter(), settings=SamplingSettings(slow=5)))
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.trace import SpanProcessor, SynchronousMultiSpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from otel_agentops.config.sampling import SamplingSettings, load_sampling
from otel_agentops.sdk.export_guard import GuardedBatchSpanProcessor
from otel_agentops.sdk.redacting_export import RedactingLogRecordExporter, RedactingSpanExporter
from otel_agentops.sdk.tail_sampling import TailSamplingProcessor

__all__ = ["SpanPipeline", "install_tail_sampling", "tail_sampling_pipeline"]

_logger = logging.getLogger(__name__)


def tail_sampling_pipeline(
    *exporters: SpanExporter,
    settings: SamplingSettings | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> TailSamplingProcessor:
    """One span processor for ``provider.add_span_processor``: tail sampler → batch processor → exporters.

    ``settings`` defaults to the ``OTEL_AGENTOPS_SAMPLING_*`` variables (building it is the opt-in, so
    ``OTEL_AGENTOPS_SAMPLING`` itself is not consulted).
    """
    exporting = SynchronousMultiSpanProcessor()
    for exporter in exporters:
        exporting.add_span_processor(
            GuardedBatchSpanProcessor(RedactingSpanExporter(exporter), meter_provider=meter_provider)
        )
    return TailSamplingProcessor(
        exporting, settings or SamplingSettings.from_env(), meter_provider=meter_provider
    )


class _BehindTheSampler(SpanProcessor):
    """What the provider holds in place of an exporting processor that sits behind the tail sampler.

    The SDK adds whatever the exporting-processor factory returns to the provider; the real processor is
    fed (and shut down) by the tail sampler, so the provider's copy must do nothing.
    """


def behind_the_sampler(processor: SpanProcessor) -> bool:
    """Whether ``processor`` is the provider's do-nothing stand-in for one behind the tail sampler."""
    return isinstance(processor, _BehindTheSampler)


class SpanPipeline:
    """The processors our configurator passes to the SDK's set-up."""

    def __init__(self, sampling: SamplingSettings | None) -> None:
        self._exporting = SynchronousMultiSpanProcessor()
        self.tail_sampler = None if sampling is None else TailSamplingProcessor(self._exporting, sampling)

    @classmethod
    def from_env(cls) -> SpanPipeline:
        return cls(load_sampling())

    def exporting_processor(self, exporter: SpanExporter) -> SpanProcessor:
        """The SDK calls this once per configured exporter."""
        processor = GuardedBatchSpanProcessor(RedactingSpanExporter(exporter))
        if self.tail_sampler is None:
            return processor
        self._exporting.add_span_processor(processor)
        return _BehindTheSampler()

    def sdk_arguments(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` for ``_OTelSDKConfigurator._configure`` with this pipeline added."""
        processors = list(kwargs.get("span_processors") or ())
        if self.tail_sampler is not None:
            processors.append(self.tail_sampler)
        return {
            **kwargs,
            "span_processors": processors,
            "export_span_processor": self.exporting_processor,
            "export_log_record_processor": exporting_log_processor,
        }


def exporting_log_processor(exporter: LogRecordExporter) -> LogRecordProcessor:
    """The SDK calls this once per configured log exporter: the same redaction safety net as for spans."""
    return BatchLogRecordProcessor(RedactingLogRecordExporter(exporter))


def install_tail_sampling() -> None:
    """Entry point (``opentelemetry_pre_instrument``): tail sampling when another configurator ran.

    Needs the provider's processor list, which the SDK keeps private; when its shape is not the expected
    one this says so and changes nothing.
    """
    from otel_agentops.sdk.configurator import AgentOpsConfigurator  # it imports this module

    if AgentOpsConfigurator.configured:
        return  # our configurator built the pipeline (and reported any bad setting) already
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        return  # OpenTelemetry is not configured (or not with the SDK): nothing to sample
    active = getattr(provider, "_active_span_processor", None)
    current = getattr(active, "_span_processors", None)
    if not isinstance(active, SynchronousMultiSpanProcessor) or not isinstance(current, tuple):
        if load_sampling() is not None:
            _logger.warning("otel-agentops: cannot add tail sampling to this TracerProvider; not sampling")
        return
    if any(isinstance(processor, TailSamplingProcessor) for processor in current):
        return  # added by hand already
    settings = load_sampling()
    if settings is None:
        return
    exporting = SynchronousMultiSpanProcessor()
    others = []
    for processor in current:
        if isinstance(processor, (BatchSpanProcessor, SimpleSpanProcessor)):
            exporting.add_span_processor(processor)
        else:
            others.append(processor)
    with active._lock:
        active._span_processors = (*others, TailSamplingProcessor(exporting, settings))
