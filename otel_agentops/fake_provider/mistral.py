"""Mistral wire format: chat completions (JSON and server-sent events) and embeddings, under ``/mistral``.

The `mistralai` SDK is given ``server_url=<root>/mistral`` and appends ``/v1/chat/completions`` and
``/v1/embeddings``. Mistral's API is OpenAI-shaped, so requests are read with the OpenAI module's parsers and
what is said comes from `scenario`; this module only renders Mistral's differences, as the SDK's models
(``mistralai/models``) and the real API have them:

* ``usage`` holds ``prompt_tokens`` / ``completion_tokens`` / ``total_tokens`` only (no details objects);
* a stream ALWAYS ends with a chunk that carries the finish reason and the usage (no ``stream_options``),
  then ``data: [DONE]``;
* a streamed tool call arrives whole in one delta (id, name and all of its arguments, with its ``index``),
  not in argument fragments; tool-call ids are 9 alphanumeric characters;
* errors are ``{"object": "error", "message", "type", "param", "code"}``; a 422 is a validation error
  ``{"detail": [...]}`` (the SDK raises `HTTPValidationError` for it, `SDKError` for any other status);
* embeddings take ``output_dimension`` (not ``dimensions``) and report ``completion_tokens: 0``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from otel_agentops.fake_provider import openai as openai_wire
from otel_agentops.fake_provider.scenario import (
    Completion,
    Usage,
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

PREFIX = "/mistral"
MODELS = ("mistral-small-latest", "mistral-large-latest", "open-mistral-nemo", "mistral-embed")

# (type, code) the real API uses per status; anything else falls back by status class.
_ERROR_KINDS: Mapping[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", "3000"),
    401: ("unauthorized", "1000"),
    404: ("invalid_model", "1500"),
    429: ("rate_limited", "1300"),
}


def error_body(error: WireError) -> dict[str, Any]:
    if error.status == 422:
        location = ["body", error.param] if error.param else ["body"]
        return {"detail": [{"type": "value_error", "loc": location, "msg": error.message, "input": None}]}
    default_type = "internal_server_error" if error.status >= 500 else "invalid_request_error"
    kind, code = _ERROR_KINDS.get(error.status, (default_type, None))
    return {"object": "error", "message": error.message, "type": kind, "param": error.param, "code": code}


# --- chat completions -------------------------------------------------------------------------------------


def _usage(usage: Usage, choices: int = 1) -> dict[str, Any]:
    completion_tokens = usage.output_tokens * choices
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": usage.input_tokens + completion_tokens,
    }


def _tool_call_id(exchange: Exchange, completion: Completion, index: int) -> str:
    return completion.tool_calls[index].id or f"f{exchange.request.sequence:06d}{index:02d}"


def _tool_calls(exchange: Exchange, completion: Completion) -> list[dict[str, Any]]:
    return [
        {
            "id": _tool_call_id(exchange, completion, index),
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments_json},
            "index": index,
        }
        for index, call in enumerate(completion.tool_calls)
    ]


def _envelope(exchange: Exchange, body: dict[str, Any], obj: str) -> dict[str, Any]:
    return {
        # Mistral ids are bare hex; the fake's stay readable and per-request.
        "id": exchange.make_id(""),
        "object": obj,
        "created": int(time.time()),
        "model": body["model"],
    }


def _message(exchange: Exchange, completion: Completion) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": completion.text or "", "prefix": False}
    if completion.tool_calls:
        message["tool_calls"] = _tool_calls(exchange, completion)
    return message


def _stream(exchange: Exchange, body: dict[str, Any], completion: Completion, n: int) -> Iterator[bytes]:
    envelope = _envelope(exchange, body, "chat.completion.chunk")

    def chunk(index: int, delta: dict[str, Any], **extra: Any) -> bytes:
        choice = {"index": index, "delta": delta, "finish_reason": extra.pop("finish_reason", None)}
        return sse_event({**envelope, "choices": [choice], **extra})

    for index in range(n):
        yield chunk(index, {"role": "assistant", "content": ""})
        for piece in text_pieces(completion.text) if completion.text else ():
            yield chunk(index, {"content": piece})
        if completion.tool_calls:
            yield chunk(index, {"tool_calls": _tool_calls(exchange, completion)})
        last = {"finish_reason": completion.finish_reason}
        if index == n - 1:
            last["usage"] = _usage(completion.usage, n)  # type: ignore[assignment]
        yield chunk(index, {"content": ""}, **last)
    yield sse_event("[DONE]")


def chat_completions(exchange: Exchange) -> JsonReply | StreamReply:
    body = openai_wire._body(exchange)
    n = body.get("n") or 1
    if not isinstance(n, int) or not 1 <= n <= openai_wire._MAX_CHOICES:
        raise WireError(422, f"n must be between 1 and {openai_wire._MAX_CHOICES}", param="n")
    completion = complete(openai_wire._chat_conversation(body), exchange.take_script())
    if body.get("stream") is True:
        return StreamReply(_stream(exchange, body, completion, n))
    message = _message(exchange, completion)
    choices = [
        {"index": index, "message": message, "finish_reason": completion.finish_reason} for index in range(n)
    ]
    reply = {
        **_envelope(exchange, body, "chat.completion"),
        "choices": choices,
        "usage": _usage(completion.usage, n),
    }
    return JsonReply(reply)


# --- embeddings -------------------------------------------------------------------------------------------


def embeddings(exchange: Exchange) -> JsonReply:
    body = openai_wire._body(exchange)
    inputs = openai_wire._embedding_inputs(body.get("input"))
    dimensions = body.get("output_dimension") or openai_wire.DEFAULT_EMBEDDING_DIMENSIONS
    if not isinstance(dimensions, int) or dimensions < 1:
        raise WireError(422, "output_dimension must be a positive integer", param="output_dimension")
    data = [
        {"object": "embedding", "embedding": embedding_vector(item, dimensions), "index": index}
        for index, item in enumerate(inputs)
    ]
    tokens = sum(embedding_tokens(item) for item in inputs)
    return JsonReply(
        {
            "id": exchange.make_id("embd-"),
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
        }
    )


WIRE = WireFormat(
    name="mistral",
    routes=(
        Route("POST", PREFIX + "/v1/chat/completions", chat_completions),
        Route("POST", PREFIX + "/v1/embeddings", embeddings),
    ),
    error_body=error_body,
)
