"""Content redacted on export: a call's content is redacted in the batch export worker, not in the call.

Redaction of a new 4 KB prompt costs ~35 µs in a tight loop but 2-3 times that inside an SDK call, whose
work between two redactions leaves the redactor's code and tables cold in the CPU caches. The export
worker redacts one batch's content back to back instead (``benchmarks/content_cost.py``),
and the call itself only copies the containers of its content (``snapshot``), so that what the app
changes after the call cannot change what was recorded.

It applies only where every span processor of the span's provider hands spans to exporters through
``RedactingSpanExporter`` (what our configurator and ``tail_sampling_pipeline`` build), as far as we can
tell by looking (``exports_redacted``). Anywhere else (an app's own processor, a console exporter added by
hand, an SDK whose internals look different) content is redacted in the call, as before, so every
processor sees it. Content never waits unredacted where a processor could read it: the pending content
rides beside the span's attributes (``PENDING``), not among them, and only our exporter reads it.
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.sdk.trace import (
    ConcurrentMultiSpanProcessor,
    ReadableSpan,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
)
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

from otel_agentops.redaction import Redactor

PENDING = "_agentops_pending_content"
"""Where a span's ``PendingContent`` rides: on the span's attribute mapping, which the SDK hands on to the
``ReadableSpan`` it makes for the processors at the span's end (the span object itself stays behind), and
on our copies of such spans."""

READS_NO_CONTENT = "agentops_reads_no_content"
"""A span processor of an app's own that never reads content attributes (one that counts spans, say) may
say so with this class attribute set to True: it then does not stop content being redacted on export."""

_Watch = tuple[tuple[Any, Any], ...]


class PendingContent:
    """A call's content attributes, unencoded, until the first exporter that sees the span encodes them."""

    __slots__ = ("_encoded", "_items", "_max_length", "_redactor")

    def __init__(self, redactor: Redactor, max_length: int | None = None) -> None:
        self._redactor = redactor
        # The SDK's attribute length limit, which set_attribute would have applied in the call.
        self._max_length = max_length
        self._items: list[tuple[str, Any]] = []
        self._encoded: dict[str, str] | None = None

    def add(self, key: str, value: Any) -> bool:
        """Keeps ``value`` for export; False when it is to be redacted in the call instead (``snapshot``)."""
        try:
            copy = snapshot(value)
        except _InTheCall:
            return False
        self._items.append((key, copy))
        return True

    def attributes(self) -> dict[str, str]:
        """The content attributes, redacted and encoded once whatever the number of exporters."""
        encoded = self._encoded
        if encoded is not None:
            return encoded
        # Several exporters' workers may ask at once: one encodes, and the unredacted items go as soon as
        # it has, so that no copy of the span handed on downstream still holds them.
        with _ENCODING:
            if self._encoded is None:
                content_json = self._redactor.content_json
                encoded = {key: content_json(value, remember=False) for key, value in self._items}
                if self._max_length is not None:
                    encoded = {key: value[: self._max_length] for key, value in encoded.items()}
                self._encoded = encoded
                self._items = []
            return self._encoded


_ENCODING = threading.Lock()
# Content bigger than this (characters of its strings) is redacted in the call: waiting for export, the
# whole of it would stay in memory with every queued span, where the attribute is cut to
# OTEL_AGENTOPS_MAX_CONTENT_LENGTH.
MAX_PENDING_CHARS = 65_536
_LEAVES = frozenset({str, int, float, bool, type(None)})
# A GenAI span has some 25 attributes; under a count limit of this many, adding content on export could
# keep attributes the SDK would have evicted in the call (the default limit is 128).
_MIN_ATTRIBUTE_COUNT = 64


class _InTheCall(Exception):
    """Content that ``snapshot`` cannot copy faithfully: it is redacted in the call."""


def snapshot(value: Any) -> Any:
    """``value`` with its dictionaries, lists and tuples copied: what the app does to its own message list
    after the call (append the answer, edit a message) must not change what the call recorded.

    Only plain JSON-like data is copied. Anything else (an SDK or pydantic object, a named tuple, a dict
    subclass), which read later could give another answer or another shape, and content of more than
    ``MAX_PENDING_CHARS`` raise ``_InTheCall``.
    """
    try:
        return _copy(value, [MAX_PENDING_CHARS])
    except RecursionError:
        raise _InTheCall from None


