"""Ollama (`ollama` client): patch points and request / response / stream extractors.

Patched: `Client.chat`, `Client.generate` (operation `text_completion`), `Client.embed`, and the same on
`AsyncClient`. The client returns typed objects (`ChatResponse`, ...; they also read like dicts); with
``stream=True`` it returns a generator (sync) or an async generator (async, after awaiting the call) of
chunks, which the app gets back proxied but unchanged. The sync generator sends its request only when first
iterated, so a connection or HTTP error of a streamed call surfaces (and ends the span) there.
Token usage comes from the final chunk / response (`prompt_eval_count`, `eval_count`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from otel_agentops.genai import semconv
from otel_agentops.genai.call import GenAICall
from otel_agentops.genai.endpoint import Endpoints
from otel_agentops.genai.failsafe import report_internal_error
from otel_agentops.genai.fields import field
from otel_agentops.genai.stream import AsyncGeneratorProxy, SyncStreamProxy
from otel_agentops.genai.telemetry import Telemetry
from otel_agentops.genai.wrapping import Operation
from otel_agentops.providers.base import PatchPoint, ProviderInstrumentor

_INSTRUMENTS = ("ollama >= 0.3.0, < 1",)
PROVIDER = "ollama"
_METHODS = ("chat", "generate", "embed")

# (`options` key, span attribute)
_OPTION_PARAMS = (
    ("temperature", semconv.REQUEST_TEMPERATURE),
    ("top_p", semconv.REQUEST_TOP_P),
    ("top_k", semconv.REQUEST_TOP_K),
    ("frequency_penalty", semconv.REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", semconv.REQUEST_PRESENCE_PENALTY),
    ("seed", semconv.REQUEST_SEED),
    ("num_predict", semconv.REQUEST_MAX_TOKENS),
)

# The client's base URL is on its httpx client, `instance._client`, which Endpoints reads.
_server = Endpoints(lambda _client, _host, _port: PROVIDER)


def _argument(args: tuple[Any, ...], kwargs: Mapping[str, Any], position: int, name: str) -> Any:
    """An argument the client accepts positionally too: `chat(model, messages)`, `embed(model, input)`."""
    if len(args) > position:
        return args[position]
    return kwargs.get(name)


# ---------------------------------------------------------------- request side


def _start_call(
    telemetry: Telemetry, instance: Any, operation: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> GenAICall:
    _client, provider, server_attrs = _server(instance)
    model = _argument(args, kwargs, 0, "model") or None
    attrs: dict[str, Any] = {
        semconv.OPERATION_NAME: operation,
        semconv.PROVIDER_NAME: provider,
        **server_attrs,
    }
    if model:
        attrs[semconv.REQUEST_MODEL] = model
    options = kwargs.get("options")
    if options is not None:
        for key, attribute in _OPTION_PARAMS:
            value = field(options, key)
            if value is not None:
                attrs[attribute] = value
        stop = field(options, "stop")
        if stop:
            attrs[semconv.REQUEST_STOP_SEQUENCES] = [stop] if isinstance(stop, str) else list(stop)
    output_format = kwargs.get("format")
    if output_format:  # "json" or a JSON schema
        attrs[semconv.OUTPUT_TYPE] = "json"
    if kwargs.get("stream"):
        attrs[semconv.REQUEST_STREAM] = True
    call = GenAICall(telemetry, operation, provider, model, attrs)
    if kwargs.get("stream"):
        call.stream_state = _Stream()
    return call


def _begin_chat(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    call = _start_call(telemetry, instance, semconv.OP_CHAT, args, kwargs)
    if telemetry.capture_content:
        system, messages = _input_messages(_argument(args, kwargs, 1, "messages") or ())
        call.set_content(semconv.SYSTEM_INSTRUCTIONS, system or None)
        call.set_content(semconv.INPUT_MESSAGES, messages)
        tools = kwargs.get("tools")
        if tools and not any(callable(tool) for tool in tools):
            call.set_content(semconv.TOOL_DEFINITIONS, [_plain(tool) for tool in tools])
    return call


def _begin_generate(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    call = _start_call(telemetry, instance, semconv.OP_TEXT_COMPLETION, args, kwargs)
    if telemetry.capture_content:
        system = kwargs.get("system")
        call.set_content(semconv.SYSTEM_INSTRUCTIONS, [_text_part(system)] if system else None)
        prompt = _argument(args, kwargs, 1, "prompt")
        if prompt:
            call.set_content(semconv.INPUT_MESSAGES, [{"role": "user", "parts": [_text_part(prompt)]}])
    return call


def _begin_embed(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    call = _start_call(telemetry, instance, semconv.OP_EMBEDDINGS, args, kwargs)
    dimensions = _argument(args, kwargs, 5, "dimensions")
    if dimensions is not None:
        call.span.set_attribute(semconv.EMBEDDINGS_DIMENSION_COUNT, dimensions)
    return call


# ---------------------------------------------------------------- content (opt-in) shapes


def _text_part(text: Any) -> dict[str, Any]:
    return {"type": "text", "content": text}


def _plain(obj: Any) -> Any:
    dump = getattr(obj, "model_dump", None)
    return dump(exclude_none=True) if dump is not None else obj


def _tool_call_parts(tool_calls: Iterable[Any] | None) -> list[dict[str, Any]]:
    parts = []
    for tool_call in tool_calls or ():
        function = field(tool_call, "function")
        parts.append(
            {
                "type": "tool_call",
                "id": field(tool_call, "id"),
                "name": field(function, "name"),
                "arguments": _plain(field(function, "arguments")),
            }
        )
    return parts


def _input_messages(messages: Iterable[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    converted: list[dict[str, Any]] = []
    for message in messages:
        role = field(message, "role")
        content = field(message, "content")
        if role == "system":
            system.append(_text_part(content))
            continue
        if role == "tool":
            parts = [{"type": "tool_call_response", "id": field(message, "tool_name"), "response": content}]
        else:
            parts = [_text_part(content)] if content else []
            parts.extend(_tool_call_parts(field(message, "tool_calls")))
        converted.append({"role": role, "parts": parts})
    return system, converted


# ---------------------------------------------------------------- response side


def _usage(call: GenAICall, response: Any) -> None:
    prompt_tokens = field(response, "prompt_eval_count")
    output_tokens = field(response, "eval_count")
    if prompt_tokens is not None:
        call.input_tokens = prompt_tokens
    if output_tokens is not None:
        call.output_tokens = output_tokens


def _add_tool_calls(call: GenAICall, tool_calls: Iterable[Any] | None) -> None:
    for tool_call in tool_calls or ():
        call.add_tool_call(field(field(tool_call, "function"), "name"), field(tool_call, "id"))


def _chat_response(call: GenAICall, response: Any) -> None:
    call.response_model = field(response, "model")
    _usage(call, response)
    reason = field(response, "done_reason")
    if reason:
        call.finish_reasons = [reason]
    message = field(response, "message")
    tool_calls = field(message, "tool_calls")
    _add_tool_calls(call, tool_calls)
    if call.telemetry.capture_content:
        content = field(message, "content")
        parts = [_text_part(content)] if content else []
        parts.extend(_tool_call_parts(tool_calls))
        call.output_messages = [{"role": "assistant", "parts": parts, "finish_reason": reason}]


def _generate_response(call: GenAICall, response: Any) -> None:
    call.response_model = field(response, "model")
    _usage(call, response)
    reason = field(response, "done_reason")
    if reason:
        call.finish_reasons = [reason]
    if call.telemetry.capture_content:
        parts = [_text_part(field(response, "response") or "")]
        call.output_messages = [{"role": "assistant", "parts": parts, "finish_reason": reason}]


def _embed_response(call: GenAICall, response: Any) -> None:
    call.response_model = field(response, "model")
    _usage(call, response)
    embeddings = field(response, "embeddings")
    if embeddings:
        call.embedding_dimensions = len(embeddings[0])


class _Stream:
    """What a stream's chunks add up to (text only kept when content is captured)."""

    __slots__ = ("text", "tool_calls")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.tool_calls: list[Any] = []


