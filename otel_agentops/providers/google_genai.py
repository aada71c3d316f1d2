"""google-genai (``from google import genai``): the Gemini API and Vertex AI through one SDK.

Patched, on `google.genai.models.Models` and `AsyncModels`: ``generate_content``, ``generate_content_stream``
and ``embed_content``. Where the SDK has them (feature detection, no version parsing), the private
``_generate_content`` / ``_generate_content_stream`` / ``_embed_content`` are patched instead of the public
methods: they send exactly one HTTP request each, whereas the public ones may loop (automatic function
calling runs the app's Python functions between requests). So:

* one span per request to the model: a call with automatic function calling gives one span per round trip,
  and a retry policy re-sends one request, never the app's functions;
* ``client.chats`` (``Chat.send_message`` / ``send_message_stream``, sync and async) goes through
  ``models.generate_content`` / ``generate_content_stream`` and gets one span per message, nothing more;
* streams: the request is sent inside the patched call, so that policies see a failed request (the async
  SDK sends it when ``generate_content_stream`` is awaited; for the sync SDK, whose generator would send it
  on the first iteration, the first chunk is read inside the call: the public generator reads it at that
  very moment anyway, so the app sees no difference). The span ends exactly once: when the stream is
  exhausted, on an error, or when the app closes (``close()`` / ``aclose()``) or drops the public
  generator, e.g. after breaking out of its loop. The public ``generate_content_stream`` is wrapped for that
  alone (no span of its own): the SDK reads our stream proxy in a plain loop, which does not close it, so
  the public generator hands its closing on to the streams read while the app advanced it.

Attributes: ``gen_ai.operation.name`` is ``generate_content`` (the semantic conventions' operation for Gemini)
or ``embeddings``; ``gen_ai.provider.name`` is ``gcp.gemini`` for the Gemini API and ``gcp.vertex_ai`` for a
Vertex AI client. A ``models/`` prefix on the model name is dropped (``models/gemini-2.0-flash`` is the model
``gemini-2.0-flash``). Request parameters come from ``config`` (a `GenerateContentConfig` or a dict).

Token usage (``usageMetadata``): input tokens are ``promptTokenCount`` (which already includes
``cachedContentTokenCount``) plus ``toolUsePromptTokenCount``; output tokens are ``candidatesTokenCount``
plus ``thoughtsTokenCount`` (thinking is billed as output; it is also reported as reasoning tokens). The
cached tokens are reported as cache reads and priced at the cache rate, within the input total, so they are
not counted twice. Finish reasons are the API's own values (``STOP``, ``MAX_TOKENS``, ``SAFETY``, ...).
Function calls are tool calls (their ``id`` when the API gives one; the Gemini API often does not).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import wrapt

from otel_agentops.genai import semconv
from otel_agentops.genai.call import GenAICall
from otel_agentops.genai.endpoint import url_attributes
from otel_agentops.genai.failsafe import report_internal_error
from otel_agentops.genai.fields import field
from otel_agentops.genai.results import finisher
from otel_agentops.genai.stream import ChunkHandler
from otel_agentops.genai.telemetry import Telemetry
from otel_agentops.genai.wrapping import Operation
from otel_agentops.providers.base import PatchPoint, ProviderInstrumentor

_INSTRUMENTS = ("google-genai >= 1.0, < 2",)
GEMINI = "gcp.gemini"
VERTEX_AI = "gcp.vertex_ai"
_MODULE = "google.genai.models"
_MODEL_PREFIX = "models/"
_MAX_SERVERS = 256

# (config field, span attribute) for the plain request parameters of generate_content.
_PARAMS = (
    ("temperature", semconv.REQUEST_TEMPERATURE),
    ("top_p", semconv.REQUEST_TOP_P),
    ("top_k", semconv.REQUEST_TOP_K),
    ("max_output_tokens", semconv.REQUEST_MAX_TOKENS),
    ("presence_penalty", semconv.REQUEST_PRESENCE_PENALTY),
    ("frequency_penalty", semconv.REQUEST_FREQUENCY_PENALTY),
    ("seed", semconv.REQUEST_SEED),
)
_JSON_MIME = "application/json"


# ---------------------------------------------------------------- request side


class _Servers:
    """(provider name, server attributes) per (base URL, Vertex AI or not), parsed once per pair.

    Keyed by value, not by the API client's identity: a freed client's id is reused by the next one,
    which may be a Vertex AI client on the same URL.
    """

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, bool], tuple[str, dict[str, Any]]] = {}

    def __call__(self, instance: Any, config: Any) -> tuple[str, dict[str, Any]]:
        api_client = getattr(instance, "_api_client", None)
        # A per-request base URL (config.http_options) wins over the client's.
        base_url = field(field(config, "http_options"), "base_url") or field(
            getattr(api_client, "_http_options", None), "base_url"
        )
        key = (base_url if isinstance(base_url, str) else None, bool(getattr(api_client, "vertexai", False)))
        cached = self._cache.get(key)
        if cached is None:
            attrs = dict(url_attributes(key[0])) if key[0] is not None else {}
            if len(self._cache) >= _MAX_SERVERS:
                self._cache.clear()
            cached = self._cache[key] = (VERTEX_AI if key[1] else GEMINI, attrs)
        return cached


_server = _Servers()


def _model_name(kwargs: Mapping[str, Any]) -> str | None:
    model = kwargs.get("model")
    if not isinstance(model, str) or not model:
        return None
    return model.removeprefix(_MODEL_PREFIX)


def _start(telemetry: Telemetry, instance: Any, operation: str, kwargs: Mapping[str, Any]) -> GenAICall:
    config = kwargs.get("config")
    provider, server_attrs = _server(instance, config)
    model = _model_name(kwargs)
    attrs: dict[str, Any] = {
        semconv.OPERATION_NAME: operation,
        semconv.PROVIDER_NAME: provider,
        **server_attrs,
    }
    if model:
        attrs[semconv.REQUEST_MODEL] = model
    return GenAICall(telemetry, operation, provider, model, attrs)


def _generation_attributes(config: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if config is None:
        return attrs
    for key, attribute in _PARAMS:
        value = field(config, key)
        if value is not None:
            attrs[attribute] = value
    stop = field(config, "stop_sequences")
    if stop:
        attrs[semconv.REQUEST_STOP_SEQUENCES] = list(stop)
    count = field(config, "candidate_count")
    if count is not None and count != 1:
        attrs[semconv.REQUEST_CHOICE_COUNT] = count
    schema = field(config, "response_schema") or field(config, "response_json_schema")
    mime = field(config, "response_mime_type")
    if mime == _JSON_MIME or schema is not None:
        attrs[semconv.OUTPUT_TYPE] = "json"
    elif mime == "text/plain":
        attrs[semconv.OUTPUT_TYPE] = "text"
    return attrs


def _begin_generate(
    telemetry: Telemetry, instance: Any, kwargs: Mapping[str, Any], *, stream: bool
) -> GenAICall:
    call = _start(telemetry, instance, semconv.OP_GENERATE_CONTENT, kwargs)
    # From here on the call exists and must be returned: anything optional fails on its own.
    try:
        config = kwargs.get("config")
        attrs = _generation_attributes(config)
        if stream:
            attrs[semconv.REQUEST_STREAM] = True
            call.stream_state = _GenerateStream()
        if attrs:
            call.span.set_attributes(attrs)
        if telemetry.capture_content:
            call.set_content(semconv.SYSTEM_INSTRUCTIONS, _system_parts(field(config, "system_instruction")))
            call.set_content(semconv.INPUT_MESSAGES, _input_messages(kwargs.get("contents")))
            call.set_content(semconv.TOOL_DEFINITIONS, _tool_definitions(field(config, "tools")))
    except Exception as exc:
        report_internal_error("request extraction", exc)
    return call


def _begin_generate_content(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    return _begin_generate(telemetry, instance, kwargs, stream=False)


def _begin_generate_content_stream(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    return _begin_generate(telemetry, instance, kwargs, stream=True)


def _begin_embed(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    call = _start(telemetry, instance, semconv.OP_EMBEDDINGS, kwargs)
    dimensions = field(kwargs.get("config"), "output_dimensionality")
    if dimensions is not None:
        call.span.set_attribute(semconv.EMBEDDINGS_DIMENSION_COUNT, dimensions)
    return call


# ---------------------------------------------------------------- content (opt-in) shapes


def _text_part(text: Any) -> dict[str, Any]:
    return {"type": "text", "content": text}


def _tool_call_part(function_call: Any) -> dict[str, Any]:
    return {
        "type": "tool_call",
        "id": field(function_call, "id"),
        "name": field(function_call, "name"),
        "arguments": field(function_call, "args"),
    }


def _part(part: Any) -> dict[str, Any]:
    if isinstance(part, str):
        return _text_part(part)
    text = field(part, "text")
    if text is not None:
        return {"type": "reasoning", "content": text} if field(part, "thought") else _text_part(text)
    function_call = field(part, "function_call")
    if function_call is not None:
        return _tool_call_part(function_call)
    function_response = field(part, "function_response")
    if function_response is not None:
        return {
            "type": "tool_call_response",
            "id": field(function_response, "id"),
            "response": field(function_response, "response"),
        }
    file_data = field(part, "file_data")
    if file_data is not None:
        return {
            "type": "uri",
            "uri": field(file_data, "file_uri"),
            "mime_type": field(file_data, "mime_type"),
        }
    inline = field(part, "inline_data")
    if inline is not None:  # the bytes themselves are never captured
        return {"type": "blob", "mime_type": field(inline, "mime_type")}
    return {"type": "unknown"}


def _parts(parts: Any) -> list[dict[str, Any]]:
    return [_part(part) for part in parts or ()]


def _role(role: Any, parts: list[dict[str, Any]]) -> str:
    if role == "model":
        return "assistant"
    if parts and all(part["type"] == "tool_call_response" for part in parts):
        return "tool"
    return role or "user"


def _input_messages(contents: Any) -> list[dict[str, Any]] | None:
    if contents is None:
        return None
    from google.genai import _transformers  # the SDK's own normalisation of the many `contents` forms

    messages = []
    for content in _transformers.t_contents(contents):
        parts = _parts(field(content, "parts"))
        messages.append({"role": _role(field(content, "role"), parts), "parts": parts})
    return messages


def _system_parts(system: Any) -> list[dict[str, Any]] | None:
    if system is None:
        return None
    if isinstance(system, list):
        return [_part(item) for item in system]
    parts = field(system, "parts")
    return _parts(parts) if parts is not None else [_part(system)]


def _tool_definitions(tools: Any) -> list[dict[str, Any]] | None:
    definitions = []
    for tool in tools or ():
        if callable(tool):  # automatic function calling: a Python function
            definitions.append({"type": "function", "name": getattr(tool, "__name__", str(tool))})
            continue
        for declaration in field(tool, "function_declarations") or ():
            definitions.append(
                {
                    "type": "function",
                    "name": field(declaration, "name"),
                    "description": field(declaration, "description"),
                    "parameters": _plain(
                        field(declaration, "parameters_json_schema") or field(declaration, "parameters")
                    ),
                }
            )
    return definitions or None


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(mode="json", exclude_none=True) if dump is not None else value


# ---------------------------------------------------------------- response side


def _reason(candidate: Any) -> str | None:
    reason = field(candidate, "finish_reason")
    if reason is None:
        return None
    return str(getattr(reason, "value", reason))


def _apply_usage(call: GenAICall, usage: Any) -> None:
    """Gemini's counts: the prompt count includes the cached tokens; thinking tokens are output."""
    if usage is None:
        return
    prompt = field(usage, "prompt_token_count")
    tool_prompt = field(usage, "tool_use_prompt_token_count") or 0
    if prompt is not None or tool_prompt:
        call.input_tokens = (prompt or 0) + tool_prompt
    cached = field(usage, "cached_content_token_count")
    if cached is not None:
        call.cache_read_tokens = cached
    candidates = field(usage, "candidates_token_count")
    thoughts = field(usage, "thoughts_token_count") or 0
    if candidates is not None or thoughts:
        call.output_tokens = (candidates or 0) + thoughts
    if thoughts:
        call.reasoning_tokens = thoughts


