"""Cohere (`cohere` 5.x SDK, v2 API): patch points and request / response / stream extractors.

Patched, on `cohere.v2.client.V2Client` and `AsyncV2Client` (what `cohere.ClientV2` / `AsyncClientV2` and
the v1 client's `.v2` call):

* `chat` (sync and async);
* `chat_stream`: a generator (sync) or an async generator (async; NOT awaited, so it is patched as a plain
  function) of typed events (``message-start``, ``content-delta``, ``tool-plan-delta``,
  ``tool-call-start`` / ``-delta`` / ``-end``, ``message-end`` with the usage...). The request is sent when
  the app first iterates, so an HTTP or connection error surfaces, and ends the span, there. The app gets
  the generator back proxied; the span ends exactly once on exhaustion, ``close()`` / ``aclose()``, an
  error, or garbage collection (abandoned);
* `embed` (v2).

Semantics:

* `gen_ai.provider.name` is `cohere`; `server.address` / `server.port` come from the client's base URL.
* Token usage: a chat reply has ``usage.billed_units`` (what is charged) and ``usage.tokens`` (what the model
  read, including Cohere's own system preamble, so usually far more input tokens). `gen_ai.usage.*` and the
  cost are the billed units, which is what the price list and the user's bill count; ``tokens`` is only used
  when a reply has no billed units. ``usage.cached_tokens`` is the cache-read count.
* Cohere replies do not name the model: there is no `gen_ai.response.model` and the cost is looked up by the
  requested model. Finish reasons are Cohere's own (``COMPLETE``, ``TOOL_CALL``, ``MAX_TOKENS``, ...).
* Parameters: ``p`` is top_p, ``k`` top_k; `embedding_types` are the encoding formats.
* With content capture, a tool plan is recorded as a ``reasoning`` part of the output message.

Not patched: the v1 API (`cohere.Client.chat` / `generate` / `embed`), `rerank`, `with_raw_response`.
The SDK retries 429 / 5xx by itself (``request_options={"max_retries": ...}``, default 2).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from otel_agentops.genai import semconv
from otel_agentops.genai.call import GenAICall
from otel_agentops.genai.endpoint import UrlEndpoints
from otel_agentops.genai.fields import Arguments, field
from otel_agentops.genai.results import finisher
from otel_agentops.genai.stream import AsyncGeneratorProxy, ChunkHandler, SyncStreamProxy
from otel_agentops.genai.telemetry import Telemetry
from otel_agentops.genai.wrapping import Operation
from otel_agentops.providers import openai as openai_shapes
from otel_agentops.providers.base import PatchPoint, ProviderInstrumentor

_INSTRUMENTS = ("cohere >= 5.10, < 6",)
PROVIDER = "cohere"
_MODULE = "cohere.v2.client"

_CHAT_PARAMS = (
    ("temperature", semconv.REQUEST_TEMPERATURE),
    ("p", semconv.REQUEST_TOP_P),
    ("k", semconv.REQUEST_TOP_K),
    ("max_tokens", semconv.REQUEST_MAX_TOKENS),
    ("seed", semconv.REQUEST_SEED),
    ("frequency_penalty", semconv.REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", semconv.REQUEST_PRESENCE_PENALTY),
)
_JSON_FORMATS = frozenset({"json_object", "json_schema"})
# The embedding types whose vectors have one value per dimension.
_VECTOR_TYPES = ("float_", "float", "int8", "uint8")

# The SDK's "not given" default is `...` (OMIT).
_given = Arguments()
_given.sentinels = (type(...),)


def _base_url(instance: Any) -> str | None:
    wrapper = getattr(instance, "_client_wrapper", None) or getattr(
        getattr(instance, "_raw_client", None), "_client_wrapper", None
    )
    get_base_url = getattr(wrapper, "get_base_url", None)
    return get_base_url() if get_base_url is not None else None


_server = UrlEndpoints(PROVIDER, _base_url)


# ---------------------------------------------------------------- request side


def _begin_chat(
    telemetry: Telemetry, instance: Any, kwargs: Mapping[str, Any], *, streaming: bool
) -> GenAICall:
    call = openai_shapes._start_call(
        telemetry, instance, semconv.OP_CHAT, kwargs, _CHAT_PARAMS, _server, _given
    )
    span = call.span
    stop = _given(kwargs, "stop_sequences")
    if stop:
        span.set_attribute(semconv.REQUEST_STOP_SEQUENCES, list(stop))
    if field(_given(kwargs, "response_format"), "type") in _JSON_FORMATS:
        span.set_attribute(semconv.OUTPUT_TYPE, "json")
    if streaming:
        span.set_attribute(semconv.REQUEST_STREAM, True)
        call.stream_state = _Stream()
    if telemetry.capture_content:
        plain = [_plain(message) for message in _given(kwargs, "messages") or ()]
        system, messages = openai_shapes._chat_input_messages(plain)
        call.set_content(semconv.SYSTEM_INSTRUCTIONS, system or None)
        call.set_content(semconv.INPUT_MESSAGES, messages)
        tools = _given(kwargs, "tools")
        call.set_content(semconv.TOOL_DEFINITIONS, [_plain(tool) for tool in tools] if tools else None)
    return call


def _begin_chat_call(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    return _begin_chat(telemetry, instance, kwargs, streaming=False)


def _begin_chat_stream(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    return _begin_chat(telemetry, instance, kwargs, streaming=True)


def _begin_embed(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    call = openai_shapes._start_call(telemetry, instance, semconv.OP_EMBEDDINGS, kwargs, (), _server, _given)
    dimensions = _given(kwargs, "output_dimension")
    if dimensions is not None:
        call.span.set_attribute(semconv.EMBEDDINGS_DIMENSION_COUNT, dimensions)
    types = _given(kwargs, "embedding_types")
    if types:
        call.span.set_attribute(semconv.REQUEST_ENCODING_FORMATS, [str(t) for t in types])
    return call


def _plain(obj: Any) -> Any:
    """A typed request object (`cohere.ToolV2`, ...) as plain JSON data, for the content attributes."""
    dump = getattr(obj, "model_dump", None)
    return dump(exclude_none=True, by_alias=True) if dump is not None else obj


# ---------------------------------------------------------------- response side


def _count(value: Any) -> int | None:
    """Cohere's counts are floats in the SDK's models (``12.0``); token attributes are integers."""
    return None if value is None else int(value)


def _apply_usage(call: GenAICall, usage: Any) -> None:
    if usage is None:
        return
    billed = field(usage, "billed_units")
    counted = field(usage, "tokens")
    input_tokens = _count(field(billed, "input_tokens"))
    output_tokens = _count(field(billed, "output_tokens"))
    call.input_tokens = input_tokens if input_tokens is not None else _count(field(counted, "input_tokens"))
    call.output_tokens = (
        output_tokens if output_tokens is not None else _count(field(counted, "output_tokens"))
    )
    call.cache_read_tokens = _count(field(usage, "cached_tokens")) or 0


def _text_part(text: Any) -> dict[str, Any]:
    return {"type": "text", "content": text}


def _reasoning_part(text: Any) -> dict[str, Any]:
    return {"type": "reasoning", "content": text}


def _tool_call_parts(tool_calls: Iterable[Any]) -> list[dict[str, Any]]:
    parts = []
    for tool_call in tool_calls:
        function = field(tool_call, "function")
        parts.append(
            openai_shapes._tool_call_part(
                field(tool_call, "id"), field(function, "name"), field(function, "arguments")
            )
        )
    return parts


def _content_parts(content: Iterable[Any]) -> list[dict[str, Any]]:
    parts = []
    for item in content:
        kind = field(item, "type")
        if kind == "text":
            parts.append(_text_part(field(item, "text")))
        elif kind == "thinking":
            parts.append(_reasoning_part(field(item, "thinking")))
        else:
            parts.append({"type": str(kind)})
    return parts


def _chat_response(call: GenAICall, response: Any) -> None:
    call.response_id = field(response, "id")
    _apply_usage(call, field(response, "usage"))
    reason = field(response, "finish_reason")
    if reason:
        call.finish_reasons = [str(reason)]
    message = field(response, "message")
    tool_calls = field(message, "tool_calls") or ()
    for tool_call in tool_calls:
        name = field(field(tool_call, "function"), "name")
        if name:
            call.add_tool_call(name, field(tool_call, "id"))
    if call.telemetry.capture_content:
        plan = field(message, "tool_plan")
        parts = [_reasoning_part(plan)] if plan else []
        parts.extend(_content_parts(field(message, "content") or ()))
        parts.extend(_tool_call_parts(tool_calls))
        call.output_messages = [{"role": "assistant", "parts": parts, "finish_reason": reason}]


def _embed_response(call: GenAICall, response: Any) -> None:
    call.response_id = field(response, "id")
    meta = field(response, "meta")
    tokens = _count(field(field(meta, "billed_units"), "input_tokens"))
    call.input_tokens = tokens if tokens is not None else _count(field(field(meta, "tokens"), "input_tokens"))
    embeddings = field(response, "embeddings")
    if isinstance(embeddings, list):  # an older SDK's float-only response
        vectors = embeddings
    else:
        vectors = next((v for v in (field(embeddings, name) for name in _VECTOR_TYPES) if v), None)
    if vectors and isinstance(vectors[0], list):
        call.embedding_dimensions = len(vectors[0])


class _Stream:
    """What a chat stream's events add up to (the texts are only kept when content is captured)."""

    __slots__ = ("plan", "reason", "text", "thinking", "tool_calls")

    def __init__(self) -> None:
        self.plan: list[str] = []
        self.text: list[str] = []
        self.thinking: list[str] = []
        # tool index -> [id, name, argument fragments]
        self.tool_calls: dict[int, list[Any]] = {}
        self.reason: str | None = None

    def finish(self, call: GenAICall) -> None:
        """Called once when the call ends: the output message is assembled from the events only then."""
        if not call.telemetry.capture_content:
            return
        parts = [_reasoning_part("".join(pieces)) for pieces in (self.thinking, self.plan) if pieces]
        if self.text:
            parts.append(_text_part("".join(self.text)))
        for _index, (call_id, name, fragments) in sorted(self.tool_calls.items()):
            parts.append(openai_shapes._tool_call_part(call_id, name, "".join(fragments)))
        call.output_messages = [{"role": "assistant", "parts": parts, "finish_reason": self.reason}]


