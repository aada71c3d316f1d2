"""A span exporter that prints every finished trace as one compact tree.

Selected with ``OTEL_TRACES_EXPORTER=agentops_console``. Spans reach an exporter one by one or in
batches, children before their parent; printing them as they come would interleave concurrent traces
and scatter a trace over many lines. So spans are buffered per trace and the tree is printed when the
trace's local root (no parent, or a remote parent) arrives. Memory stays bounded: the oldest buffered
trace is printed as it is once more than ``max_traces`` are waiting.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from opentelemetry.sdk.resources import SERVICE_NAME
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from otel_agentops.genai import semconv

__all__ = ["ConsoleTreeSpanExporter", "format_duration"]

_logger = logging.getLogger(__name__)

_DIM = "\x1b[2m"
_RED = "\x1b[31m"
_RESET = "\x1b[0m"

_LAST, _MIDDLE = "└─ ", "├─ "
_BLANK, _BAR = "   ", "│  "


def format_duration(seconds: float) -> str:
    """``412 ms`` below one second, ``1.234 s`` from there on (shared with the run summary)."""
    millis = seconds * 1000
    # Anything that would round to "1000 ms" reads better as seconds.
    if millis >= 999.5:
        return f"{seconds:.3f} s"
    # Local fakes and cache hits answer in well under a millisecond; "0 ms" would hide them.
    if millis < 1:
        return f"{millis:.2f} ms"
    return f"{millis:.0f} ms"


@dataclass
class _TraceBuffer:
    spans: list[ReadableSpan] = field(default_factory=list)
    dropped: int = 0
    complete: bool = False


def _is_local_root(span: ReadableSpan) -> bool:
    return span.parent is None or span.parent.is_remote


def _start(span: ReadableSpan) -> int:
    return span.start_time or 0


def _seconds(start_ns: int | None, end_ns: int | None) -> float:
    if start_ns is None or end_ns is None:
        return 0.0
    return max(0, end_ns - start_ns) / 1e9


def _genai_details(attrs: Mapping[str, object]) -> list[str]:
    details: list[str] = []
    provider = attrs.get(semconv.PROVIDER_NAME)
    if provider:
        details.append(str(provider))
    tokens_in = attrs.get(semconv.USAGE_INPUT_TOKENS)
    tokens_out = attrs.get(semconv.USAGE_OUTPUT_TOKENS)
    if tokens_in is not None and tokens_out is not None:
        details.append(f"tokens {tokens_in}→{tokens_out}")
    elif tokens_in is not None:
        details.append(f"tokens in {tokens_in}")
    elif tokens_out is not None:
        details.append(f"tokens out {tokens_out}")
    cost = attrs.get(semconv.USAGE_COST)
    if attrs.get(semconv.COST_UNPRICED) is True:
        details.append("cost: unpriced")
    elif isinstance(cost, (int, float)):
        details.append(format_cost(cost))
    tools = attrs.get(semconv.REQUEST_TOOL_CALLS)
    if isinstance(tools, str):
        tools = (tools,)
    if isinstance(tools, Sequence) and tools:
        details.append("tools: " + ", ".join(str(name) for name in tools))
    ttfc = attrs.get(semconv.RESPONSE_TIME_TO_FIRST_CHUNK)
    if isinstance(ttfc, (int, float)):
        details.append(f"ttfc {format_duration(ttfc)}")
    if attrs.get(semconv.CACHE_HIT) is True:
        details.append("cache hit")
    routed, tier = attrs.get(semconv.ROUTING_MODEL), attrs.get(semconv.ROUTING_TIER)
    if routed:
        details.append(f"routed {tier} → {routed}")
    fallback = attrs.get(semconv.FALLBACK_MODEL)
    if fallback:
        details.append(f"fallback → {fallback}")
    endpoint = attrs.get(semconv.BALANCING_ENDPOINT)
    if endpoint:
        details.append(f"via {endpoint}")
    batch = attrs.get(semconv.BATCH_SIZE)
    if isinstance(batch, int):
        details.append(f"batch of {batch}")
    attempts = attrs.get(semconv.RETRY_ATTEMPTS)
    if isinstance(attempts, int) and attempts > 1:
        details.append(f"attempts {attempts}")
    return details


class ConsoleTreeSpanExporter(SpanExporter):
    """Prints each trace as a tree once its local root has ended; see the module docstring."""

    def __init__(
        self,
        *,
        out: TextIO | None = None,
        max_traces: int = 1000,
        max_spans_per_trace: int = 1000,
    ) -> None:
        if max_traces < 1 or max_spans_per_trace < 1:
            raise ValueError("max_traces and max_spans_per_trace must be at least 1")
        self._out = out
        self._max_traces = max_traces
        self._max_spans = max_spans_per_trace
        self._lock = threading.Lock()
        # Insertion order is arrival order, so the first entry is the one to evict.
        self._pending: OrderedDict[int, _TraceBuffer] = OrderedDict()
        self._printed: OrderedDict[int, None] = OrderedDict()
        self._is_shut_down = False
        self._failure_logged = False

    # --- SpanExporter ---

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._is_shut_down:
            return SpanExportResult.FAILURE
        try:
            with self._lock:
                colour = self._colour()
                self._write(self._accept(spans, colour))
        except Exception:
            # The span processors would log every raised exception with a traceback; a console that
            # cannot be written to (closed at exit, broken pipe) must not flood the app's own logs.
            self._log_failure_once()
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        try:
            with self._lock:
                colour = self._colour()
                lines: list[str] = []
                while self._pending:
                    lines.extend(self._release(next(iter(self._pending)), colour))
                self._write(lines)
        except Exception:
            self._log_failure_once()
            return False
        return True

    def shutdown(self) -> None:
        if self._is_shut_down:
            return
        self.force_flush()
        self._is_shut_down = True

    # --- buffering ---

    def _accept(self, spans: Iterable[ReadableSpan], colour: bool) -> list[str]:
        lines: list[str] = []
        completed: list[int] = []
        for span in spans:
            trace_id = span.context.trace_id
            if trace_id in self._printed:
                lines.append(f"trace {trace_id:032x} late span: {self._span_text(span, colour)}")
                continue
            buffer = self._pending.get(trace_id)
            if buffer is None:
                buffer = self._pending[trace_id] = _TraceBuffer()
            is_root = _is_local_root(span)
            # A root is always kept, past the cap too: it is what lets the trace be printed and freed.
            if is_root or len(buffer.spans) < self._max_spans:
                buffer.spans.append(span)
            else:
                buffer.dropped += 1
            if is_root and not buffer.complete:
                buffer.complete = True
                completed.append(trace_id)
        # Printing at the end of the batch rather than on the root lets children that come after their
        # root in the same batch still join the tree.
        for trace_id in completed:
            lines.extend(self._release(trace_id, colour))
        while len(self._pending) > self._max_traces:
            lines.extend(self._release(next(iter(self._pending)), colour))
        return lines

    def _release(self, trace_id: int, colour: bool) -> list[str]:
        buffer = self._pending.pop(trace_id)
        self._printed[trace_id] = None
        if len(self._printed) > self._max_traces:
            self._printed.popitem(last=False)
        return self._render(trace_id, buffer, colour)

    # --- rendering ---

    def _render(self, trace_id: int, buffer: _TraceBuffer, colour: bool) -> list[str]:
        spans = buffer.spans
        span_ids = {span.context.span_id for span in spans}
        children: dict[int, list[ReadableSpan]] = {}
        roots: list[ReadableSpan] = []
        for span in spans:
            parent = span.parent
            # Spans whose parent never reached us (still running, dropped, or evicted) hang off the trace.
            if parent is None or parent.is_remote or parent.span_id not in span_ids:
                roots.append(span)
            else:
                children.setdefault(parent.span_id, []).append(span)

        lines = [self._header(trace_id, buffer, roots)]
        # Iterative on purpose: a deep chain of spans must not hit the recursion limit.
        stack: list[tuple[ReadableSpan, str, bool]] = []

        def push(nodes: list[ReadableSpan], indent: str) -> None:
            ordered = sorted(nodes, key=_start)
            stack.extend(
                (node, indent, i == len(ordered) - 1) for i, node in reversed(list(enumerate(ordered)))
            )

        push(roots, "")
        while stack:
            span, indent, last = stack.pop()
            guide = self._paint(indent + (_LAST if last else _MIDDLE), _DIM, colour)
            lines.append(guide + self._span_text(span, colour))
            below = indent + (_BLANK if last else _BAR)
            lines.extend(
                self._paint(below + "· ", _DIM, colour) + _event_text(event)
                for event in span.events
                if event.name.startswith(_POLICY_EVENT_PREFIX)
            )
            push(children.get(span.context.span_id, []), below)
        if buffer.dropped:
            lines.append(f"… {buffer.dropped} more spans not shown (max_spans_per_trace={self._max_spans})")
        return lines

    @staticmethod
    def _header(trace_id: int, buffer: _TraceBuffer, roots: list[ReadableSpan]) -> str:
        header = f"trace {trace_id:032x}"
        for span in (*roots, *buffer.spans):
            service = span.resource.attributes.get(SERVICE_NAME)
            if service:
                header += f" ({service})"
                break
        starts = [span.start_time for span in buffer.spans if span.start_time is not None]
        ends = [span.end_time for span in buffer.spans if span.end_time is not None]
        if starts and ends:
            header += " " + format_duration(_seconds(min(starts), max(ends)))
        if not buffer.complete:
            header += " (incomplete)"
        return header

    def _span_text(self, span: ReadableSpan, colour: bool) -> str:
        attrs = span.attributes or {}
        is_genai = semconv.OPERATION_NAME in attrs
        name = span.name
        response_model = attrs.get(semconv.RESPONSE_MODEL)
        if is_genai and response_model and response_model != attrs.get(semconv.REQUEST_MODEL):
            name += f" → {response_model}"
        parts = [name, format_duration(_seconds(span.start_time, span.end_time))]
        if is_genai:
            parts.extend(_genai_details(attrs))
        if span.status.status_code is StatusCode.ERROR:
            reason = attrs.get(semconv.ERROR_TYPE) or span.status.description
            parts.append(self._paint(f"✗ {reason}" if reason else "✗", _RED, colour))
        return "  ".join(parts)

    # --- output ---

    def _stream(self) -> TextIO:
        # Looked up on every write so that a replaced sys.stdout (pytest's capsys, a redirect) is honoured.
        return self._out if self._out is not None else sys.stdout

    def _colour(self) -> bool:
        try:
            return self._stream().isatty()
        except (AttributeError, ValueError):
            return False

    @staticmethod
    def _paint(text: str, code: str, colour: bool) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    def _write(self, lines: list[str]) -> None:
        if not lines:
            return
        stream = self._stream()
        stream.write("".join(line + "\n" for line in lines))
        stream.flush()

    def _log_failure_once(self) -> None:
        if not self._failure_logged:
            self._failure_logged = True
            _logger.debug("agentops console exporter failed; further failures are not logged", exc_info=True)


_POLICY_EVENT_PREFIX = "agentops."


def _event_text(event: Event) -> str:
    """A policy event (retry, breaker rejection, rate-limit wait, fallback) on one line under its span."""
    details = []
    for key, value in (event.attributes or {}).items():
        short = key.rpartition(".")[2] if key.startswith(_POLICY_EVENT_PREFIX) else key
        shown = f"{value:.3g}" if isinstance(value, float) else value
        details.append(f"{short} {shown}")
    return f"{event.name}  " + ", ".join(details) if details else event.name


def format_cost(cost: float) -> str:
    """USD with enough decimals to show two significant digits: an embedding costs $0.00000026, not $0."""
    if cost <= 0:
        return "$0"
    decimals = max(6, 1 - math.floor(math.log10(cost)))
    return f"${cost:.{decimals}f}"