def _response_facts(call: GenAICall, response: Any) -> None:
    """What every response and every stream chunk may carry: ids, model and the usage so far."""
    call.response_id = field(response, "response_id") or call.response_id
    call.response_model = field(response, "model_version") or call.response_model
    _apply_usage(call, field(response, "usage_metadata"))


def _generate_response(call: GenAICall, response: Any) -> None:
    _response_facts(call, response)
    reasons = []
    outputs = [] if call.telemetry.capture_content else None
    for candidate in field(response, "candidates") or ():
        reason = _reason(candidate)
        reasons.append(reason or "")
        content_parts = field(field(candidate, "content"), "parts") or ()
        for part in content_parts:
            function_call = field(part, "function_call")
            if function_call is not None:
                call.add_tool_call(field(function_call, "name"), field(function_call, "id"))
        if outputs is not None:
            outputs.append({"role": "assistant", "parts": _parts(content_parts), "finish_reason": reason})
    if reasons:
        call.finish_reasons = reasons
    call.output_messages = outputs


class _GenerateStream:
    """What a stream's chunks add up to, per candidate index."""

    __slots__ = ("parts", "reasons")

    def __init__(self) -> None:
        self.reasons: dict[int, str] = {}
        # candidate index -> output parts, consecutive text (or reasoning) chunks merged into one part
        self.parts: dict[int, list[dict[str, Any]]] = {}

    def finish(self, call: GenAICall) -> None:
        if call.telemetry.capture_content:
            call.output_messages = [
                {
                    "role": "assistant",
                    "parts": self.parts.get(index, []),
                    "finish_reason": self.reasons.get(index),
                }
                for index in sorted(set(self.parts) | set(self.reasons))
            ]

    def add(self, index: int, part: dict[str, Any]) -> None:
        parts = self.parts.setdefault(index, [])
        if parts and part["type"] in ("text", "reasoning") and parts[-1]["type"] == part["type"]:
            parts[-1]["content"] += part["content"]
        else:
            parts.append(part)


