"""Cohere v2 wire format: ``POST /v2/chat`` (JSON, or server-sent events with ``stream: true``) and
``POST /v2/embed``, as the `cohere` SDK's v2 client (``cohere.ClientV2(base_url=<root>)``) sends and parses
them (``cohere/v2/raw_client.py``, ``cohere/v2/types``). What is said comes from `scenario`; this module only
translates:

* messages: ``system`` / ``user`` / ``assistant`` / ``tool`` with string content or a list of ``text`` /
  ``document`` parts; an assistant turn's ``tool_calls`` and a tool result's documents count as prompt text;
* tools are ``{"type": "function", "function": {...}}`` (OpenAI's shape); ``tool_choice: NONE`` offers none;
* a reply has no ``model`` field; text is ``message.content = [{"type": "text", ...}]``; tool calls come
  with a ``tool_plan`` (the scripted text, else a one-line plan) and ids like ``<tool name>_<suffix>``;
* finish reasons map ``stop`` -> ``COMPLETE``, ``tool_calls`` -> ``TOOL_CALL``, ``length`` -> ``MAX_TOKENS``;
* ``usage.billed_units`` holds the scenario's token counts; ``usage.tokens`` counts what the model really
  read, which on the real API includes Cohere's own system preamble: here `PREAMBLE_TOKENS` more input;
* a stream is typed events, each sent as ``event: <type>`` + ``data: {"type": <type>, ...}``:
  ``message-start``, then ``content-start`` / ``content-delta``... / ``content-end`` for text, or
  ``tool-plan-delta``... and per call ``tool-call-start`` / ``tool-call-delta``... / ``tool-call-end``, and
  last ``message-end`` with the finish reason and the usage (no ``[DONE]``);
* errors are ``{"id": ..., "message": ...}`` (the SDK raises `BadRequestError`, `TooManyRequestsError`,
  `InternalServerError`, ... by status);
* embeddings: ``texts`` (or ``inputs``) in, ``embeddings: {"float": [...], "int8": [...]}`` by the requested
  ``embedding_types`` out, with ``meta.billed_units.input_tokens``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from otel_agentops.fake_provider import openai as openai_wire
from otel_agentops.fake_provider.scenario import (
    Completion,
    Conversation,
    Message,
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

MODELS = ("command-a-03-2025", "command-r-plus", "command-r", "embed-v4.0")
PREAMBLE_TOKENS = 64
_API_VERSION = {"version": "2"}
_FINISH_REASONS = {"stop": "COMPLETE", "tool_calls": "TOOL_CALL", "length": "MAX_TOKENS"}
_EMBEDDING_TYPES = frozenset({"float", "int8"})


def error_body(error: WireError) -> dict[str, Any]:
    return {"id": "fake-error", "message": error.message}


# --- request parsing -------------------------------------------------------------------------------------


def _body(exchange: Exchange) -> dict[str, Any]:
    body = exchange.request.body
    if not isinstance(body, dict):
        raise WireError(400, "invalid request: the body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise WireError(400, "invalid request: model must be specified")
    return body


def _text_of(content: Any) -> str:
    """Text of a message content: a string, or its text and document parts."""
    if isinstance(content, str):
        return content
    texts = []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            texts.append(str(part.get("text", "")))
        elif part.get("type") == "document":
            data = (part.get("document") or {}).get("data")
            texts.append(data if isinstance(data, str) else json.dumps(data, separators=(",", ":")))
    return "".join(texts)


def _message(message: Any) -> Message:
    if not isinstance(message, dict):
        raise WireError(400, "invalid request: each message must be an object")
    text = _text_of(message.get("content"))
    for call in message.get("tool_calls") or ():
        if isinstance(call, dict):
            text += str((call.get("function") or {}).get("arguments", ""))
    return Message(openai_wire._role(message.get("role")), text)


def _conversation(body: dict[str, Any]) -> Conversation:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise WireError(400, "invalid request: messages must be a non-empty list")
    choice = "none" if body.get("tool_choice") == "NONE" else None
    return Conversation(
        messages=[_message(message) for message in messages],
        tools=openai_wire._offered_tools(body.get("tools"), choice, openai_wire._chat_tool),
        max_output_tokens=openai_wire._int_or_none(body.get("max_tokens")),
    )


# --- chat -------------------------------------------------------------------------------------------------


def _usage(usage: Usage) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "billed_units": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
        "tokens": {
            "input_tokens": usage.input_tokens + PREAMBLE_TOKENS,
            "output_tokens": usage.output_tokens,
        },
    }
    if usage.cached_tokens:
        rendered["cached_tokens"] = usage.cached_tokens
    return rendered


def _tool_calls(exchange: Exchange, completion: Completion) -> list[dict[str, Any]]:
    return [
        {
            "id": call.id or f"{call.name}_{exchange.make_id('')}{index}",
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments_json},
        }
        for index, call in enumerate(completion.tool_calls)
    ]


def _tool_plan(completion: Completion) -> str:
    return completion.text or "I will call " + ", ".join(call.name for call in completion.tool_calls) + "."


def _chat_reply(exchange: Exchange, completion: Completion) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant"}
    if completion.tool_calls:
        message["tool_plan"] = _tool_plan(completion)
        message["tool_calls"] = _tool_calls(exchange, completion)
    else:
        message["content"] = [{"type": "text", "text": completion.text or ""}]
    return {
        "id": exchange.make_id(""),
        "finish_reason": _FINISH_REASONS[completion.finish_reason],
        "message": message,
        "usage": _usage(completion.usage),
    }


def _events(exchange: Exchange, completion: Completion) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event type, fields) in the order the real API sends them."""
    opening = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}
    yield "message-start", {"id": exchange.make_id(""), "delta": {"message": opening}}
    if completion.tool_calls:
        for piece in text_pieces(_tool_plan(completion)):
            yield "tool-plan-delta", {"delta": {"message": {"tool_plan": piece}}}
        for index, call in enumerate(_tool_calls(exchange, completion)):
            start = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
            yield "tool-call-start", {"index": index, "delta": {"message": {"tool_calls": start}}}
            for piece in argument_pieces(call["function"]["arguments"]):
                fragment = {"tool_calls": {"function": {"arguments": piece}}}
                yield "tool-call-delta", {"index": index, "delta": {"message": fragment}}
            yield "tool-call-end", {"index": index}
    else:
        yield "content-start", {"index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}}
        for piece in text_pieces(completion.text) if completion.text else ():
            yield "content-delta", {"index": 0, "delta": {"message": {"content": {"text": piece}}}}
        yield "content-end", {"index": 0}
    closing = {"finish_reason": _FINISH_REASONS[completion.finish_reason], "usage": _usage(completion.usage)}
    yield "message-end", {"delta": closing}


def _stream(exchange: Exchange, completion: Completion) -> Iterator[bytes]:
    for kind, fields in _events(exchange, completion):
        yield sse_event({"type": kind, **fields}, event=kind)


def chat(exchange: Exchange) -> JsonReply | StreamReply:
    body = _body(exchange)
    completion = complete(_conversation(body), exchange.take_script())
    if body.get("stream") is True:
        return StreamReply(_stream(exchange, completion))
    return JsonReply(_chat_reply(exchange, completion))


# --- embed ------------------------------------------------------------------------------------------------


def _embed_texts(body: dict[str, Any]) -> list[str]:
    texts = body.get("texts")
    if texts is None and isinstance(body.get("inputs"), list):
        texts = [_text_of(item.get("content")) for item in body["inputs"] if isinstance(item, dict)]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise WireError(400, "invalid request: texts must be a non-empty list of strings")
    return texts


def _quantized(vector: list[float]) -> list[int]:
    return [max(-128, min(127, round(value * 127))) for value in vector]


def embed(exchange: Exchange) -> JsonReply:
    body = _body(exchange)
    texts = _embed_texts(body)
    dimensions = body.get("output_dimension") or openai_wire.DEFAULT_EMBEDDING_DIMENSIONS
    if not isinstance(dimensions, int) or dimensions < 1:
        raise WireError(400, "invalid request: output_dimension must be a positive integer")
    kinds = body.get("embedding_types") or ["float"]
    if not isinstance(kinds, list) or not set(kinds) <= _EMBEDDING_TYPES:
        raise WireError(400, f"invalid request: embedding_types must be among {sorted(_EMBEDDING_TYPES)}")
    vectors = [embedding_vector(text, dimensions) for text in texts]
    rendered: Mapping[str, list[Any]] = {
        "float": vectors,
        "int8": [_quantized(vector) for vector in vectors],
    }
    tokens = sum(embedding_tokens(text) for text in texts)
    return JsonReply(
        {
            "id": exchange.make_id(""),
            "response_type": "embeddings_by_type",
            "embeddings": {kind: rendered[kind] for kind in kinds},
            "texts": texts,
            "meta": {"api_version": _API_VERSION, "billed_units": {"input_tokens": tokens}},
        }
    )


WIRE = WireFormat(
    name="cohere",
    routes=(
        Route("POST", "/v2/chat", chat),
        Route("POST", "/v2/embed", embed),
    ),
    error_body=error_body,
)