def _chunk(call: GenAICall, chunk: Any) -> None:
    state: _Stream = call.stream_state
    if call.response_model is None:
        call.response_model = field(chunk, "model")
    message = field(chunk, "message")
    tool_calls = field(message, "tool_calls")
    if tool_calls:
        _add_tool_calls(call, tool_calls)
        state.tool_calls.extend(tool_calls)
    capture = call.telemetry.capture_content
    if capture:
        text = field(message, "content") if message is not None else field(chunk, "response")
        if text:
            state.text.append(text)
    if not field(chunk, "done"):
        return
    _usage(call, chunk)
    reason = field(chunk, "done_reason")
    if reason:
        call.finish_reasons = [reason]
    if capture:
        parts = [_text_part("".join(state.text))] if state.text else []
        parts.extend(_tool_call_parts(state.tool_calls))
        call.output_messages = [{"role": "assistant", "parts": parts, "finish_reason": reason}]


# ---------------------------------------------------------------- result handling


def _finisher(extract: Callable[[GenAICall, Any], None]) -> Callable[[GenAICall, Any], Any]:
    def finish(call: GenAICall, result: Any) -> Any:
        if call.stream_state is not None:
            if hasattr(result, "__anext__"):
                return AsyncGeneratorProxy(result, call, _chunk)
            if hasattr(result, "__next__"):
                return SyncStreamProxy(result, call, _chunk)
        extract(call, result)
        call.end()
        return result

    return finish


_CHAT = Operation(_begin_chat, _finisher(_chat_response))
_GENERATE = Operation(_begin_generate, _finisher(_generate_response))
_EMBED = Operation(_begin_embed, _finisher(_embed_response))


class OllamaInstrumentor(ProviderInstrumentor):
    """Entry point `agentops_ollama`."""

    library = "ollama"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def patch_points(self) -> Sequence[PatchPoint]:
        points = []
        for method, operation in zip(_METHODS, (_CHAT, _GENERATE, _EMBED), strict=True):
            points.append(PatchPoint("ollama._client", "Client", method, operation, is_async=False))
            points.append(PatchPoint("ollama._client", "AsyncClient", method, operation, is_async=True))
        return points

    def _patch_now(self, **kwargs: Any) -> None:
        super()._patch_now(**kwargs)
        _rebind_module_functions()

    def _unpatch_now(self, **kwargs: Any) -> None:
        super()._unpatch_now(**kwargs)
        _rebind_module_functions()


def _rebind_module_functions() -> None:
    """`ollama.chat(...)` and co. are bound methods of a default client, taken when ollama was imported (maybe
    before we patched the class): bind them again so they go through the class methods as they are now."""
    try:
        import ollama

        default = getattr(ollama, "_client", None)  # the package attribute is the default Client instance
        if not isinstance(default, ollama.Client):
            return
        for name in _METHODS:
            if getattr(getattr(ollama, name, None), "__self__", None) is default:
                setattr(ollama, name, getattr(default, name))
    except Exception as exc:
        report_internal_error("binding ollama's module-level functions", exc)
