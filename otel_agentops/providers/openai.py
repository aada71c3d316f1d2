"""OpenAI (and OpenAI-compatible hosts): patch points and request / response / stream extractors.

Patched: `chat.completions.create` and `.parse`, `responses.create` and `.parse`, `embeddings.create`,
sync and async. The `.stream()` helpers call `create(stream=True)` and so are covered by it;
`with_raw_response` and `with_streaming_response` call the patched `create` too and get their raw
response back unchanged (proxied only to see the parse / close that ends the span).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from otel_agentops.genai import semconv
from otel_agentops.genai.call import GenAICall
from otel_agentops.genai.endpoint import Endpoints
from otel_agentops.genai.fields import Arguments, field
from otel_agentops.genai.results import finisher
from otel_agentops.genai.telemetry import Telemetry
from otel_agentops.genai.wrapping import Operation
from otel_agentops.providers.base import PatchPoint, ProviderInstrumentor

_INSTRUMENTS = ("openai >= 1.40.0, < 4",)

# OpenAI-compatible hosts, by host suffix, and the gen_ai.provider.name they get.
_HOST_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("openai.azure.com", "azure.ai.openai"),
    ("api.groq.com", "groq"),
    ("api.together.xyz", "together_ai"),
    ("api.deepseek.com", "deepseek"),
    ("openrouter.ai", "openrouter"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.x.ai", "x_ai"),
    ("api.perplexity.ai", "perplexity"),
    ("api.fireworks.ai", "fireworks"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
)
_LOCAL_PORT_PROVIDERS = {11434: "ollama", 8000: "vllm"}
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

# (request kwarg, span attribute) for the numeric sampling parameters both APIs share.
_SHARED_PARAMS = (
    ("temperature", semconv.REQUEST_TEMPERATURE),
    ("top_p", semconv.REQUEST_TOP_P),
)
_CHAT_PARAMS = (
    *_SHARED_PARAMS,
    ("frequency_penalty", semconv.REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", semconv.REQUEST_PRESENCE_PENALTY),
    ("seed", semconv.REQUEST_SEED),
)


_given = Arguments()
_field = field


# ---------------------------------------------------------------- request side


def _provider_for(_client: Any, host: str | None, port: int | None) -> str:
    if not host:
        return "openai"
    for suffix, name in _HOST_PROVIDERS:
        if host == suffix or host.endswith("." + suffix):
            return name
    if host in _LOCAL_HOSTS and port in _LOCAL_PORT_PROVIDERS:
        return _LOCAL_PORT_PROVIDERS[port]
    return "openai"


_server = Endpoints(_provider_for)


def _start_call(
    telemetry: Telemetry,
    instance: Any,
    operation: str,
    kwargs: Mapping[str, Any],
    params: Sequence[tuple[str, str]],
    server: Endpoints | None = None,
    given: Arguments | None = None,
    extra: Mapping[str, Any] | None = None,
) -> GenAICall:
    """The call and its span, with the request attributes common to the operations, those of `params`
    and `extra`: all given to the span as it starts (one SDK call rather than one per attribute)."""
    # Looked up per call, not bound as defaults: the module globals are what tests and groq.py replace.
    server = server or _server
    given = given or _given
    _client, provider, server_attrs = server(instance)
    model = given(kwargs, "model")
    attrs: dict[str, Any] = {
        semconv.OPERATION_NAME: operation,
        semconv.PROVIDER_NAME: provider,
        **server_attrs,
    }
    if model:
        attrs[semconv.REQUEST_MODEL] = model
    given.copy_into(attrs, kwargs, params)
    if given(kwargs, "stream"):
        attrs[semconv.REQUEST_STREAM] = True
    if extra:
        attrs.update(extra)
    return GenAICall(telemetry, operation, provider, model, attrs)


def _begin_chat(
    telemetry: Telemetry,
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    server: Endpoints | None = None,
    given: Arguments | None = None,
) -> GenAICall:
    """Also the `begin` of OpenAI-compatible SDKs (groq), with their own endpoints and sentinels."""
    given = given or _given
    extra: dict[str, Any] = {}
    max_tokens = given(kwargs, "max_completion_tokens") or given(kwargs, "max_tokens")
    if max_tokens is not None:
        extra[semconv.REQUEST_MAX_TOKENS] = max_tokens
    n = given(kwargs, "n")
    if n is not None and n != 1:
        extra[semconv.REQUEST_CHOICE_COUNT] = n
    stop = given(kwargs, "stop")
    if stop is not None:
        extra[semconv.REQUEST_STOP_SEQUENCES] = [stop] if isinstance(stop, str) else list(stop)
    output_type = _output_type(given(kwargs, "response_format"))
    if output_type:
        extra[semconv.OUTPUT_TYPE] = output_type
    call = _start_call(telemetry, instance, semconv.OP_CHAT, kwargs, _CHAT_PARAMS, server, given, extra)
    if given(kwargs, "stream"):
        call.stream_state = _ChatStream()
    if telemetry.capture_content:
        system, messages = _chat_input_messages(given(kwargs, "messages") or ())
        call.set_content(semconv.SYSTEM_INSTRUCTIONS, system or None)
        call.set_content(semconv.INPUT_MESSAGES, messages)
        call.set_content(semconv.TOOL_DEFINITIONS, given(kwargs, "tools"))
    return call


def _output_type(response_format: Any) -> str | None:
    if response_format is None:
        return None
    kind = _field(response_format, "type")
    if kind in ("json_schema", "json_object"):
        return "json"
    if kind == "text":
        return "text"
    if isinstance(response_format, type):  # parse(response_format=SomePydanticModel)
        return "json"
    return None


def _begin_responses(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    extra: dict[str, Any] = {}
    max_tokens = _given(kwargs, "max_output_tokens")
    if max_tokens is not None:
        extra[semconv.REQUEST_MAX_TOKENS] = max_tokens
    text_format = _field(_given(kwargs, "text"), "format")
    if _given(kwargs, "text_format") is not None or _field(text_format, "type") == "json_schema":
        extra[semconv.OUTPUT_TYPE] = "json"
    call = _start_call(telemetry, instance, semconv.OP_CHAT, kwargs, _SHARED_PARAMS, extra=extra)
    if _given(kwargs, "stream"):
        call.stream_state = _ResponsesStream()
    if telemetry.capture_content:
        instructions = _given(kwargs, "instructions")
        call.set_content(semconv.SYSTEM_INSTRUCTIONS, [_text_part(instructions)] if instructions else None)
        call.set_content(semconv.INPUT_MESSAGES, _responses_input_messages(_given(kwargs, "input")))
        call.set_content(semconv.TOOL_DEFINITIONS, _given(kwargs, "tools"))
    return call


def _begin_embeddings(
    telemetry: Telemetry,
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    server: Endpoints | None = None,
    given: Arguments | None = None,
) -> GenAICall:
    given = given or _given
    extra: dict[str, Any] = {}
    encoding = given(kwargs, "encoding_format")
    if encoding is not None:
        extra[semconv.REQUEST_ENCODING_FORMATS] = [encoding]
    dimensions = given(kwargs, "dimensions")
    if dimensions is not None:
        extra[semconv.EMBEDDINGS_DIMENSION_COUNT] = dimensions
    return _start_call(telemetry, instance, semconv.OP_EMBEDDINGS, kwargs, (), server, given, extra)


# ---------------------------------------------------------------- content (opt-in) shapes


def _text_part(text: Any) -> dict[str, Any]:
    return {"type": "text", "content": text}


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [_text_part(content)]
    parts = []
    for item in content:
        kind = _field(item, "type")
        if kind in ("text", "input_text", "output_text"):
            parts.append(_text_part(_field(item, "text")))
        elif kind in ("image_url", "input_image"):
            image = _field(item, "image_url")
            parts.append({"type": "uri", "modality": "image", "uri": _field(image, "url") or image})
        else:
            parts.append({"type": str(kind)})
    return parts


def _tool_call_part(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def _chat_input_messages(messages: Iterable[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    converted: list[dict[str, Any]] = []
    for message in messages:
        role = _field(message, "role")
        content = _field(message, "content")
        if role in ("system", "developer"):
            system.extend(_content_parts(content))
            continue
        if role == "tool":
            parts = [
                {"type": "tool_call_response", "id": _field(message, "tool_call_id"), "response": content}
            ]
        else:
            parts = _content_parts(content)
            for tool_call in _field(message, "tool_calls") or ():
                function = _field(tool_call, "function")
                parts.append(
                    _tool_call_part(
                        _field(tool_call, "id"), _field(function, "name"), _field(function, "arguments")
                    )
                )
        converted.append({"role": role, "parts": parts})
    return system, converted


def _responses_input_messages(input_value: Any) -> list[dict[str, Any]] | None:
    if input_value is None:
        return None
    if isinstance(input_value, str):
        return [{"role": "user", "parts": [_text_part(input_value)]}]
    converted = []
    for item in input_value:
        kind = _field(item, "type")
        if kind == "function_call":
            converted.append(
                {
                    "role": "assistant",
                    "parts": [
                        _tool_call_part(
                            _field(item, "call_id"), _field(item, "name"), _field(item, "arguments")
                        )
                    ],
                }
            )
        elif kind == "function_call_output":
            converted.append(
                {
                    "role": "tool",
                    "parts": [
                        {
                            "type": "tool_call_response",
                            "id": _field(item, "call_id"),
                            "response": _field(item, "output"),
                        }
                    ],
                }
            )
        else:
            converted.append(
                {"role": _field(item, "role") or "user", "parts": _content_parts(_field(item, "content"))}
            )
    return converted


# ---------------------------------------------------------------- response side


def _chat_usage(call: GenAICall, usage: Any) -> None:
    if usage is None:
        return
    call.input_tokens = _field(usage, "prompt_tokens")
    call.output_tokens = _field(usage, "completion_tokens")
    call.cache_read_tokens = _field(_field(usage, "prompt_tokens_details"), "cached_tokens") or 0
    call.reasoning_tokens = _field(_field(usage, "completion_tokens_details"), "reasoning_tokens")


def _chat_completion(call: GenAICall, completion: Any) -> None:
    call.response_id = _field(completion, "id")
    call.response_model = _field(completion, "model")
    _chat_usage(call, _field(completion, "usage"))
    reasons = []
    outputs = [] if call.telemetry.capture_content else None
    for choice in _field(completion, "choices") or ():
        reason = _field(choice, "finish_reason")
        reasons.append(reason or "")
        message = _field(choice, "message")
        tool_calls = _field(message, "tool_calls") or ()
        for tool_call in tool_calls:
            call.add_tool_call(_field(_field(tool_call, "function"), "name"), _field(tool_call, "id"))
        if outputs is not None:
            parts = _content_parts(_field(message, "content"))
            for tool_call in tool_calls:
                function = _field(tool_call, "function")
                parts.append(
                    _tool_call_part(
                        _field(tool_call, "id"), _field(function, "name"), _field(function, "arguments")
                    )
                )
            outputs.append({"role": "assistant", "parts": parts, "finish_reason": reason})
    call.finish_reasons = reasons
    call.output_messages = outputs


class _ChatStream:
    """What a chat stream's chunks add up to, per choice index."""

    __slots__ = ("finish_reasons", "text", "tool_calls")

    def __init__(self) -> None:
        self.finish_reasons: dict[int, str] = {}
        self.text: dict[int, list[str]] = {}
        # (choice, tool index) -> [id, name, argument fragments]
        self.tool_calls: dict[tuple[int, int], list[Any]] = {}

    def finish(self, call: GenAICall) -> None:
        """Called once when the call ends: the output messages are assembled from the chunks only then."""
        if call.telemetry.capture_content:
            call.output_messages = _stream_outputs(self)


