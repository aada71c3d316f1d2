"""In-process tail sampling: keep every failed, slow or expensive trace and a fraction of the rest.

``TailSamplingProcessor(next_processor, settings)`` sits in front of the exporting processor (usually a
batch processor). It buffers the ended spans of each trace and decides once per trace:

* when the trace's local root ends (no parent, or a remote one): the usual case;
* ``decision_wait`` seconds after the trace's first span arrived, if the root has not ended by then;
* on overflow, when ``max_traces`` traces or ``max_spans`` spans are buffered: the oldest buffered trace
  is decided early, on what it has so far, to make room (nothing is dropped unseen);
* at shutdown, for every trace still buffered.

Rules, first match wins and is the reason: an error span (``keep_errors``); a root that took at least
``slow`` seconds (without the root: the spans seen so far already span ``slow``); a total
``gen_ai.usage.cost`` of at least ``cost`` USD; else keep with probability ``ratio``, decided from the
lower 64 bits of the trace id as the SDK's ``TraceIdRatioBased`` sampler does, so every process and a
head sampler agree on the same traces. Each decision adds 1 to ``agentops.sampling.decisions``
(attributes ``agentops.sampling.decision`` kept/dropped, ``agentops.sampling.reason``,
``agentops.sampling.trigger`` root_ended/decision_wait/overflow/shutdown).

Kept spans go on in the order they ended. Spans of an already decided trace (late spans) follow its
decision; decisions are remembered for the last ``4 * max_traces`` traces, after which a late span starts
a new buffered trace. A kept trace's local root carries ``agentops.sampling.reason``: an ended span is
immutable and other processors hold the same object, so the exporter is handed a read-only copy of the
root with the attribute added (the SDK's span is untouched).

The caller's thread only does bookkeeping: ``on_end`` appends to the trace's buffer under a lock and, at a
decision, queues the kept spans. One worker thread per processor hands them to ``next_processor`` and
decides timed-out traces, so a slow downstream never holds up the app. That queue is bounded too: it
takes a decided trace whole while it holds fewer than ``max_spans`` spans; kept spans that find it full
(the next processor is stuck) are dropped and counted in ``agentops.export.dropped_spans``
(``error.type=queue_full``). So the sampler holds at most ``max_spans`` undecided spans plus fewer than
``2 * max_spans`` kept ones, the latter only while the next processor is slower than the app.
After ``os.fork`` the child starts with an empty buffer and its own lock and worker (the parent still
decides and exports what it buffered); see `otel_agentops.sdk.forking`.

``force_flush`` hands on everything already decided and flushes ``next_processor``; traces still waiting
for their root stay buffered (deciding them early would judge a running agent on half its spans).
Head samplers (``OTEL_TRACES_SAMPLER``) run first: the tail sampler only sees spans they sampled.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

from opentelemetry import metrics
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from otel_agentops.config.sampling import SamplingSettings
from otel_agentops.genai import semconv
from otel_agentops.genai.failsafe import report_internal_error
from otel_agentops.sdk.drops import METER_NAME, QUEUE_FULL, DropRecorder
from otel_agentops.sdk.forking import (
    TAIL_SAMPLER_EXIT_PRIORITY,
    register_fork_hooks,
    shutdown_when_worker_exits,
)
from otel_agentops.sdk.span_copy import SpanCopy
from otel_agentops.version import __version__

__all__ = ["TailSamplingProcessor"]

KEPT, DROPPED = "kept", "dropped"
REASON_ERROR, REASON_SLOW, REASON_COST, REASON_RATIO = "error", "slow", "cost", "ratio"
ROOT_ENDED, DECISION_WAIT, OVERFLOW, SHUTDOWN = "root_ended", "decision_wait", "overflow", "shutdown"

_TRACE_ID_LOW_BITS = 2**64 - 1  # the part of the trace id the SDK's TraceIdRatioBased sampler compares
_DECISION_MEMORY = 4  # times max_traces: how many past decisions late spans can still find
_JOIN_SECONDS = 5.0  # the worker only hands spans on; if the downstream hangs, shutdown still returns
_DROPPED_VERDICT = ""  # a remembered decision: the reason when kept, this when dropped


class _Trace:
    """The buffered spans of one undecided trace and what the rules need, updated as spans arrive."""

    __slots__ = ("cost", "deadline", "end", "error", "spans", "start")

    def __init__(self, deadline: float) -> None:
        self.spans: list[ReadableSpan] = []
        self.error = False
        self.cost = 0.0
        self.start: int | None = None
        self.end: int | None = None
        self.deadline = deadline

    def add(self, span: ReadableSpan) -> None:
        self.spans.append(span)
        if span.status.status_code is StatusCode.ERROR:
            self.error = True
        cost = span.attributes.get(semconv.USAGE_COST)
        if isinstance(cost, (int, float)) and not isinstance(cost, bool):
            self.cost += cost
        start, end = span.start_time, span.end_time
        if start is not None and (self.start is None or start < self.start):
            self.start = start
        if end is not None and (self.end is None or end > self.end):
            self.end = end

    def duration_ns(self) -> int:
        if self.start is None or self.end is None:
            return 0
        return self.end - self.start


def _kept_root(span: ReadableSpan, reason: str) -> ReadableSpan:
    """A kept trace's local root as exporters see it: the ended span plus ``agentops.sampling.reason``."""
    return SpanCopy(span, attributes={**(span.attributes or {}), semconv.SAMPLING_REASON: reason})