def _copy(value: Any, budget: list[int]) -> Any:
    """``snapshot``'s walk; ``budget``: the characters of string still allowed."""
    kind = type(value)
    if kind is str:
        budget[0] -= len(value)
        if budget[0] < 0:
            raise _InTheCall
        return value
    if kind is dict:
        return {key: _copy(item, budget) for key, item in value.items()}
    if kind is list:
        return [_copy(item, budget) for item in value]
    if kind is tuple:
        return tuple([_copy(item, budget) for item in value])
    if kind in _LEAVES:
        return value
    raise _InTheCall


def attach(span: Any, redactor: Redactor) -> PendingContent | None:
    """New pending content where the exporter will find it; None where the SDK leaves no such place, or
    where its attribute count limit is low enough for content to change which attributes it keeps."""
    holder = getattr(span, "_attributes", None)
    max_count = getattr(holder, "maxlen", None)
    if isinstance(max_count, int) and max_count < _MIN_ATTRIBUTE_COUNT:
        return None
    max_length = getattr(holder, "max_value_len", None)
    pending = PendingContent(redactor, max_length if isinstance(max_length, int) else None)
    try:
        setattr(holder, PENDING, pending)
    except (AttributeError, TypeError):
        return None
    return pending


def detach(span: Any) -> None:
    """No content waits for export any longer (it was written in the call after all)."""
    holder = getattr(span, "_attributes", None)
    if getattr(holder, PENDING, None) is not None:
        setattr(holder, PENDING, None)


def pending_content(span: ReadableSpan) -> PendingContent | None:
    pending = getattr(span, PENDING, None)
    return getattr(getattr(span, "_attributes", None), PENDING, None) if pending is None else pending


class _Last:
    """The last span processor judged, what it and every multi-processor under it held then, and the
    verdict, as one tuple read and written whole (threads): a process has one provider, and the check
    per call must cost next to nothing."""

    verdict: tuple[Any, _Watch, bool] = (None, (), False)


def exports_redacted(span: Any) -> bool:
    """Whether every processor ``span`` ends in hands it to exporters through ``RedactingSpanExporter``."""
    processor = getattr(span, "_span_processor", None)
    if processor is None:
        return False
    judged, held, verdict = _Last.verdict
    # Processors can be added at any time: the verdict holds while no multi-processor's list changed.
    if judged is processor and all(multi._span_processors is members for multi, members in held):
        return verdict
    watch: list[tuple[Any, Any]] = []
    try:
        verdict = _redacts(processor, watch)
    except Exception:  # an SDK whose internals look different: content is redacted in the call
        verdict = False
    _Last.verdict = (processor, tuple(watch), verdict)
    return verdict


def _redacts(processor: SpanProcessor, watch: list[tuple[Any, Any]]) -> bool:
    from otel_agentops.sdk.export_guard import unwrap_exporter
    from otel_agentops.sdk.pipeline import behind_the_sampler
    from otel_agentops.sdk.redacting_export import RedactingSpanExporter
    from otel_agentops.sdk.tail_sampling import TailSamplingProcessor

    if isinstance(processor, SynchronousMultiSpanProcessor | ConcurrentMultiSpanProcessor):
        held = processor._span_processors
        watch.append((processor, held))
        return all(_redacts(each, watch) for each in held)
    if isinstance(processor, TailSamplingProcessor):
        return _redacts(processor.next_processor, watch)
    if behind_the_sampler(processor) or getattr(processor, READS_NO_CONTENT, False) is True:
        return True  # a stand-in that does nothing, or a processor that says it never reads content
    if isinstance(processor, BatchSpanProcessor):
        exporter = getattr(getattr(processor, "_batch_processor", None), "_exporter", None)
    elif isinstance(processor, SimpleSpanProcessor):
        exporter = getattr(processor, "span_exporter", None)
    else:
        return False
    return isinstance(unwrap_exporter(exporter), RedactingSpanExporter)