def _chat_chunk(call: GenAICall, chunk: Any) -> None:
    state: _ChatStream = call.stream_state
    if call.response_id is None:
        call.response_id = _field(chunk, "id")
        call.response_model = _field(chunk, "model")
    usage = _field(chunk, "usage")
    if usage is not None:
        _chat_usage(call, usage)
    capture = call.telemetry.capture_content
    for choice in _field(chunk, "choices") or ():
        index = _field(choice, "index") or 0
        reason = _field(choice, "finish_reason")
        if reason:
            state.finish_reasons[index] = reason
            call.finish_reasons = [state.finish_reasons[i] for i in sorted(state.finish_reasons)]
        delta = _field(choice, "delta")
        if delta is None:
            continue
        for tool_delta in _field(delta, "tool_calls") or ():
            key = (index, _field(tool_delta, "index") or 0)
            function = _field(tool_delta, "function")
            entry = state.tool_calls.get(key)
            if entry is None:
                entry = state.tool_calls[key] = [_field(tool_delta, "id"), _field(function, "name"), []]
                if entry[1]:
                    call.add_tool_call(entry[1], entry[0])
            if capture and function is not None:
                fragment = _field(function, "arguments")
                if fragment:
                    entry[2].append(fragment)
        if capture:
            text = _field(delta, "content")
            if text:
                state.text.setdefault(index, []).append(text)


