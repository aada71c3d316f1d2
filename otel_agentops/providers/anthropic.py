"""Anthropic (and Claude on Bedrock / Vertex through the same SDK): patch points and extractors.

Patched, sync and async, on `messages` and on `beta.messages` where the SDK has them:

* `create` (with ``stream=True`` it returns a `Stream` / `AsyncStream` of raw events, which is proxied);
* `parse` (structured output; it posts the request itself, it does not go through `create`);
* `stream()`, the helper that returns a `MessageStreamManager`. The manager sends the request itself in
  ``__enter__`` (``self._post``, not `create`), so it is instrumented on its own: the span starts when
  ``.stream()`` is called, the request is sent with that span current, and the raw event stream the helper's
  `MessageStream` reads is replaced by our stream proxy. `text_stream`, `get_final_message()`, leaving the
  ``with`` block early, errors and the async twin therefore all end the span exactly once. With a policy
  configured the policy chain runs on enter too (`wrapping.Pending`): each attempt enters a fresh manager,
  so retry, breaker, rate limit, balancing and fallback act on the real request, before the stream is
  handed over.
* `with_raw_response` / `with_streaming_response` call the patched `create` and get their raw response back
  unchanged (proxied only to see the parse / close that ends the span); `beta.messages` threads and tool
  runners go through the patched beta `create` / `parse` / `stream`.

Not patched: `count_tokens` and the model list (not LLM calls).

Token usage: Anthropic's ``input_tokens`` excludes cached tokens; ``gen_ai.usage.input_tokens`` is the whole
prompt as the semantic conventions define it (``input_tokens + cache_read_input_tokens +
cache_creation_input_tokens``), and the cost is computed from that total with the cached parts priced as cache
reads / writes (`otel_agentops.genai.cost` convention), so nothing is counted twice.

Anthropic's own tracing: anthropic 2.x starts its own ``anthropic.messages.create`` CLIENT span for every call
when a global TracerProvider exists (`anthropic/_tracing.py`; switched off only by ``ANTHROPIC_OPEN_TELEMETRY=
false`` or the client's ``open_telemetry`` option) and injects that span's ``traceparent`` into the request.
Under this instrumentation that would be a second LLM span per call. Decision: the user sees ONE span, ours.
Each client's SDK tracer is wrapped (when the SDK resolves it, and for clients that resolved it before we were
instrumented, on their next call) so that a span the SDK starts while one of our LLM spans is the current span
is a non-recording stand-in carrying our span's context. Consequences:

* no ``anthropic.messages.create`` span is recorded for an instrumented call, and nothing else about the
  request changes: the SDK still injects ``traceparent`` (unless its ``propagation`` option is off), and it
  now names our span, the current span during the call, exactly as standard HTTP instrumentation would;
* spans the SDK starts outside our calls (tool-runner spans, files, batches, ``count_tokens``, ...) are
  untouched, and a client's ``open_telemetry`` / ``ANTHROPIC_OPEN_TELEMETRY`` settings keep working for them;
* the environment and the clients' options are not modified. To get Anthropic's own LLM spans instead of
  ours, disable this instrumentor (``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=agentops_anthropic``).
"""

from __future__ import annotations

import importlib
import inspect
import json
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace

from otel_agentops.genai import semconv
from otel_agentops.genai.call import GenAICall
from otel_agentops.genai.endpoint import Endpoints
from otel_agentops.genai.failsafe import report_internal_error
from otel_agentops.genai.fields import Arguments, field
from otel_agentops.genai.results import finisher
from otel_agentops.genai.sdk_tracing import DeferringTracer
from otel_agentops.genai.stream import AsyncStreamProxy, SyncStreamProxy
from otel_agentops.genai.telemetry import Telemetry
from otel_agentops.genai.wrapping import Operation, Pending
from otel_agentops.providers.base import PatchPoint, ProviderInstrumentor

_INSTRUMENTS = ("anthropic >= 0.40.0, < 3",)
_PROVIDER = "anthropic"
# Older SDKs do not declare `_gen_ai_provider_name` on their client classes; their class names do.
_CLASS_PROVIDERS = (("Bedrock", "aws.bedrock"), ("Vertex", "gcp.vertex_ai"))