def _event(call: GenAICall, event: Any) -> None:
    state: _Stream = call.stream_state
    kind = field(event, "type")
    capture = call.telemetry.capture_content
    delta = field(event, "delta")
    message = field(delta, "message")
    if kind == "content-delta":
        if capture:
            content = field(message, "content")
            text, thinking = field(content, "text"), field(content, "thinking")
            if text:
                state.text.append(text)
            if thinking:
                state.thinking.append(thinking)
    elif kind == "tool-call-delta":
        entry = state.tool_calls.get(field(event, "index") or 0)
        fragment = field(field(field(message, "tool_calls"), "function"), "arguments")
        if capture and entry is not None and fragment:
            entry[2].append(fragment)
    elif kind == "tool-call-start":
        tool_call = field(message, "tool_calls")
        call_id, function = field(tool_call, "id"), field(tool_call, "function")
        name = field(function, "name")
        if name:
            call.add_tool_call(name, call_id)
        initial = field(function, "arguments")
        state.tool_calls[field(event, "index") or 0] = [call_id, name, [initial] if initial else []]
    elif kind == "tool-plan-delta":
        if capture:
            state.plan.append(field(message, "tool_plan") or "")
    elif kind == "message-start":
        call.response_id = field(event, "id")
    elif kind == "message-end":
        reason = field(delta, "finish_reason")
        if reason:
            state.reason = str(reason)
            call.finish_reasons = [state.reason]
        _apply_usage(call, field(delta, "usage"))


