"""Anthropic wire format: the Messages API (JSON and server-sent events), token counting and the model list.

Shapes follow the types of the `anthropic` SDK (``anthropic/types``) closely enough that the SDK parses every
reply into its typed objects and its stream helper (``messages.stream``) accumulates the event sequence. What
is said comes from `scenario`, so an Anthropic client gets the same answers and token counts as an OpenAI one;
this module only translates:

* a ``user`` message that holds ``tool_result`` blocks counts as a tool result (role ``tool`` in the
  scenario);
* ``system`` (a string or text blocks) counts as a system message;
* ``usage.input_tokens`` EXCLUDES cached tokens, as the real API reports it: the scenario's input tokens are
  the whole prompt, so ``input_tokens = total - cache_read_input_tokens - cache_creation_input_tokens``;
* finish reasons map ``stop`` -> ``end_turn``, ``tool_calls`` -> ``tool_use``, ``length`` -> ``max_tokens``.

``GET /v1/models`` is told apart from OpenAI's by the ``anthropic-version`` header every Anthropic SDK sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from otel_agentops.fake_provider.scenario import (
    Completion,
    Conversation,
    Message,
    ToolCall,
    ToolSpec,
    Usage,
    argument_pieces,
    complete,
    input_tokens,
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

VERSION_HEADER = "anthropic-version"
MODELS = ("claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-1")

_STOP_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}
# error.type the real API uses per status; anything else falls back by status class.
_ERROR_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_body(error: WireError) -> dict[str, Any]:
    default_type = "api_error" if error.status >= 500 else "invalid_request_error"
    kind = _ERROR_TYPES.get(error.status, default_type)
    return {"type": "error", "error": {"type": kind, "message": error.message}}


# --- request parsing -------------------------------------------------------------------------------------


def _body(exchange: Exchange, *, needs_max_tokens: bool = True) -> dict[str, Any]:
    body = exchange.request.body
    if not isinstance(body, dict):
        raise WireError(400, "Request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise WireError(400, "model: Field required")
    if needs_max_tokens and not _is_int(body.get("max_tokens")):
        raise WireError(400, "max_tokens: Field required")
    return body


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text_of(content: Any) -> str:
    """Text of a content value: a string, or the text blocks of a list of blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(block.get("text", ""))
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        )
    return ""


def _message(message: Any) -> Message:
    if not isinstance(message, dict):
        raise WireError(400, "messages: each message must be an object")
    role = message.get("role")
    if role not in ("user", "assistant"):
        raise WireError(400, f'messages: Unexpected role "{role}". Allowed roles are "user" or "assistant".')
    content = message.get("content")
    if isinstance(content, str):
        return Message(role, content)
    if not isinstance(content, list):
        raise WireError(400, "messages: content must be a string or a list of content blocks")
    texts: list[str] = []
    has_tool_result = False
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            # An assistant turn that called tools carries their input; it is prompt text too.
            texts.append(json.dumps(block.get("input") or {}, separators=(",", ":")))
        elif kind == "tool_result":
            has_tool_result = True
            texts.append(_text_of(block.get("content")))
    return Message("tool" if has_tool_result and role == "user" else role, "".join(texts))


def _offered_tools(body: dict[str, Any]) -> tuple[ToolSpec, ...]:
    """Custom tools the model may call, narrowed by `tool_choice` (``none`` or one named ``tool``)."""
    tools, choice = body.get("tools"), body.get("tool_choice")
    choice_type = choice.get("type") if isinstance(choice, dict) else None
    if choice_type == "none" or not isinstance(tools, list):
        return ()
    specs = tuple(
        ToolSpec(str(tool["name"]), tool.get("input_schema") or {})
        for tool in tools
        # Server tools (web_search, ...) have a versioned `type` and no schema: the fake never calls them.
        if isinstance(tool, dict) and "name" in tool and tool.get("type") in (None, "custom")
    )
    if choice_type == "tool":
        return tuple(spec for spec in specs if spec.name == choice.get("name")) or specs
    return specs


def _conversation(body: dict[str, Any]) -> Conversation:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise WireError(400, "messages: at least one message is required")
    parsed = [_message(message) for message in messages]
    system = _text_of(body.get("system"))
    if system:
        parsed.insert(0, Message("system", system))
    max_tokens = body.get("max_tokens")
    return Conversation(
        messages=parsed,
        tools=_offered_tools(body),
        max_output_tokens=max_tokens if _is_int(max_tokens) else None,
    )


# --- replies ----------------------------------------------------------------------------------------------