# (request kwarg, span attribute) for the plain numeric request parameters.
_PARAMS = (
    ("temperature", semconv.REQUEST_TEMPERATURE),
    ("top_p", semconv.REQUEST_TOP_P),
    ("top_k", semconv.REQUEST_TOP_K),
    ("max_tokens", semconv.REQUEST_MAX_TOKENS),
)
# Content blocks in which the model asks the app to run a tool (counted as requested tool calls).
_CLIENT_TOOL_USE = "tool_use"
_TOOL_CALL_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})


_given = Arguments()
_field = field


# ---------------------------------------------------------------- the SDK's own spans


def _deferring_get_tracer(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    """Wraps `anthropic._base_client.get_tracer`, which a client calls once to resolve its tracer."""
    tracer = wrapped(*args, **kwargs)
    if tracer is None or isinstance(tracer, DeferringTracer):
        return tracer
    return DeferringTracer(tracer)


def _defer_client_tracing(client: Any) -> None:
    """For a client that resolved its SDK tracer before we were instrumented: wrap it now."""
    tracer = getattr(client, "_lazy_tracer", None)
    if isinstance(tracer, trace.Tracer) and not isinstance(tracer, DeferringTracer):
        client._lazy_tracer = DeferringTracer(tracer)


# ---------------------------------------------------------------- request side


def _provider_of(client: Any, _host: str | None = None, _port: int | None = None) -> str:
    declared = getattr(type(client), "_gen_ai_provider_name", None)
    if isinstance(declared, str) and declared:
        return declared
    name = type(client).__name__
    return next((provider for marker, provider in _CLASS_PROVIDERS if marker in name), _PROVIDER)


_server = Endpoints(_provider_of)


def _begin(telemetry: Telemetry, instance: Any, kwargs: Mapping[str, Any], *, streaming: bool) -> GenAICall:
    client, provider, server_attrs = _server(instance)
    model = _given(kwargs, "model")
    attrs: dict[str, Any] = {
        semconv.OPERATION_NAME: semconv.OP_CHAT,
        semconv.PROVIDER_NAME: provider,
        **server_attrs,
    }
    if model:
        attrs[semconv.REQUEST_MODEL] = model
    extra_body = _given(kwargs, "extra_body")
    for key, attribute in _PARAMS:
        value = _given(kwargs, key)
        if value is None and isinstance(extra_body, Mapping):
            # anthropic 2.x dropped temperature / top_p / top_k from its signatures: they go in extra_body.
            value = extra_body.get(key)
        if value is not None:
            attrs[attribute] = value
    stop = _given(kwargs, "stop_sequences")
    if stop:
        attrs[semconv.REQUEST_STOP_SEQUENCES] = [stop] if isinstance(stop, str) else list(stop)
    if _is_json_output(kwargs):
        attrs[semconv.OUTPUT_TYPE] = "json"
    if streaming:
        attrs[semconv.REQUEST_STREAM] = True
    call = GenAICall(telemetry, semconv.OP_CHAT, provider, model, attrs)
    # From here on the call exists and must be returned: anything optional fails on its own.
    try:
        _defer_client_tracing(client)
        if streaming:
            call.stream_state = _StreamState()
        if telemetry.capture_content:
            call.set_content(semconv.SYSTEM_INSTRUCTIONS, _system_parts(_given(kwargs, "system")))
            call.set_content(semconv.INPUT_MESSAGES, _input_messages(_given(kwargs, "messages") or ()))
            call.set_content(semconv.TOOL_DEFINITIONS, _given(kwargs, "tools"))
    except Exception as exc:
        report_internal_error("request extraction", exc)
    return call


def _is_json_output(kwargs: Mapping[str, Any]) -> bool:
    if _given(kwargs, "output_format") is not None:  # parse() / stream() with a type, or the beta dict form
        return True
    return _field(_field(_given(kwargs, "output_config"), "format"), "type") == "json_schema"


def _begin_create(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    return _begin(telemetry, instance, kwargs, streaming=bool(_given(kwargs, "stream")))


def _begin_stream_helper(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    return _begin(telemetry, instance, kwargs, streaming=True)


# ---------------------------------------------------------------- content (opt-in) shapes


def _text_part(text: Any) -> dict[str, Any]:
    return {"type": "text", "content": text}


def _tool_result_response(content: Any) -> Any:
    if content is None or isinstance(content, str):
        return content
    blocks = []
    for block in content:
        kind = _field(block, "type")
        blocks.append({"type": "text", "text": _field(block, "text")} if kind == "text" else {"type": kind})
    return blocks


def _block_part(block: Any) -> dict[str, Any]:
    kind = _field(block, "type")
    if kind == "text":
        return _text_part(_field(block, "text"))
    if kind == "thinking":
        return {"type": "reasoning", "content": _field(block, "thinking")}
    if kind in _TOOL_CALL_BLOCKS:
        return {
            "type": "tool_call",
            "id": _field(block, "id"),
            "name": _field(block, "name"),
            "arguments": _field(block, "input"),
        }
    if isinstance(kind, str) and kind.endswith("tool_result"):
        return {
            "type": "tool_call_response",
            "id": _field(block, "tool_use_id"),
            "response": _tool_result_response(_field(block, "content")),
        }
    if kind == "image":
        source = _field(block, "source")
        if _field(source, "type") == "url":
            return {"type": "uri", "modality": "image", "uri": _field(source, "url")}
    return {"type": str(kind)}


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [_text_part(content)]
    return [_block_part(block) for block in content]


def _system_parts(system: Any) -> list[dict[str, Any]] | None:
    return _content_parts(system) or None


def _input_messages(messages: Any) -> list[dict[str, Any]]:
    return [
        {"role": _field(message, "role"), "parts": _content_parts(_field(message, "content"))}
        for message in messages
    ]


# ---------------------------------------------------------------- response side


def _apply_usage(call: GenAICall, usage: Any) -> None:
    """Anthropic's counts, turned into ours: input tokens are the whole prompt, cached parts included."""
    if usage is None:
        return
    uncached = _field(usage, "input_tokens") or 0
    cache_read = _field(usage, "cache_read_input_tokens") or 0
    cache_write = _field(usage, "cache_creation_input_tokens") or 0
    call.input_tokens = uncached + cache_read + cache_write
    call.cache_read_tokens = cache_read
    call.cache_write_tokens = cache_write
    call.output_tokens = _field(usage, "output_tokens")
    thinking = _field(_field(usage, "output_tokens_details"), "thinking_tokens")
    if thinking:
        call.reasoning_tokens = thinking


def _message_response(call: GenAICall, message: Any) -> None:
    call.response_id = _field(message, "id")
    call.response_model = _field(message, "model")
    _apply_usage(call, _field(message, "usage"))
    reason = _field(message, "stop_reason")
    if reason:
        call.finish_reasons = [reason]
    content = _field(message, "content") or ()
    for block in content:
        if _field(block, "type") == _CLIENT_TOOL_USE:
            call.add_tool_call(_field(block, "name"), _field(block, "id"))
    if call.telemetry.capture_content:
        call.output_messages = [
            {"role": "assistant", "parts": _content_parts(content), "finish_reason": reason}
        ]


class _StreamState:
    """What a raw event stream adds up to: the usage so far and, with content capture, the output parts."""

    __slots__ = ("json", "message", "parts", "usage")

    def __init__(self) -> None:
        # Cumulative counts: message_start has the prompt, message_delta the final output (and, on newer
        # API versions, the final prompt counts too).
        self.usage: dict[str, Any] = {}
        self.parts: dict[int, dict[str, Any]] = {}
        self.json: dict[int, list[str]] = {}
        self.message: dict[str, Any] | None = None


def _stream_event(call: GenAICall, event: Any) -> None:
    state: _StreamState = call.stream_state
    kind = _field(event, "type")
    if kind == "content_block_delta":
        if call.telemetry.capture_content:
            _content_delta(state, _field(event, "index") or 0, _field(event, "delta"))
    elif kind == "message_start":
        message = _field(event, "message")
        call.response_id = _field(message, "id")
        call.response_model = _field(message, "model")
        _merge_usage(call, state, _field(message, "usage"))
    elif kind == "content_block_start":
        block = _field(event, "content_block")
        block_kind = _field(block, "type")
        if block_kind == _CLIENT_TOOL_USE:
            call.add_tool_call(_field(block, "name"), _field(block, "id"))
        if call.telemetry.capture_content:
            _open_block(call, state, _field(event, "index") or 0, block)
    elif kind == "content_block_stop":
        _close_block(state, _field(event, "index") or 0)
    elif kind == "message_delta":
        reason = _field(_field(event, "delta"), "stop_reason")
        if reason:
            call.finish_reasons = [reason]
            if state.message is not None:
                state.message["finish_reason"] = reason
        _merge_usage(call, state, _field(event, "usage"))


_USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "output_tokens_details",
)


def _merge_usage(call: GenAICall, state: _StreamState, usage: Any) -> None:
    if usage is None:
        return
    for key in _USAGE_KEYS:
        value = _field(usage, key)
        if value is not None:
            state.usage[key] = value
    _apply_usage(call, state.usage)


def _open_block(call: GenAICall, state: _StreamState, index: int, block: Any) -> None:
    if state.message is None:
        state.message = {"role": "assistant", "parts": [], "finish_reason": None}
        call.output_messages = [state.message]
    part = _block_part(block)
    if part["type"] in ("text", "reasoning"):
        part["content"] = part["content"] or ""
    elif part["type"] == "tool_call":
        state.json[index] = []
    state.parts[index] = part
    state.message["parts"].append(part)


def _content_delta(state: _StreamState, index: int, delta: Any) -> None:
    part = state.parts.get(index)
    if part is None:
        return
    kind = _field(delta, "type")
    if kind == "text_delta":
        part["content"] += _field(delta, "text") or ""
    elif kind == "thinking_delta":
        part["content"] += _field(delta, "thinking") or ""
    elif kind == "input_json_delta" and index in state.json:
        fragments = state.json[index]
        fragments.append(_field(delta, "partial_json") or "")
        # Until the block closes (or if the stream is cut), the arguments are the JSON text received so far.
        part["arguments"] = "".join(fragments)


def _close_block(state: _StreamState, index: int) -> None:
    fragments = state.json.pop(index, None)
    if fragments is None:
        return
    text = "".join(fragments)
    try:
        state.parts[index]["arguments"] = json.loads(text) if text else {}
    except ValueError:
        state.parts[index]["arguments"] = text


def _stream_handler(_call: GenAICall) -> Any:
    return _stream_event


# ---------------------------------------------------------------- messages.stream() managers


def _finish_stream_manager(call: GenAICall, manager: Any, pending: Pending | None = None) -> Any:
    if hasattr(manager, "__aenter__"):
        return _AsyncStreamManager(manager, call, pending)
    return _SyncStreamManager(manager, call, pending)


def _abandon(call: GenAICall) -> None:
    call.end(abandoned=True)


def _enter(manager: Any) -> tuple[Any, Any]:
    """The send of one attempt under the policies: the attempt's own manager, and the stream it opened."""
    return manager, manager.__enter__()


async def _aenter(manager: Any) -> tuple[Any, Any]:
    return manager, await manager.__aenter__()


def _discard_unsent(manager: Any) -> None:
    """The async manager holds its request as a coroutine, made when `.stream()` was called. Under the
    policies every attempt sends from a manager of its own, so that coroutine is never awaited: closed
    here, or Python warns that it never was."""
    for value in vars(manager).values():
        if inspect.iscoroutine(value):
            value.close()


class _StreamManagerBase(wrapt.ObjectProxy):  # type: ignore[misc]
    """The SDK's stream manager; entering it sends the request under our span and proxies its event stream.

    With a `Pending` (a policy is configured) the request goes through the policy chain on enter: each
    attempt enters a fresh manager made by the SDK's `stream()` (another model for a fallback, the client's
    twin without SDK retries under our retry), and the one that opened its stream is the one exited. The
    manager the app holds is then only the face of the call: it is never entered itself."""

    def __init__(self, wrapped: Any, call: GenAICall, pending: Pending | None = None) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_pending = pending
        self._self_opened = wrapped  # the manager that sent the request: the one to exit
        # A manager that is never entered sent nothing; its span still has to end.
        self._self_finalizer = weakref.finalize(self, _abandon, call)

    def _self_entered(self, stream: Any) -> None:
        """Point the helper's `MessageStream` at our proxy of its raw event stream."""
        self._self_finalizer.detach()
        call = self._self_call
        raw = getattr(stream, "_raw_stream", None)
        if raw is None:
            # An SDK whose helper is built differently: the span ends when the manager exits.
            report_internal_error("stream helper", AttributeError("MessageStream has no _raw_stream"))
            return
        proxy = AsyncStreamProxy if hasattr(raw, "__anext__") else SyncStreamProxy
        stream._raw_stream = proxy(raw, call, _stream_event)

    def _self_failed(self, exc: BaseException) -> None:
        self._self_finalizer.detach()
        self._self_call.end(exc)

    def _self_exit(self, exc: BaseException | None) -> None:
        # An error raised while iterating already ended the call with it; an error in the app's own code
        # inside the `with` block ends it here (as for a stream used as a context manager).
        self._self_call.end(exc)


class _SyncStreamManager(_StreamManagerBase):
    def __enter__(self) -> Any:
        call = self._self_call
        pending = self._self_pending
        token = otel_context.attach(call.context)
        try:
            if pending is None:
                stream = self.__wrapped__.__enter__()
            else:
                self._self_pending = None  # the policies send this call once; its span ends with it
                self._self_opened, stream = pending.send_sync(call, _enter)
        except BaseException as exc:
            otel_context.detach(token)
            self._self_failed(exc)
            raise
        otel_context.detach(token)
        try:
            self._self_entered(stream)
        except Exception as exc:
            report_internal_error("stream helper", exc)
        return stream

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        if exc is not None:
            self._self_exit(exc)
        try:
            return self._self_opened.__exit__(exc_type, exc, tb)
        finally:
            self._self_exit(None)


class _AsyncStreamManager(_StreamManagerBase):
    async def __aenter__(self) -> Any:
        call = self._self_call
        pending = self._self_pending
        token = otel_context.attach(call.context)
        try:
            if pending is None:
                stream = await self.__wrapped__.__aenter__()
            else:
                self._self_pending = None  # the policies send this call once; its span ends with it
                try:
                    _discard_unsent(self.__wrapped__)
                except Exception as exc:
                    report_internal_error("stream helper", exc)
                self._self_opened, stream = await pending.send_async(call, _aenter)
        except BaseException as exc:
            otel_context.detach(token)
            self._self_failed(exc)
            raise
        otel_context.detach(token)
        try:
            self._self_entered(stream)
        except Exception as exc:
            report_internal_error("stream helper", exc)
        return stream

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        if exc is not None:
            self._self_exit(exc)
        try:
            return await self._self_opened.__aexit__(exc_type, exc, tb)
        finally:
            self._self_exit(None)


# ---------------------------------------------------------------- patch points

_CREATE = Operation(_begin_create, finisher(_message_response, _stream_handler))
_STREAM_HELPER = Operation(
    _begin_stream_helper, _finish_stream_manager, finish_pending=_finish_stream_manager
)

_MESSAGES_MODULES = ("anthropic.resources.messages", "anthropic.resources.beta.messages")
_TRACING_MODULE = "anthropic._base_client"


class AnthropicInstrumentor(ProviderInstrumentor):
    """Entry point `agentops_anthropic`."""

    library = "anthropic"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def patch_points(self) -> Sequence[PatchPoint]:
        import anthropic

        _given.load_sentinels(anthropic)
        points = []
        for module in _MESSAGES_MODULES:
            for method in ("create", "parse"):
                points.append(PatchPoint(module, "Messages", method, _CREATE, is_async=False))
                points.append(PatchPoint(module, "AsyncMessages", method, _CREATE, is_async=True))
            # Both managers are returned by a plain (sync) method; the async one sends on `__aenter__`.
            points.append(PatchPoint(module, "Messages", "stream", _STREAM_HELPER, is_async=False))
            points.append(PatchPoint(module, "AsyncMessages", "stream", _STREAM_HELPER, is_async=False))
        return points

    def _patch_now(self, **kwargs: Any) -> None:
        super()._patch_now(**kwargs)
        if not self._patched:
            return
        try:
            module = importlib.import_module(_TRACING_MODULE)
        except ImportError:
            return
        # SDKs that trace themselves (anthropic 2.x) resolve each client's tracer through this function.
        if callable(getattr(module, "get_tracer", None)):
            wrapt.wrap_function_wrapper(module, "get_tracer", _deferring_get_tracer)
            self._patched.append((module, "get_tracer"))
