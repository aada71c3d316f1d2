"""The batch processor the plugin puts in front of every exporter, hardened for a failing backend and fork.

What SDK 1.45's ``BatchSpanProcessor`` does with the OTLP exporters when the endpoint refuses connections
or accepts and never answers, or when the app forks (measured; see the tests and the issue report):

* the app's span end is a bounded deque append and the queue (``OTEL_BSP_MAX_QUEUE_SIZE``) bounds
  memory: nothing to fix;
* spans dropped on a full queue, by a failed export or left queued at shutdown are not counted unless
  the SDK's internal metrics are switched on: here they are counted in ``agentops.export.dropped_spans``
  (see `otel_agentops.sdk.drops`) and logged once per cause;
* ``shutdown()`` waits up to a hard-coded 30 s whatever ``OTEL_BSP_EXPORT_TIMEOUT`` says (the exporter's
  own timeout, ``OTEL_EXPORTER_OTLP_TIMEOUT``, applies per batch): here it waits at most
  ``OTEL_BSP_EXPORT_TIMEOUT``, then abandons what is left (counted);
* ``force_flush(timeout)`` ignores the timeout and exports every queued batch on the caller's thread:
  here it flushes on a helper thread and returns False when the timeout passes;
* after ``os.fork`` the OTLP/HTTP exporter's pooled keep-alive connection is shared by parent and
  children, whose requests interleave on the one socket (corrupted or duplicated batches): here a child
  closes its copies and opens its own connections;
* a fork while the gRPC exporter is mid-call leaves gRPC's locks held in the child and makes gRPC skip
  its own fork handling; the child's first export then hangs: here the fork waits (at most
  ``_FORK_WAIT_SECONDS``) for the export in flight, and the child gets a new channel;
* a multiprocessing worker forked from the app exits through ``os._exit``, skipping the provider's
  atexit shutdown, so its queued spans were never sent: here they are flushed at the worker's exit.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Sequence

from opentelemetry import metrics
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from otel_agentops.sdk.drops import EXPORT_FAILED, QUEUE_FULL, SHUTDOWN, DropRecorder
from otel_agentops.sdk.forking import (
    BATCH_PROCESSOR_EXIT_PRIORITY,
    register_fork_hooks,
    shutdown_when_worker_exits,
)

__all__ = ["GuardedBatchSpanProcessor"]

# A healthy export takes milliseconds; a fork does not wait out a hanging backend's full timeout.
_FORK_WAIT_SECONDS = 2.0


def _innermost(exporter: SpanExporter) -> SpanExporter:
    """The real exporter behind wrappers (e.g. the redaction safety net) that say what they wrap."""
    while (inner := getattr(exporter, "wrapped_exporter", None)) is not None:
        exporter = inner
    return exporter


def _uses_grpc(exporter: SpanExporter) -> bool:
    return callable(getattr(_innermost(exporter), "_initialize_channel_and_stub", None))


def _own_connections(exporter: SpanExporter) -> None:
    """In a forked child: stop using the connections inherited from the parent; new ones open on demand.

    gRPC: a new channel (the inherited one is gRPC's to clean up). HTTP: closing the pooled connections
    only releases this process's copy of each socket; the parent's stays open. Relies on the OTLP
    exporters' internals (1.4x: ``_initialize_channel_and_stub``, a transport with ``close()``; older: a
    requests session); a no-op for any other exporter.
    """
    exporter = _innermost(exporter)
    if _uses_grpc(exporter):
        exporter._initialize_channel_and_stub()  # type: ignore[attr-defined]
        return
    transport = getattr(getattr(exporter, "_client", None), "_transport", None)
    for pool in (transport, getattr(exporter, "_session", None)):
        close = getattr(pool, "close", None)
        if callable(close):
            close()


class _ObservedExporter(SpanExporter):
    """Wraps the real exporter to count the batches it fails to deliver."""

    def __init__(self, exporter: SpanExporter, drops: DropRecorder) -> None:
        self.exporter = exporter
        self._drops = drops
        self._shutdown_takes_timeout = "timeout_millis" in inspect.signature(exporter.shutdown).parameters

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.exporter.export(spans)
        except Exception:
            self._drops.record(len(spans), EXPORT_FAILED)
            raise  # the batch processor logs it
        if result is not SpanExportResult.SUCCESS:
            self._drops.record(len(spans), EXPORT_FAILED)
        return result

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        if self._shutdown_takes_timeout:
            self.exporter.shutdown(timeout_millis=timeout_millis)  # type: ignore[call-arg]
        else:
            self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.exporter.force_flush(timeout_millis)


def unwrap_exporter(exporter: object) -> object:
    """The exporter a ``GuardedBatchSpanProcessor`` was given, behind the wrapper that counts drops."""
    while isinstance(exporter, _ObservedExporter):
        exporter = exporter.exporter
    return exporter


class GuardedBatchSpanProcessor(BatchSpanProcessor):
    """``BatchSpanProcessor`` (same arguments, same ``OTEL_BSP_*`` variables) with drops counted,
    shutdown and flush bounded by their timeouts, and fork-safe exports; see the module docstring."""

    def __init__(
        self,
        span_exporter: SpanExporter,
        max_queue_size: int | None = None,
        schedule_delay_millis: float | None = None,
        max_export_batch_size: int | None = None,
        export_timeout_millis: float | None = None,
        *,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self._drops = DropRecorder(type(span_exporter).__name__, meter_provider)
        self._exporter = span_exporter
        # Older SDKs' BatchSpanProcessor has no meter_provider argument: pass it only when given.
        extra = {} if meter_provider is None else {"meter_provider": meter_provider}
        super().__init__(
            _ObservedExporter(span_exporter, self._drops),
            max_queue_size,
            schedule_delay_millis,
            max_export_batch_size,
            export_timeout_millis,
            **extra,
        )
        self._timeout_millis = (
            BatchSpanProcessor._default_export_timeout_millis()
            if export_timeout_millis is None
            else export_timeout_millis
        )
        # The SDK's shared batching engine (1.33+); without it this class behaves as BatchSpanProcessor.
        self._batch = getattr(self, "_batch_processor", None)
        required = ("_queue", "_max_queue_size", "_shutdown", "_export_lock")
        if not all(hasattr(self._batch, name) for name in required):
            self._batch = None
        self._flush_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._holding_for_fork = False
        # Registered after the SDK's own hook, so in the child its new worker and lock already exist.
        register_fork_hooks(
            before=self._before_fork,
            after_in_parent=self._after_fork_in_parent,
            after_in_child=self._after_fork_in_child,
        )

    @property
    def span_exporter(self) -> SpanExporter:
        """The exporter given to the constructor (not the wrapper that counts its failures)."""
        return self._exporter

    def on_end(self, span: ReadableSpan) -> None:
        batch = self._batch
        if (
            batch is not None
            and len(batch._queue) >= batch._max_queue_size
            and not batch._shutdown
            and span.context is not None
            and span.context.trace_flags.sampled
        ):
            # The SDK appends anyway and the full deque drops its oldest span: one span lost either way.
            self._drops.record(1, QUEUE_FULL)
        super().on_end(span)

    def shutdown(self) -> None:
        batch = self._batch
        if batch is None:
            super().shutdown()
            return
        if batch._shutdown:
            return
        batch.shutdown(timeout_millis=self._timeout_millis)
        if left := len(batch._queue):
            self._drops.record(left, SHUTDOWN)

    def force_flush(self, timeout_millis: int | None = None) -> bool:
        if self._batch is None:
            return super().force_flush(timeout_millis)
        if self._batch._shutdown:
            return False
        timeout = self._timeout_millis if timeout_millis is None else timeout_millis
        with self._flush_lock:
            # One flush at a time: callers that time out while the backend hangs do not pile up threads.
            if self._flusher is None or not self._flusher.is_alive():
                self._flusher = threading.Thread(
                    target=functools.partial(BatchSpanProcessor.force_flush, self),
                    name="otel-agentops-flush",
                    daemon=True,
                )
                self._flusher.start()
            flusher = self._flusher
        flusher.join(timeout / 1000)
        return not flusher.is_alive()

    def _before_fork(self) -> None:
        # The SDK's worker holds the export lock for as long as it exports: holding it over the fork means
        # no gRPC call is in flight, so gRPC's own fork handling runs.
        if self._batch is not None and not self._batch._shutdown and _uses_grpc(self._exporter):
            self._holding_for_fork = self._batch._export_lock.acquire(timeout=_FORK_WAIT_SECONDS)

    def _after_fork_in_parent(self) -> None:
        if self._holding_for_fork:
            self._holding_for_fork = False
            self._batch._export_lock.release()  # type: ignore[union-attr]

    def _after_fork_in_child(self) -> None:
        self._holding_for_fork = False  # the SDK gave the child a new lock; the held one stays behind
        _own_connections(self._exporter)
        shutdown_when_worker_exits(self, BATCH_PROCESSOR_EXIT_PRIORITY)
