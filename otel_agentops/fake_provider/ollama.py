"""Ollama wire format: ``/api/chat``, ``/api/generate`` and ``/api/embed``.

Shapes follow Ollama's REST API (and the `ollama` client's types): streaming is newline-delimited JSON,
on by default when the request does not say ``"stream": false``; the last object says ``"done": true`` and
carries ``done_reason`` and the token counts (``prompt_eval_count``, ``eval_count``). Tool calls arrive
whole, in one message, with arguments as an object; Ollama's finish reason for them is ``stop``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from otel_agentops.fake_provider.scenario import (
    Completion,
    Conversation,
    Message,
    Role,
    ToolSpec,
    complete,
    embedding_tokens,
    embedding_vector,
    text_pieces,
)
from otel_agentops.fake_provider.wire import Exchange, JsonReply, Route, StreamReply, WireError, WireFormat

DEFAULT_EMBEDDING_DIMENSIONS = 8
NDJSON = "application/x-ndjson"
_ROLES: Mapping[str, Role] = {"system": "system", "user": "user", "assistant": "assistant", "tool": "tool"}
# Fixed durations (nanoseconds), so replies are stable.
_DURATIONS = {"total_duration": 5_000_000, "load_duration": 1_000_000}


def error_body(error: WireError) -> dict[str, Any]:
    return {"error": error.message}


def _body(exchange: Exchange) -> dict[str, Any]:
    body = exchange.request.body
    if not isinstance(body, dict):
        raise WireError(400, "invalid JSON body")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise WireError(400, "model is required")
    return body


def _max_tokens(body: dict[str, Any]) -> int | None:
    value = (body.get("options") or {}).get("num_predict")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _tool(tool: Any) -> ToolSpec | None:
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(function, dict) or "name" not in function:
        return None
    return ToolSpec(str(function["name"]), function.get("parameters") or {})


def _chat_conversation(body: dict[str, Any]) -> Conversation:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise WireError(400, "messages must be an array")
    parsed = []
    for message in messages:
        if not isinstance(message, dict):
            raise WireError(400, "each message must be an object")
        role = _ROLES.get(str(message.get("role")))
        if role is None:
            raise WireError(400, f"invalid role: {message.get('role')}")
        text = str(message.get("content") or "")
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict):
                text += json.dumps((call.get("function") or {}).get("arguments", {}), separators=(",", ":"))
        parsed.append(Message(role, text))
    tools = tuple(spec for spec in (_tool(t) for t in body.get("tools") or ()) if spec)
    return Conversation(messages=parsed, tools=tools, max_output_tokens=_max_tokens(body))


def _generate_conversation(body: dict[str, Any]) -> Conversation:
    messages = []
    if isinstance(body.get("system"), str):
        messages.append(Message("system", body["system"]))
    messages.append(Message("user", str(body.get("prompt") or "")))
    return Conversation(messages=messages, max_output_tokens=_max_tokens(body))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _done_fields(completion: Completion) -> dict[str, Any]:
    usage = completion.usage
    return {
        "done": True,
        "done_reason": "length" if completion.finish_reason == "length" else "stop",
        **_DURATIONS,
        "prompt_eval_count": usage.input_tokens,
        "prompt_eval_duration": 1_000_000,
        "eval_count": usage.output_tokens,
        "eval_duration": 3_000_000,
    }


def _tool_calls(completion: Completion) -> list[dict[str, Any]]:
    calls = []
    for call in completion.tool_calls:
        arguments = call.arguments if not isinstance(call.arguments, str) else json.loads(call.arguments)
        calls.append({"function": {"name": call.name, "arguments": dict(arguments)}})
    return calls


def _line(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def _wants_stream(body: dict[str, Any]) -> bool:
    return body.get("stream") is not False  # Ollama streams unless told not to


def _chat_stream(body: dict[str, Any], completion: Completion) -> Iterator[bytes]:
    head = {"model": body["model"]}
    for piece in text_pieces(completion.text) if completion.text else ():
        yield _line(
            {**head, "created_at": _now(), "message": {"role": "assistant", "content": piece}, "done": False}
        )
    if completion.tool_calls:
        message = {"role": "assistant", "content": "", "tool_calls": _tool_calls(completion)}
        yield _line({**head, "created_at": _now(), "message": message, "done": False})
    final = {"role": "assistant", "content": ""}
    yield _line({**head, "created_at": _now(), "message": final, **_done_fields(completion)})


def chat(exchange: Exchange) -> JsonReply | StreamReply:
    body = _body(exchange)
    completion = complete(_chat_conversation(body), exchange.take_script())
    if _wants_stream(body):
        return StreamReply(_chat_stream(body, completion), content_type=NDJSON)
    message: dict[str, Any] = {"role": "assistant", "content": completion.text or ""}
    if completion.tool_calls:
        message["tool_calls"] = _tool_calls(completion)
    return JsonReply(
        {"model": body["model"], "created_at": _now(), "message": message, **_done_fields(completion)}
    )


def _generate_stream(body: dict[str, Any], completion: Completion) -> Iterator[bytes]:
    head = {"model": body["model"]}
    for piece in text_pieces(completion.text) if completion.text else ():
        yield _line({**head, "created_at": _now(), "response": piece, "done": False})
    yield _line({**head, "created_at": _now(), "response": "", **_done_fields(completion)})


def generate(exchange: Exchange) -> JsonReply | StreamReply:
    body = _body(exchange)
    completion = complete(_generate_conversation(body), exchange.take_script())
    if _wants_stream(body):
        return StreamReply(_generate_stream(body, completion), content_type=NDJSON)
    return JsonReply(
        {
            "model": body["model"],
            "created_at": _now(),
            "response": completion.text or "",
            **_done_fields(completion),
        }
    )


def embed(exchange: Exchange) -> JsonReply:
    body = _body(exchange)
    raw = body.get("input")
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not all(isinstance(item, str) for item in inputs):
        raise WireError(400, "input must be a string or an array of strings")
    dimensions = body.get("dimensions") or DEFAULT_EMBEDDING_DIMENSIONS
    if not isinstance(dimensions, int) or dimensions < 1:
        raise WireError(400, "dimensions must be a positive integer")
    return JsonReply(
        {
            "model": body["model"],
            "embeddings": [embedding_vector(item, dimensions) for item in inputs],
            **_DURATIONS,
            "prompt_eval_count": sum(embedding_tokens(item) for item in inputs),
        }
    )


WIRE = WireFormat(
    name="ollama",
    routes=(
        Route("POST", "/api/chat", chat),
        Route("POST", "/api/generate", generate),
        Route("POST", "/api/embed", embed),
    ),
    error_body=error_body,
)