def _generate_chunk(call: GenAICall, chunk: Any) -> None:
    state: _GenerateStream = call.stream_state
    _response_facts(call, chunk)
    capture = call.telemetry.capture_content
    for position, candidate in enumerate(field(chunk, "candidates") or ()):
        index = field(candidate, "index") or position
        reason = _reason(candidate)
        if reason:
            state.reasons[index] = reason
            call.finish_reasons = [state.reasons[i] for i in sorted(state.reasons)]
        for part in field(field(candidate, "content"), "parts") or ():
            function_call = field(part, "function_call")
            if function_call is not None:
                call.add_tool_call(field(function_call, "name"), field(function_call, "id"))
            if capture:
                state.add(index, _part(part))


def _embed_response(call: GenAICall, response: Any) -> None:
    embeddings = field(response, "embeddings") or ()
    tokens = [field(field(item, "statistics"), "token_count") for item in embeddings]
    counted = [count for count in tokens if count is not None]
    if counted:  # Vertex AI reports tokens per embedding; the Gemini API does not report them
        call.input_tokens = int(sum(counted))
    if embeddings:
        values = field(embeddings[0], "values")
        if isinstance(values, list):
            call.embedding_dimensions = len(values)


# ---------------------------------------------------------------- the public stream generators

# While the app advances one of the SDK's public stream generators, the streams our one-request patch points
# hand out are collected here, so that closing (or dropping) the public generator ends their spans.
_OWNER: ContextVar[list[Any] | None] = ContextVar("otel_agentops_google_genai_stream_owner", default=None)


