"""The GenAI call lifecycle: one object per LLM call owns its span, its metrics and its single end.

Provider modules create a `GenAICall` with the request attributes, fill in what they extract from the
response or the stream chunks, and call `end()`; everything that turns those facts into span attributes,
metric points and cost lives here, once, for every provider.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context, create_key, set_value
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from otel_agentops.genai import semconv, tool_joins
from otel_agentops.genai.conversation import conversation_id
from otel_agentops.genai.cost import call_cost
from otel_agentops.genai.errors import error_type
from otel_agentops.genai.failsafe import report_internal_error

if TYPE_CHECKING:
    from otel_agentops.genai.telemetry import Telemetry

ABANDONED = "abandoned"
_UNDECIDED = object()


def _deferred_content() -> Any:
    # Imported on the first content captured: the SDK pipeline's modules are not needed without it.
    from otel_agentops.sdk import deferred_content

    return deferred_content


# Exemplars (a metric point's link to a span) are taken for duration, time to first chunk and errors,
# where they lead from a slow or failed point to its trace. Token, cost and tool points get an empty
# context: the SDK's trace-based exemplar filter then rejects them at once, which saves ~1/4 of the
# metric-recording cost per call (measured with callgrind in benchmarks/).
_NO_EXEMPLAR = Context()
# The call, in the context its SDK method runs in: an instrumented client library called by another one
# (LiteLLM calling openai, an SDK method calling its own twin) then makes no second LLM span for the
# same request and the policies are applied once; an SDK's own tracer yields to the call's span
# (`sdk_tracing`); a provider's per-attempt code finds its call (bedrock).
IN_GENAI_CALL = create_key("agentops-genai-call")

# Request attributes repeated on every metric point (the semantic conventions' metric attributes).
_METRIC_KEYS = (
    semconv.OPERATION_NAME,
    semconv.PROVIDER_NAME,
    semconv.REQUEST_MODEL,
    semconv.SERVER_ADDRESS,
    semconv.SERVER_PORT,
)


class GenAICall:
    """Telemetry of one LLM call, from request to the one and only `end()`.

    Never raises into the caller: every method that does more than store a value catches its own
    failures, reports them once and still ends the span.
    """

    __slots__ = (
        "_end_hooks",
        "_ended",
        "_event_content",
        "_extra",
        "_pending",
        "_span_context",
        "_start",
        "cache_read_tokens",
        "cache_write_tokens",
        "context",
        "embedding_dimensions",
        "finish_reasons",
        "input_tokens",
        "metric_attributes",
        "output_messages",
        "output_tokens",
        "policy_finish",
        "provider",
        "reasoning_tokens",
        "request_model",
        "response_id",
        "response_model",
        "span",
        "stream_state",
        "telemetry",
        "time_to_first_chunk",
        "tool_call_ids",
        "tool_calls",
    )

    def __init__(
        self,
        telemetry: Telemetry,
        operation: str,
        provider: str,
        request_model: str | None,
        attributes: dict[str, AttributeValue],
    ) -> None:
        """`attributes` already holds every request attribute (operation, provider, model, server...)."""
        self.telemetry = telemetry
        self.provider = provider
        self.request_model = request_model
        self.metric_attributes = {key: attributes[key] for key in _METRIC_KEYS if key in attributes}
        conversation = conversation_id()
        if conversation is not None:
            attributes[semconv.CONVERSATION_ID] = conversation
        name = f"{operation} {request_model}" if request_model else operation
        self.span: Span = telemetry.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        self._span_context = trace.set_span_in_context(self.span)
        self.context: Context = set_value(IN_GENAI_CALL, self, self._span_context)
        self._start = perf_counter()
        self._ended = False
        self.response_model: str | None = None
        self.response_id: str | None = None
        self.finish_reasons: list[str] | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cache_read_tokens = 0
        self.cache_write_tokens = 0
        self.reasoning_tokens: int | None = None
        self.embedding_dimensions: int | None = None
        self.tool_calls: list[str] | None = None
        self.tool_call_ids: list[str] | None = None
        self.time_to_first_chunk: float | None = None
        self.output_messages: list[dict[str, Any]] | None = None
        self.stream_state: Any = None
        # Set by a policy that answered the call itself (a cache hit, a batch member): runs first in
        # `end`, before the usage is read, e.g. to say that no tokens were consumed.
        self.policy_finish: Callable[[GenAICall], None] | None = None
        self._end_hooks: list[Callable[[GenAICall], None]] | None = None
        self._extra: dict[str, AttributeValue] | None = None
        self._event_content: dict[str, str] | None = None
        # Content redacted on export (``sdk.deferred_content``): decided at the first content, then None
        # (redacted in the call) or the span's pending content.
        self._pending: Any = _UNDECIDED

    @property
    def ended(self) -> bool:
        return self._ended

    def first_chunk(self) -> None:
        if self.time_to_first_chunk is None:
            self.time_to_first_chunk = perf_counter() - self._start

    def add_tool_call(self, name: str, call_id: str | None = None) -> None:
        if self.tool_calls is None:
            self.tool_calls = [name]
        else:
            self.tool_calls.append(name)
        if call_id:
            if self.tool_call_ids is None:
                self.tool_call_ids = [call_id]
            else:
                self.tool_call_ids.append(call_id)

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """An attribute for the span, written with the others at the end (one SDK call, not one each)."""
        if self._extra is None:
            self._extra = {key: value}
        else:
            self._extra[key] = value

    def on_end(self, hook: Callable[[GenAICall], None]) -> None:
        """Run `hook(call)` once the response facts are in (e.g. to settle a token reservation)."""
        if self._end_hooks is None:
            self._end_hooks = [hook]
        else:
            self._end_hooks.append(hook)

    def set_content(self, key: str, value: object) -> None:
        """Record opt-in content (already in semantic-convention shape), redacted, on the span and/or for
        the call's log record, as the capture mode says."""
        telemetry = self.telemetry
        if not telemetry.capture_content or value is None:
            return
        try:
            pending = self._pending
            if pending is _UNDECIDED:
                pending = self._pending = self._pending_content()
            if pending is not None and pending.add(key, value):
                return
            encoded = telemetry.content_json(value)
            if telemetry.capture_on_span:
                # With the other attributes at the end: one SDK call for all, not one per content.
                self.set_attribute(key, encoded)
            if telemetry.capture_on_event:
                if self._event_content is None:
                    self._event_content = {}
                self._event_content[key] = encoded
        except Exception as exc:
            report_internal_error("content capture", exc)

    def _pending_content(self) -> Any:
        """Where this call's content waits for export, or None when it is to be redacted in the call: when
        it also goes to a log record (encoded once for both), or when the span may reach a processor that
        does not redact it on export."""
        telemetry = self.telemetry
        if not telemetry.capture_on_span or telemetry.capture_on_event:
            return None
        deferred = _deferred_content()
        if not deferred.exports_redacted(self.span):
            return None
        return deferred.attach(self.span, telemetry.redactor)

    def _settle_pending(self) -> None:
        """A processor that does not redact on export may have been added since the call began (a
        stream's calls last): then its content is written in the call after all, for every processor."""
        deferred = _deferred_content()
        if deferred.exports_redacted(self.span):
            return
        encoded = self._pending.attributes()
        deferred.detach(self.span)
        self._pending = None
        for key, value in encoded.items():
            self.set_attribute(key, value)

    def end(self, error: BaseException | None = None, *, abandoned: bool = False) -> None:
        """End the span and record the metrics, exactly once whatever calls it first."""
        if self._ended:
            return
        self._ended = True
        try:
            self._finish(error, abandoned)
        except Exception as exc:
            report_internal_error("ending the GenAI span", exc)
        finally:
            self.span.end()
        if self._end_hooks is not None:
            for hook in self._end_hooks:
                try:
                    hook(self)
                except Exception as exc:
                    report_internal_error("call end hook", exc)
        # The call's context holds the call itself: a reference cycle that would leave every call and its
        # span to the garbage collector (whose full passes over the app's heap cost more per call than
        # most of our telemetry). Once ended, the call no longer needs to be found from its context.
        self.context = self._span_context

    def _finish(self, error: BaseException | None, abandoned: bool) -> None:
        duration = perf_counter() - self._start
        # A provider's stream state may assemble what it accumulated (e.g. output messages) once, here,
        # rather than on every chunk.
        # (Checked for None first: getattr(None, ...) formats an AttributeError on every call.)
        if self.stream_state is not None:
            finish_stream = getattr(self.stream_state, "finish", None)
            if finish_stream is not None:
                finish_stream(self)
        if self.policy_finish is not None:
            self.policy_finish(self)
        if self.output_messages is not None:
            self.set_content(semconv.OUTPUT_MESSAGES, self.output_messages)
        if self._pending is not _UNDECIDED and self._pending is not None:
            self._settle_pending()
        span = self.span
        metrics = self.telemetry.metrics
        attrs: dict[str, AttributeValue] = self._extra if self._extra is not None else {}
        metric_attrs = dict(self.metric_attributes)
        if self.response_model:
            attrs[semconv.RESPONSE_MODEL] = metric_attrs[semconv.RESPONSE_MODEL] = self.response_model
        if self.response_id:
            attrs[semconv.RESPONSE_ID] = self.response_id
        if self.finish_reasons:
            attrs[semconv.RESPONSE_FINISH_REASONS] = self.finish_reasons
        if self.time_to_first_chunk is not None:
            attrs[semconv.RESPONSE_TIME_TO_FIRST_CHUNK] = self.time_to_first_chunk
        if self.embedding_dimensions is not None:
            attrs[semconv.EMBEDDINGS_DIMENSION_COUNT] = self.embedding_dimensions
        if self.tool_calls:
            attrs[semconv.REQUEST_TOOL_CALLS] = self.tool_calls
            if self.tool_call_ids and len(self.tool_call_ids) == len(self.tool_calls):
                attrs[semconv.RESPONSE_TOOL_CALL_IDS] = self.tool_call_ids
                tool_joins.remember(
                    self.span.get_span_context().trace_id,
                    zip(self.tool_calls, self.tool_call_ids, strict=False),
                )
        cost = self._usage_attributes(attrs)

        err_type: str | None = None
        if error is not None:
            err_type = error_type(error)
            span.set_status(Status(StatusCode.ERROR, self.telemetry.error_description(error)))
        elif abandoned:
            err_type = ABANDONED
            attrs[semconv.STREAM_ABANDONED] = True
            span.set_status(Status(StatusCode.ERROR, "stream was garbage-collected before it was consumed"))
        if err_type is not None:
            attrs[semconv.ERROR_TYPE] = metric_attrs[semconv.ERROR_TYPE] = err_type
        span.set_attributes(attrs)
        if self.telemetry.events is not None:
            self._emit_events(attrs, metric_attrs, error)

        ctx = self.context
        metrics.duration.record(duration, metric_attrs, context=ctx)
        if err_type is not None:
            metrics.errors.add(1, metric_attrs, context=ctx)
        if self.time_to_first_chunk is not None:
            metrics.time_to_first_chunk.record(self.time_to_first_chunk, metric_attrs, context=ctx)
        if self.input_tokens is not None:
            metrics.token_usage.record(
                self.input_tokens, {**metric_attrs, semconv.TOKEN_TYPE: "input"}, context=_NO_EXEMPLAR
            )
        if self.output_tokens is not None:
            metrics.token_usage.record(
                self.output_tokens, {**metric_attrs, semconv.TOKEN_TYPE: "output"}, context=_NO_EXEMPLAR
            )
        if cost is not None:
            metrics.cost.record(cost, metric_attrs, context=_NO_EXEMPLAR)
        elif semconv.COST_UNPRICED in attrs:
            metrics.unpriced_calls.add(1, metric_attrs, context=_NO_EXEMPLAR)
        if self.tool_calls:
            for name in self.tool_calls:
                metrics.tool_calls.add(name, "requested")

    def _emit_events(
        self, attrs: dict[str, AttributeValue], metric_attrs: dict[str, Any], error: BaseException | None
    ) -> None:
        events = self.telemetry.events
        assert events is not None
        record: dict[str, Any] = {**metric_attrs, **attrs}
        if self._event_content is not None:
            record.update(self._event_content)
        events.details(self.context, record)
        if error is not None:
            events.error(self.context, metric_attrs, self.telemetry.error_description(error))

    def _usage_attributes(self, attrs: dict[str, AttributeValue]) -> float | None:
        """Token attributes and the cost; returns the cost when the model is priced."""
        input_tokens, output_tokens = self.input_tokens, self.output_tokens
        if input_tokens is None and output_tokens is None:
            return None
        if input_tokens is not None:
            attrs[semconv.USAGE_INPUT_TOKENS] = input_tokens
        if output_tokens is not None:
            attrs[semconv.USAGE_OUTPUT_TOKENS] = output_tokens
        if self.cache_read_tokens:
            attrs[semconv.USAGE_CACHE_READ_INPUT_TOKENS] = self.cache_read_tokens
        if self.cache_write_tokens:
            attrs[semconv.USAGE_CACHE_CREATION_INPUT_TOKENS] = self.cache_write_tokens
        if self.reasoning_tokens:
            attrs[semconv.USAGE_REASONING_OUTPUT_TOKENS] = self.reasoning_tokens
        cost = None
        # The response names the exact snapshot (gpt-4o-mini-2024-07-18); the price data may only know
        # the alias that was requested, so fall back to it rather than call the model unpriced.
        for model in (self.response_model, self.request_model):
            if model:
                cost = call_cost(
                    self.provider,
                    model,
                    input_tokens or 0,
                    output_tokens or 0,
                    self.cache_read_tokens,
                    self.cache_write_tokens,
                )
                if cost is not None:
                    break
        if cost is None:
            attrs[semconv.COST_UNPRICED] = True
        else:
            attrs[semconv.USAGE_COST] = cost
        return cost