# A decision's counter attributes and how many of its kept spans found no room in the outbox.
_Decision = tuple[dict[str, str], int]

# What the worker can find in the outbox: a span, a kept root with its reason, or a flush marker.
_OutboxItem = ReadableSpan | tuple[ReadableSpan, str] | threading.Event


class TailSamplingProcessor(SpanProcessor):
    """Buffers each trace's spans, decides per trace, hands the kept ones to ``next_processor``.

    ``settings`` defaults to ``SamplingSettings()``.
    Shutting this processor down shuts ``next_processor`` down after the buffered traces are decided.
    """

    def __init__(
        self,
        next_processor: SpanProcessor,
        settings: SamplingSettings | None = None,
        *,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self._next = next_processor
        self._settings = settings = settings or SamplingSettings()
        self._ratio_bound = round(settings.ratio * 2**64)
        self._slow_ns = None if settings.slow is None else settings.slow * 1e9
        self._decision_memory = _DECISION_MEMORY * settings.max_traces
        meter = metrics.get_meter(METER_NAME, __version__, meter_provider)
        self._decisions = meter.create_counter(
            semconv.METRIC_SAMPLING_DECISIONS,
            unit="{trace}",
            description="Tail-sampling decisions, by decision, reason and what triggered them",
        )
        self._decision_attributes = {
            (verdict, reason, trigger): {
                semconv.SAMPLING_DECISION: verdict,
                semconv.SAMPLING_REASON: reason,
                semconv.SAMPLING_TRIGGER: trigger,
            }
            for verdict in (KEPT, DROPPED)
            for reason in (REASON_ERROR, REASON_SLOW, REASON_COST, REASON_RATIO)
            for trigger in (ROOT_ENDED, DECISION_WAIT, OVERFLOW, SHUTDOWN)
        }
        self._drops = DropRecorder(type(self).__name__, meter_provider)
        self._shutdown = False
        self._stopping = False
        self._start()
        register_fork_hooks(after_in_child=self._restart_in_child)

    def _start(self) -> None:
        self._lock = threading.Lock()
        self._pending: OrderedDict[int, _Trace] = OrderedDict()  # oldest first = earliest deadline
        self._decided: OrderedDict[int, str] = OrderedDict()
        self._buffered = 0
        self._outbox: deque[_OutboxItem] = deque()
        self._wake = threading.Event()
        self._worker = threading.Thread(target=self._run, name="otel-agentops-tail-sampler", daemon=True)
        self._worker.start()

    def _restart_in_child(self) -> None:
        # The lock may have been held by a thread that does not exist here, and the buffered traces are
        # the parent's to decide: start over with fresh state and a worker of this process's own.
        if not self._shutdown:
            self._start()
            shutdown_when_worker_exits(self, TAIL_SAMPLER_EXIT_PRIORITY)

    @property
    def buffered_spans(self) -> int:
        """Spans waiting for their trace's decision (at most ``max_spans``)."""
        with self._lock:  # inside on_end it is one over the bound for a moment
            return self._buffered

    @property
    def pending_traces(self) -> int:
        """Traces waiting for a decision (at most ``max_traces``)."""
        with self._lock:
            return len(self._pending)

    @property
    def queued_spans(self) -> int:
        """Kept spans waiting to be handed to the next processor (under ``2 * max_spans``)."""
        return len(self._outbox)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        # Transparent for the start and ending hooks: only on_end is sampled.
        self._next.on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Span) -> None:
        # A hook of newer SDKs that a hand-written next processor may not have.
        on_ending = getattr(self._next, "_on_ending", None)
        if on_ending is not None:
            on_ending(span)

    @property
    def next_processor(self) -> SpanProcessor:
        """Where the kept spans go."""
        return self._next

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if self._shutdown or context is None or not context.trace_flags.sampled:
            return
        trace_id = context.trace_id
        parent = span.parent
        is_root = parent is None or parent.is_remote
        settings = self._settings
        decisions: list[_Decision] = []
        late_lost = 0
        with self._lock:
            outbox_before = len(self._outbox)
            verdict = self._decided.get(trace_id)
            if verdict is None:
                trace = self._pending.get(trace_id)
                if trace is None:
                    trace = self._pending[trace_id] = _Trace(time.monotonic() + settings.decision_wait)
                trace.add(span)
                self._buffered += 1
                if is_root:
                    decisions.append(self._decide(trace_id, self._pop(trace_id), span, ROOT_ENDED))
                # After adding, so a span that overflows its own trace is decided with it, not after it.
                if len(self._pending) > settings.max_traces or self._buffered > settings.max_spans:
                    self._make_room(decisions)
            elif verdict:  # a late span of a kept trace (a dropped one's verdict is the empty string)
                if len(self._outbox) < settings.max_spans:
                    self._outbox.append((span, verdict) if is_root else span)
                else:
                    late_lost = 1
            queued = len(self._outbox) > outbox_before
        if queued:
            self._wake.set()
        self._report(decisions, late_lost)

    def _report(self, decisions: list[_Decision], lost: int = 0) -> None:
        for attributes, unqueued in decisions:
            self._decisions.add(1, attributes)
            lost += unqueued
        if lost:
            self._drops.record(lost, QUEUE_FULL)

    def _make_room(self, decisions: list[_Decision]) -> None:
        """Decide the oldest buffered traces early until the buffer is back within its bounds."""
        settings = self._settings
        while len(self._pending) > settings.max_traces or self._buffered > settings.max_spans:
            oldest_id = next(iter(self._pending))
            decisions.append(self._decide(oldest_id, self._pop(oldest_id), None, OVERFLOW))

    def _pop(self, trace_id: int) -> _Trace:
        trace = self._pending.pop(trace_id)
        self._buffered -= len(trace.spans)
        return trace

    def _verdict(self, trace_id: int, trace: _Trace, root: ReadableSpan | None) -> tuple[bool, str]:
        settings = self._settings
        if settings.keep_errors and trace.error:
            return True, REASON_ERROR
        if self._slow_ns is not None:
            if root is not None and root.start_time is not None and root.end_time is not None:
                duration = root.end_time - root.start_time
            else:
                duration = trace.duration_ns()
            if duration >= self._slow_ns:
                return True, REASON_SLOW
        if settings.cost is not None and trace.cost >= settings.cost:
            return True, REASON_COST
        return (trace_id & _TRACE_ID_LOW_BITS) < self._ratio_bound, REASON_RATIO

    def _decide(self, trace_id: int, trace: _Trace, root: ReadableSpan | None, trigger: str) -> _Decision:
        """Record the decision and queue the kept spans (the lock is held)."""
        keep, reason = self._verdict(trace_id, trace, root)
        self._decided[trace_id] = reason if keep else _DROPPED_VERDICT
        if len(self._decided) > self._decision_memory:
            self._decided.popitem(last=False)
        attributes = self._decision_attributes[(KEPT if keep else DROPPED, reason, trigger)]
        if not keep:
            return attributes, 0
        if len(self._outbox) >= self._settings.max_spans:
            # The next processor is stuck or slower than the app: the outbox is bounded like the buffer
            # (a trace goes in whole, so it holds under 2 * max_spans).
            return attributes, len(trace.spans)
        if root is not None:
            self._outbox.extend(trace.spans[:-1])  # the root is the span that just ended: the last
            self._outbox.append((root, reason))
        else:
            self._outbox.extend(trace.spans)
        return attributes, 0

    def _run(self) -> None:
        while True:
            self._wake.wait(self._seconds_to_next_deadline())
            self._wake.clear()
            stopping = self._stopping  # read before the last hand-on, so nothing queued is left behind
            self._decide_due()
            self._hand_on()
            if stopping:
                return

    def _seconds_to_next_deadline(self) -> float:
        with self._lock:
            oldest = next(iter(self._pending.values()), None)
        if oldest is None:
            # New traces are due no sooner than this from now; on_end need not wake the worker for them.
            return self._settings.decision_wait
        return max(0.0, oldest.deadline - time.monotonic())

    def _decide_due(self) -> None:
        now = time.monotonic()
        decisions: list[_Decision] = []
        with self._lock:
            while self._pending:
                trace_id, trace = next(iter(self._pending.items()))
                if trace.deadline > now:
                    break
                decisions.append(self._decide(trace_id, self._pop(trace_id), None, DECISION_WAIT))
        self._report(decisions)

    def _hand_on(self) -> None:
        outbox, on_end = self._outbox, self._next.on_end
        while outbox:
            item = outbox.popleft()
            if isinstance(item, threading.Event):
                item.set()
                continue
            span = _kept_root(*item) if isinstance(item, tuple) else item
            try:
                on_end(span)
            except Exception as exc:  # a broken downstream must not stop the worker
                report_internal_error("tail sampler: next processor's on_end", exc)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        deadline = time.monotonic() + timeout_millis / 1000
        if self._worker.is_alive():
            handed_on = threading.Event()
            self._outbox.append(handed_on)
            self._wake.set()
            if not handed_on.wait(timeout_millis / 1000):
                return False
        remaining_millis = max(0, int((deadline - time.monotonic()) * 1000))
        return self._next.force_flush(remaining_millis)

    def shutdown(self) -> None:
        decisions: list[_Decision] = []
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
            while self._pending:
                trace_id = next(iter(self._pending))
                decisions.append(self._decide(trace_id, self._pop(trace_id), None, SHUTDOWN))
        self._report(decisions)
        self._stopping = True
        self._wake.set()
        self._worker.join(_JOIN_SECONDS)
        if not self._worker.is_alive():
            self._hand_on()  # normally nothing left; a hung downstream keeps the worker, and we leave it
        self._next.shutdown()