def _owned(finish: Callable[[GenAICall, Any], Any]) -> Callable[[GenAICall, Any], Any]:
    def owned_finish(call: GenAICall, result: Any) -> Any:
        proxied = finish(call, result)
        owner = _OWNER.get()
        if owner is not None and proxied is not result:
            owner.append(proxied)
        return proxied

    return owned_finish


def _end_streams(streams: list[Any]) -> None:
    """The public generator was closed or collected: the app is done with the streams it was reading.

    A generator that is dropped is closed (Python's generator protocol), so this is a normal end, not an
    abandoned stream. Our proxies' `_self_end` ends each span once; a span already ended stays as it was.
    """
    for stream in streams:
        try:
            stream._self_end()
        except Exception as exc:
            report_internal_error("ending a stream", exc)


class _OwningStreamBase(wrapt.ObjectProxy):  # type: ignore[misc]
    """The SDK's public stream generator, unchanged for the app, that owns the streams it reads from.

    The SDK iterates our stream proxy in a plain ``for`` loop (automatic function calling) or through an
    ``async for``: neither closes it when the app breaks out of its loop or closes the generator.
    """

    def __init__(self, wrapped: Any, streams: list[Any]) -> None:
        super().__init__(wrapped)
        self._self_streams = streams
        weakref.finalize(self, _end_streams, streams)