def _stream_outputs(state: _ChatStream) -> list[dict[str, Any]]:
    indexes = sorted(set(state.text) | set(state.finish_reasons) | {choice for choice, _ in state.tool_calls})
    outputs = []
    for index in indexes:
        parts = [_text_part("".join(state.text[index]))] if index in state.text else []
        for (choice, _), (call_id, name, fragments) in sorted(state.tool_calls.items()):
            if choice == index:
                parts.append(_tool_call_part(call_id, name, "".join(fragments)))
        outputs.append(
            {"role": "assistant", "parts": parts, "finish_reason": state.finish_reasons.get(index)}
        )
    return outputs


def _response_object(call: GenAICall, response: Any) -> None:
    call.response_id = _field(response, "id")
    call.response_model = _field(response, "model")
    usage = _field(response, "usage")
    if usage is not None:
        call.input_tokens = _field(usage, "input_tokens")
        call.output_tokens = _field(usage, "output_tokens")
        call.cache_read_tokens = _field(_field(usage, "input_tokens_details"), "cached_tokens") or 0
        call.reasoning_tokens = _field(_field(usage, "output_tokens_details"), "reasoning_tokens")
    status = _field(response, "status")
    incomplete = _field(_field(response, "incomplete_details"), "reason")
    parts = []
    has_tool_call = False
    for item in _field(response, "output") or ():
        kind = _field(item, "type")
        if kind == "function_call":
            has_tool_call = True
            call.add_tool_call(_field(item, "name"), _field(item, "call_id"))
            parts.append(
                _tool_call_part(_field(item, "call_id"), _field(item, "name"), _field(item, "arguments"))
            )
        elif kind == "message":
            parts.extend(_content_parts(_field(item, "content")))
    reason = incomplete or ("tool_call" if has_tool_call else "stop" if status == "completed" else status)
    if reason:
        call.finish_reasons = [reason]
    if call.telemetry.capture_content:
        call.output_messages = [{"role": "assistant", "parts": parts, "finish_reason": reason}]


