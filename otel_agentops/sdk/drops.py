"""Spans lost on their way to the backend: counted in ``agentops.export.dropped_spans``, logged once.

Causes (the ``error.type`` attribute): ``queue_full`` (a processor's bounded queue was full: the backend,
or the processor after the tail sampler, is slower than the app), ``export_failed`` (the exporter gave
up on a batch after its retries) and ``shutdown`` (still queued when the shutdown timeout ran out).
"""

from __future__ import annotations

import logging

from opentelemetry import metrics

from otel_agentops.genai import semconv
from otel_agentops.version import __version__

METER_NAME = "otel_agentops.sdk"  # the meter of the span pipeline's own telemetry

QUEUE_FULL, EXPORT_FAILED, SHUTDOWN = "queue_full", "export_failed", "shutdown"

_logger = logging.getLogger("otel_agentops.sdk")

_MESSAGES = {
    QUEUE_FULL: "otel-agentops: %s cannot keep up (the backend is slow or down); dropping spans, "
    "counted in agentops.export.dropped_spans (error.type=queue_full); logged once",
    EXPORT_FAILED: "otel-agentops: %s could not export a batch of spans; dropping them, counted in "
    "agentops.export.dropped_spans (error.type=export_failed); logged once",
    SHUTDOWN: "otel-agentops: %s did not finish exporting within OTEL_BSP_EXPORT_TIMEOUT at shutdown; "
    "dropping the spans still queued, counted in agentops.export.dropped_spans (error.type=shutdown)",
}


class DropRecorder:
    """The dropped-spans counter of one component (``who`` names it in the log line)."""

    def __init__(self, who: str, meter_provider: metrics.MeterProvider | None = None) -> None:
        meter = metrics.get_meter(METER_NAME, __version__, meter_provider)
        self._counter = meter.create_counter(
            semconv.METRIC_EXPORT_DROPPED_SPANS,
            unit="{span}",
            description="Spans that never reached the backend, by cause",
        )
        self._attributes = {cause: {semconv.ERROR_TYPE: cause} for cause in _MESSAGES}
        self._who = who
        self._logged: set[str] = set()

    def record(self, count: int, cause: str) -> None:
        self._counter.add(count, self._attributes[cause])
        # Once per cause: a dead backend would otherwise log on every batch for as long as it is down.
        if cause not in self._logged:
            self._logged.add(cause)
            _logger.warning(_MESSAGES[cause], self._who)