class _OwningStream(_OwningStreamBase):
    def __iter__(self) -> _OwningStream:
        return self

    def __next__(self) -> Any:
        token = _OWNER.set(self._self_streams)
        try:
            return next(self.__wrapped__)
        finally:
            _OWNER.reset(token)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            _end_streams(self._self_streams)


class _AsyncOwningStream(_OwningStreamBase):
    def __aiter__(self) -> _AsyncOwningStream:
        return self

    async def __anext__(self) -> Any:
        token = _OWNER.set(self._self_streams)
        try:
            return await self.__wrapped__.__anext__()
        finally:
            _OWNER.reset(token)

    async def aclose(self) -> None:
        try:
            await self.__wrapped__.aclose()
        finally:
            _end_streams(self._self_streams)


def _primed(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    try:
        yield first
        yield from rest
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()


def _send_sync_stream_now(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    """The sync one-request stream method sends its request only when first iterated; read its first chunk
    at once, inside the patched call, so that a failed request fails the call there (policies such as retry
    and the circuit breaker see it, as for the async client). The app sees no difference: the SDK's public
    generator calls this method in its own first iteration and reads the first chunk right away."""
    generator = wrapped(*args, **kwargs)
    if not hasattr(generator, "__next__"):
        return generator
    try:
        first = next(generator)
    except StopIteration:
        return iter(())
    return _primed(first, generator)


def _sync_public_stream(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    generator = wrapped(*args, **kwargs)  # a generator: nothing is sent before the first iteration
    return _OwningStream(generator, []) if hasattr(generator, "__next__") else generator


async def _async_public_stream(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    streams: list[Any] = []
    token = _OWNER.set(streams)  # the request may be sent here already (no automatic function calling)
    try:
        generator = await wrapped(*args, **kwargs)
    finally:
        _OWNER.reset(token)
    return _AsyncOwningStream(generator, streams) if hasattr(generator, "__anext__") else generator


# ---------------------------------------------------------------- patch points


def _chunk_handler(_call: GenAICall) -> ChunkHandler:
    return _generate_chunk


_GENERATE = Operation(_begin_generate_content, finisher(_generate_response, _chunk_handler))
_GENERATE_STREAM = Operation(
    _begin_generate_content_stream, _owned(finisher(_generate_response, _chunk_handler))
)
_EMBED = Operation(_begin_embed, finisher(_embed_response, _chunk_handler))

# (public method, its one-request private twin, operation)
_METHODS = (
    ("generate_content", "_generate_content", _GENERATE),
    ("generate_content_stream", "_generate_content_stream", _GENERATE_STREAM),
    ("embed_content", "_embed_content", _EMBED),
)
_PUBLIC_STREAMS = (("Models", _sync_public_stream), ("AsyncModels", _async_public_stream))


class GoogleGenAIInstrumentor(ProviderInstrumentor):
    """Entry point `agentops_google_genai`."""

    library = "google.genai"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def patch_points(self) -> Sequence[PatchPoint]:
        from google.genai import models

        points = []
        for cls, is_async in (("Models", False), ("AsyncModels", True)):
            owner = getattr(models, cls, None)
            for public, private, operation in _METHODS:
                method = private if hasattr(owner, private) else public
                points.append(PatchPoint(_MODULE, cls, method, operation, is_async=is_async))
        return points

    def _patch_now(self, **kwargs: Any) -> None:
        from google.genai import models

        sync_owner = getattr(models, "Models", None)
        primed = hasattr(sync_owner, "_generate_content_stream")
        if primed:  # under the span's wrapper, which super() adds on top of this one
            wrapt.wrap_function_wrapper(sync_owner, "_generate_content_stream", _send_sync_stream_now)
        super()._patch_now(**kwargs)
        if primed:  # removed after the span's wrapper (`_unpatch_now` unwraps in this order)
            self._patched.append((sync_owner, "_generate_content_stream"))

        for cls, wrapper in _PUBLIC_STREAMS:
            owner = getattr(models, cls, None)
            # Only when the one-request method is patched: otherwise the public method is the patch point.
            if owner is None or (owner, "_generate_content_stream") not in self._patched:
                continue
            if hasattr(owner, "generate_content_stream"):
                wrapt.wrap_function_wrapper(owner, "generate_content_stream", wrapper)
                self._patched.append((owner, "generate_content_stream"))