class _ResponsesStream:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = False


_RESPONSE_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _responses_event(call: GenAICall, event: Any) -> None:
    kind = _field(event, "type")
    if kind in _RESPONSE_FINAL_EVENTS:
        # The final event carries the whole response, tool calls included: read everything from it once.
        call.tool_calls = call.tool_call_ids = None
        _response_object(call, _field(event, "response"))
        call.stream_state.done = True
    elif kind == "response.created":
        response = _field(event, "response")
        call.response_id = _field(response, "id")
        call.response_model = _field(response, "model")


def _embeddings_response(call: GenAICall, response: Any) -> None:
    call.response_model = _field(response, "model")
    usage = _field(response, "usage")
    if usage is not None:
        call.input_tokens = _field(usage, "prompt_tokens")
    data = _field(response, "data")
    if data:
        vector = _field(data[0], "embedding")
        if isinstance(vector, list):
            call.embedding_dimensions = len(vector)


# ---------------------------------------------------------------- result handling


def _stream_handler(call: GenAICall) -> Any:
    return _chat_chunk if isinstance(call.stream_state, _ChatStream) else _responses_event


_CHAT = Operation(_begin_chat, finisher(_chat_completion, _stream_handler))
_RESPONSES = Operation(_begin_responses, finisher(_response_object, _stream_handler))
_EMBEDDINGS = Operation(_begin_embeddings, finisher(_embeddings_response, _stream_handler))

_CHAT_MODULE = "openai.resources.chat.completions"
_RESPONSES_MODULE = "openai.resources.responses"
_EMBEDDINGS_MODULE = "openai.resources.embeddings"


class OpenAIInstrumentor(ProviderInstrumentor):
    """Entry point `agentops_openai`."""

    library = "openai"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def patch_points(self) -> Sequence[PatchPoint]:
        import openai

        _given.load_sentinels(openai)
        points = []
        for module, sync_cls, async_cls, methods, operation in (
            (_CHAT_MODULE, "Completions", "AsyncCompletions", ("create", "parse"), _CHAT),
            (_RESPONSES_MODULE, "Responses", "AsyncResponses", ("create", "parse"), _RESPONSES),
            (_EMBEDDINGS_MODULE, "Embeddings", "AsyncEmbeddings", ("create",), _EMBEDDINGS),
        ):
            for method in methods:
                points.append(PatchPoint(module, sync_cls, method, operation, is_async=False))
                points.append(PatchPoint(module, async_cls, method, operation, is_async=True))
        return points
