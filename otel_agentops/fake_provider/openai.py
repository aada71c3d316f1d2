"""OpenAI wire format: Chat Completions, Responses, Embeddings and the model list.

Shapes follow the types of the `openai` SDK (``openai/types``) closely enough that the SDK parses every reply
into its typed objects and its stream helpers (``chat.completions.stream``, ``responses.stream``) accept the
event sequences. What is said comes from `scenario`; this module only translates.
"""

from __future__ import annotations

import base64
import itertools
import struct
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from otel_agentops.fake_provider.scenario import (
    Completion,
    Conversation,
    Message,
    Role,
    ToolSpec,
    Usage,
    argument_pieces,
    complete,
    embedding_tokens,
    embedding_vector,
    text_pieces,
)
from otel_agentops.fake_provider.wire import (
    Exchange,
    JsonReply,
    Route,
    StreamReply,
    WireError,
    WireFormat,
    sse_event,
)

DEFAULT_EMBEDDING_DIMENSIONS = 8
MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4.1-mini", "o4-mini", "text-embedding-3-small")

_SYSTEM_FINGERPRINT = "fp_fake"
_MAX_CHOICES = 128
_ROLES: Mapping[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}
_TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text"})
# (type, code) the real API uses per status; anything else falls back by status class.
_ERROR_KINDS: Mapping[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    503: ("server_error", "service_unavailable"),
}


def error_body(error: WireError) -> dict[str, Any]:
    default_type = "server_error" if error.status >= 500 else "invalid_request_error"
    kind, code = _ERROR_KINDS.get(error.status, (default_type, None))
    return {
        "error": {"message": error.message, "type": kind, "param": error.param, "code": error.code or code}
    }


# --- request parsing -------------------------------------------------------------------------------------