# ---------------------------------------------------------------- result handling


def _event_handler(_call: GenAICall) -> ChunkHandler:
    return _event


def _finish_stream(call: GenAICall, result: Any) -> Any:
    if hasattr(result, "__anext__"):
        return AsyncGeneratorProxy(result, call, _event)
    if hasattr(result, "__next__"):
        return SyncStreamProxy(result, call, _event)
    call.end()  # not a generator: an SDK whose chat_stream is built differently
    return result


def _no_sdk_retries(kwargs: dict[str, Any]) -> dict[str, Any]:
    options = kwargs.get("request_options")
    return {**kwargs, "request_options": {**(options if isinstance(options, dict) else {}), "max_retries": 0}}


_CHAT = Operation(_begin_chat_call, finisher(_chat_response, _event_handler), _no_sdk_retries)
# The stream's request goes out on its first iteration, after the chain: its SDK retries stay.
_CHAT_STREAM = Operation(_begin_chat_stream, _finish_stream)
_EMBED = Operation(_begin_embed, finisher(_embed_response, _event_handler), _no_sdk_retries)


class CohereInstrumentor(ProviderInstrumentor):
    """Entry point `agentops_cohere`."""

    library = "cohere"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def patch_points(self) -> Sequence[PatchPoint]:
        return (
            PatchPoint(_MODULE, "V2Client", "chat", _CHAT, is_async=False),
            PatchPoint(_MODULE, "AsyncV2Client", "chat", _CHAT, is_async=True),
            PatchPoint(_MODULE, "V2Client", "chat_stream", _CHAT_STREAM, is_async=False),
            # An async generator function: calling it returns the stream at once, without awaiting.
            PatchPoint(_MODULE, "AsyncV2Client", "chat_stream", _CHAT_STREAM, is_async=False),
            PatchPoint(_MODULE, "V2Client", "embed", _EMBED, is_async=False),
            PatchPoint(_MODULE, "AsyncV2Client", "embed", _EMBED, is_async=True),
        )