def _usage(usage: Usage, *, output_tokens: int | None = None) -> dict[str, Any]:
    cached, created = usage.cached_tokens, usage.cache_creation_tokens
    return {
        "input_tokens": max(usage.input_tokens - cached - created, 0),
        "output_tokens": usage.output_tokens if output_tokens is None else output_tokens,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": created,
        "cache_creation": {"ephemeral_5m_input_tokens": created, "ephemeral_1h_input_tokens": 0},
        "service_tier": "standard",
    }


def _tool_input(call: ToolCall) -> dict[str, Any]:
    if not isinstance(call.arguments, str):
        return dict(call.arguments)
    try:
        parsed = json.loads(call.arguments)
    except ValueError:
        return {"_raw": call.arguments}
    return parsed if isinstance(parsed, dict) else {"_value": parsed}


def _tool_use_id(exchange: Exchange, call: ToolCall, index: int) -> str:
    return call.id or f"{exchange.make_id('toolu_')}_{index}"


def _content_blocks(exchange: Exchange, completion: Completion) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if completion.text is not None:
        blocks.append({"type": "text", "text": completion.text, "citations": None})
    for index, call in enumerate(completion.tool_calls):
        blocks.append(
            {
                "type": "tool_use",
                "id": _tool_use_id(exchange, call, index),
                "name": call.name,
                "input": _tool_input(call),
            }
        )
    return blocks


def _message_object(
    exchange: Exchange, body: dict[str, Any], completion: Completion, content: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": exchange.make_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": _STOP_REASONS[completion.finish_reason],
        "stop_sequence": None,
        "usage": _usage(completion.usage),
    }


def _block_events(exchange: Exchange, completion: Completion) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, data) for every content block, from ``content_block_start`` to ``content_block_stop``."""
    index = 0
    if completion.text is not None:
        yield "content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}}
        yield "ping", {}  # the real API pings after the first block opens
        for piece in text_pieces(completion.text) if completion.text else ():
            yield "content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": piece}}
        yield "content_block_stop", {"index": index}
        index += 1
    for call_index, call in enumerate(completion.tool_calls):
        opening = {"type": "tool_use", "id": _tool_use_id(exchange, call, call_index), "name": call.name}
        yield "content_block_start", {"index": index, "content_block": {**opening, "input": {}}}
        arguments = json.dumps(_tool_input(call), separators=(",", ":"))
        for piece in ["", *argument_pieces(arguments)]:
            yield (
                "content_block_delta",
                {"index": index, "delta": {"type": "input_json_delta", "partial_json": piece}},
            )
        yield "content_block_stop", {"index": index}
        index += 1


def _stream(exchange: Exchange, body: dict[str, Any], completion: Completion) -> Iterator[bytes]:
    final = _message_object(exchange, body, completion, [])
    opening = {
        **final,
        "stop_reason": None,
        # Like the real API: the opening usage has the prompt and (nearly) no output yet.
        "usage": _usage(completion.usage, output_tokens=min(completion.usage.output_tokens, 1)),
    }
    yield sse_event({"type": "message_start", "message": opening}, event="message_start")
    for name, data in _block_events(exchange, completion):
        yield sse_event({"type": name, **data}, event=name)
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": final["stop_reason"], "stop_sequence": None},
        "usage": {"output_tokens": completion.usage.output_tokens},
    }
    yield sse_event(delta, event="message_delta")
    yield sse_event({"type": "message_stop"}, event="message_stop")


def _reply_headers(exchange: Exchange) -> dict[str, str]:
    return {"request-id": exchange.make_id("req_")}


def messages(exchange: Exchange) -> JsonReply | StreamReply:
    body = _body(exchange)
    completion = complete(_conversation(body), exchange.take_script())
    if body.get("stream") is True:
        return StreamReply(_stream(exchange, body, completion), headers=_reply_headers(exchange))
    content = _content_blocks(exchange, completion)
    return JsonReply(_message_object(exchange, body, completion, content), headers=_reply_headers(exchange))


def count_tokens(exchange: Exchange) -> JsonReply:
    body = _body(exchange, needs_max_tokens=False)
    return JsonReply(
        {"input_tokens": input_tokens(_conversation(body).messages)}, headers=_reply_headers(exchange)
    )


def list_models(exchange: Exchange) -> JsonReply:
    listed = [
        {"type": "model", "id": name, "display_name": name, "created_at": "2025-01-01T00:00:00Z"}
        for name in MODELS
    ]
    return JsonReply(
        {"data": listed, "has_more": False, "first_id": MODELS[0], "last_id": MODELS[-1]},
        headers=_reply_headers(exchange),
    )


WIRE = WireFormat(
    name="anthropic",
    routes=(
        Route("POST", "/v1/messages", messages),
        Route("POST", "/v1/messages/count_tokens", count_tokens),
        Route("GET", "/v1/models", list_models, header=VERSION_HEADER),
    ),
    error_body=error_body,
)