def _body(exchange: Exchange) -> dict[str, Any]:
    body = exchange.request.body
    if not isinstance(body, dict):
        raise WireError(400, "We could not parse the JSON body of your request.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise WireError(400, "you must provide a model parameter", param="model")
    return body


def _text_of(content: Any) -> str:
    """Text of a message content: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") in _TEXT_PART_TYPES
        )
    return ""


def _role(value: Any) -> Role:
    role = _ROLES.get(str(value))
    if role is None:
        raise WireError(400, f"Invalid value: '{value}'. Supported values are: {', '.join(_ROLES)}.")
    return role


def _offered_tools(
    tools: Any, tool_choice: Any, spec_of: Callable[[dict[str, Any]], ToolSpec | None]
) -> tuple[ToolSpec, ...]:
    """Function tools the model may call, narrowed by `tool_choice` ("none" or one named function)."""
    if tool_choice == "none" or not isinstance(tools, list):
        return ()
    specs = tuple(spec for spec in (spec_of(tool) for tool in tools if isinstance(tool, dict)) if spec)
    if isinstance(tool_choice, dict):
        named = tool_choice.get("name") or (tool_choice.get("function") or {}).get("name")
        return tuple(spec for spec in specs if spec.name == named) or specs
    return specs


def _chat_tool(tool: dict[str, Any]) -> ToolSpec | None:
    function = tool.get("function")
    if tool.get("type") != "function" or not isinstance(function, dict) or "name" not in function:
        return None
    return ToolSpec(str(function["name"]), function.get("parameters") or {})


def _responses_tool(tool: dict[str, Any]) -> ToolSpec | None:
    if tool.get("type") != "function" or "name" not in tool:
        return None
    return ToolSpec(str(tool["name"]), tool.get("parameters") or {})


def _chat_conversation(body: dict[str, Any]) -> Conversation:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise WireError(400, "'messages' must be a non-empty array", param="messages")
    parsed = []
    for message in messages:
        if not isinstance(message, dict):
            raise WireError(400, "each message must be an object", param="messages")
        text = _text_of(message.get("content"))
        # An assistant turn that called tools carries arguments instead of text; they are prompt tokens too.
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict):
                text += str((call.get("function") or {}).get("arguments", ""))
        parsed.append(Message(_role(message.get("role")), text))
    return Conversation(
        messages=parsed,
        tools=_offered_tools(body.get("tools"), body.get("tool_choice"), _chat_tool),
        max_output_tokens=_int_or_none(body.get("max_completion_tokens") or body.get("max_tokens")),
    )


def _responses_message(item: dict[str, Any]) -> Message | None:
    kind = item.get("type", "message")
    if kind == "message":
        return Message(_role(item.get("role")), _text_of(item.get("content")))
    if kind == "function_call":
        return Message("assistant", str(item.get("arguments", "")))
    if kind == "function_call_output":
        return Message("tool", _text_of(item.get("output")))
    # Reasoning items, built-in tool calls etc. carry nothing the fake model reads.
    return None


def _responses_conversation(body: dict[str, Any]) -> Conversation:
    raw_input = body.get("input", [])
    items = [{"role": "user", "content": raw_input}] if isinstance(raw_input, str) else raw_input
    if not isinstance(items, list):
        raise WireError(400, "'input' must be a string or an array of input items", param="input")
    messages = [m for m in (_responses_message(i) for i in items if isinstance(i, dict)) if m is not None]
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        messages.insert(0, Message("system", instructions))
    return Conversation(
        messages=messages,
        tools=_offered_tools(body.get("tools"), body.get("tool_choice"), _responses_tool),
        max_output_tokens=_int_or_none(body.get("max_output_tokens")),
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _wants_stream(body: dict[str, Any]) -> bool:
    return body.get("stream") is True


def _call_id(exchange: Exchange, completion: Completion, index: int) -> str:
    return completion.tool_calls[index].id or f"{exchange.make_id('call_')}_{index}"


# --- Chat Completions -------------------------------------------------------------------------------------


def _chat_usage(usage: Usage, choices: int) -> dict[str, Any]:
    # Every choice is generated, so each one costs completion tokens.
    completion_tokens = usage.output_tokens * choices
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": usage.input_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _chat_envelope(exchange: Exchange, body: dict[str, Any], obj: str) -> dict[str, Any]:
    return {
        "id": exchange.make_id("chatcmpl-"),
        "object": obj,
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": _SYSTEM_FINGERPRINT,
        "service_tier": "default",
    }


def _chat_message(exchange: Exchange, completion: Completion) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": completion.text,
        "refusal": None,
        "annotations": [],
    }
    if completion.tool_calls:
        message["tool_calls"] = [
            {
                "id": _call_id(exchange, completion, index),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json},
            }
            for index, call in enumerate(completion.tool_calls)
        ]
    return message


def _chat_stream_deltas(exchange: Exchange, completion: Completion) -> Iterator[dict[str, Any]]:
    """The deltas of one choice in the order the real API sends them; the last one carries no content."""
    yield {"role": "assistant", "content": "" if completion.text is not None else None, "refusal": None}
    if completion.text:
        for piece in text_pieces(completion.text):
            yield {"content": piece}
    for index, call in enumerate(completion.tool_calls):
        header = {"id": _call_id(exchange, completion, index), "type": "function"}
        yield {"tool_calls": [{"index": index, **header, "function": {"name": call.name, "arguments": ""}}]}
        for piece in argument_pieces(call.arguments_json):
            yield {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}


def _chat_stream(exchange: Exchange, body: dict[str, Any], completion: Completion, n: int) -> Iterator[bytes]:
    envelope = _chat_envelope(exchange, body, "chat.completion.chunk")
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        # With include_usage the real API sends "usage": null on every chunk but the last.
        extra = {"usage": usage} if include_usage else {}
        return sse_event({**envelope, "choices": choices, **extra})

    for index in range(n):
        for delta in _chat_stream_deltas(exchange, completion):
            yield chunk([{"index": index, "delta": delta, "logprobs": None, "finish_reason": None}])
        yield chunk(
            [{"index": index, "delta": {}, "logprobs": None, "finish_reason": completion.finish_reason}]
        )
    if include_usage:
        yield chunk([], _chat_usage(completion.usage, n))
    yield sse_event("[DONE]")


def chat_completions(exchange: Exchange) -> JsonReply | StreamReply:
    body = _body(exchange)
    n = body.get("n") or 1
    if not isinstance(n, int) or not 1 <= n <= _MAX_CHOICES:
        raise WireError(400, f"n must be an integer between 1 and {_MAX_CHOICES}", param="n")
    completion = complete(_chat_conversation(body), exchange.take_script())
    if _wants_stream(body):
        return StreamReply(_chat_stream(exchange, body, completion, n))
    message = _chat_message(exchange, completion)
    choices = [
        {"index": index, "message": message, "logprobs": None, "finish_reason": completion.finish_reason}
        for index in range(n)
    ]
    return JsonReply(
        {
            **_chat_envelope(exchange, body, "chat.completion"),
            "choices": choices,
            "usage": _chat_usage(completion.usage, n),
        }
    )


# --- Responses --------------------------------------------------------------------------------------------


def _responses_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def _output_text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _response_items(exchange: Exchange, completion: Completion) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if completion.text is not None:
        status = "incomplete" if completion.finish_reason == "length" else "completed"
        items.append(
            {
                "id": exchange.make_id("msg_"),
                "type": "message",
                "status": status,
                "role": "assistant",
                "content": [_output_text_part(completion.text)],
            }
        )
    for index, call in enumerate(completion.tool_calls):
        items.append(
            {
                "id": f"{exchange.make_id('fc_')}_{index}",
                "type": "function_call",
                "status": "completed",
                "call_id": _call_id(exchange, completion, index),
                "name": call.name,
                "arguments": call.arguments_json,
            }
        )
    return items


def _response_object(
    exchange: Exchange,
    body: dict[str, Any],
    created_at: int,
    completion: Completion | None,
    output: list[Any],
) -> dict[str, Any]:
    """The `response` object; `completion` None means still in progress (the stream's opening events)."""
    status, incomplete, usage, completed_at = "in_progress", None, None, None
    if completion is not None:
        truncated = completion.finish_reason == "length"
        status = "incomplete" if truncated else "completed"
        incomplete = {"reason": "max_output_tokens"} if truncated else None
        usage, completed_at = _responses_usage(completion.usage), int(time.time())
    return {
        "id": exchange.make_id("resp_"),
        "object": "response",
        "created_at": created_at,
        "completed_at": completed_at,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body["model"],
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning"),
        "service_tier": "default",
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text", {"format": {"type": "text"}}),
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools", []),
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": usage,
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def _item_events(item: dict[str, Any], output_index: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event type, fields) for streaming one output item from `added` to `done`."""
    where = {"item_id": item["id"], "output_index": output_index}
    if item["type"] == "message":
        text = item["content"][0]["text"]
        part_where = {**where, "content_index": 0}
        opening = {**item, "status": "in_progress", "content": []}
        yield "response.output_item.added", {"output_index": output_index, "item": opening}
        yield "response.content_part.added", {**part_where, "part": _output_text_part("")}
        for piece in text_pieces(text):
            yield "response.output_text.delta", {**part_where, "delta": piece, "logprobs": []}
        yield "response.output_text.done", {**part_where, "text": text, "logprobs": []}
        yield "response.content_part.done", {**part_where, "part": item["content"][0]}
    else:
        arguments = item["arguments"]
        opening = {**item, "status": "in_progress", "arguments": ""}
        yield "response.output_item.added", {"output_index": output_index, "item": opening}
        for piece in argument_pieces(arguments):
            yield "response.function_call_arguments.delta", {**where, "delta": piece}
        yield "response.function_call_arguments.done", {**where, "arguments": arguments}
    yield "response.output_item.done", {"output_index": output_index, "item": item}


def _responses_stream(exchange: Exchange, body: dict[str, Any], completion: Completion) -> Iterator[bytes]:
    created_at = int(time.time())
    items = _response_items(exchange, completion)
    final = _response_object(exchange, body, created_at, completion, items)
    opening = _response_object(exchange, body, created_at, None, [])
    closing = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    events: list[Iterator[tuple[str, dict[str, Any]]]] = [
        iter([("response.created", {"response": opening}), ("response.in_progress", {"response": opening})]),
        *(_item_events(item, index) for index, item in enumerate(items)),
        iter([(closing, {"response": final})]),
    ]
    for sequence, (kind, fields) in enumerate(itertools.chain.from_iterable(events)):
        yield sse_event({"type": kind, **fields, "sequence_number": sequence}, event=kind)


def responses(exchange: Exchange) -> JsonReply | StreamReply:
    body = _body(exchange)
    completion = complete(_responses_conversation(body), exchange.take_script())
    if _wants_stream(body):
        return StreamReply(_responses_stream(exchange, body, completion))
    items = _response_items(exchange, completion)
    return JsonReply(_response_object(exchange, body, int(time.time()), completion, items))


# --- Embeddings and models --------------------------------------------------------------------------------


def _embedding_inputs(raw: Any) -> Sequence[str | Sequence[int]]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(token, int) for token in raw):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(item, (str, list)) for item in raw):
        return raw
    raise WireError(
        400, "'input' must be a non-empty string, array of strings or array of token arrays", param="input"
    )


def _encode_vector(vector: list[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return vector


def embeddings(exchange: Exchange) -> JsonReply:
    body = _body(exchange)
    inputs = _embedding_inputs(body.get("input"))
    dimensions = body.get("dimensions") or DEFAULT_EMBEDDING_DIMENSIONS
    encoding_format = body.get("encoding_format") or "float"
    if not isinstance(dimensions, int) or dimensions < 1:
        raise WireError(400, "dimensions must be a positive integer", param="dimensions")
    if encoding_format not in ("float", "base64"):
        raise WireError(400, "encoding_format must be 'float' or 'base64'", param="encoding_format")
    data = [
        {
            "object": "embedding",
            "index": index,
            "embedding": _encode_vector(embedding_vector(item, dimensions), encoding_format),
        }
        for index, item in enumerate(inputs)
    ]
    tokens = sum(embedding_tokens(item) for item in inputs)
    return JsonReply(
        {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def list_models(exchange: Exchange) -> JsonReply:
    # A fixed timestamp keeps the listing byte-for-byte stable across runs.
    listed = [
        {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "fake-provider"}
        for name in MODELS
    ]
    return JsonReply({"object": "list", "data": listed})


WIRE = WireFormat(
    name="openai",
    routes=(
        Route("POST", "/v1/chat/completions", chat_completions),
        Route("POST", "/v1/responses", responses),
        Route("POST", "/v1/embeddings", embeddings),
        Route("GET", "/v1/models", list_models),
    ),
    error_body=error_body,
)
