"""Gemini API wire format (``generativelanguage.googleapis.com``), as the `google-genai` SDK speaks it.

Served under ``/v1beta`` (the SDK's default API version) and ``/v1``:

* ``POST /v1beta/models/{model}:generateContent``: one `GenerateContentResponse`;
* ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse``: server-sent events, each a partial
  `GenerateContentResponse` (one word of text per event; a function call arrives whole, as the real API
  sends it);
* ``POST /v1beta/models/{model}:batchEmbedContents`` (what ``models.embed_content`` posts) and
  ``:embedContent`` (one content);
* ``POST /v1beta/models/{model}:countTokens`` (not a model call: it uses up no scripted reply).

Errors have Google's shape, ``{"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED"}}``;
429 + Retry-After, 5xx, delays and cut streams come from the server's generic fault machinery.

What is said comes from `scenario`; this module only translates:

* roles: ``model`` is the assistant; a ``user`` turn made of ``functionResponse`` parts is a tool result;
  ``systemInstruction`` is a system message; ``functionCall`` arguments count as prompt text;
* ``toolConfig.functionCallingConfig``: mode ``NONE`` offers no tool, ``allowedFunctionNames`` narrows them;
* ``usageMetadata``: ``promptTokenCount`` is the whole prompt (``cachedContentTokenCount`` is part of it,
  as the real API reports it), ``candidatesTokenCount`` excludes the ``thoughtsTokenCount`` (the scenario's
  output tokens include reasoning tokens, OpenAI's convention); a stream's intermediate events carry the
  prompt count only, its last event the whole usage;
* finish reasons: ``stop`` and ``tool_calls`` -> ``STOP`` (Gemini has no tool-call reason), ``length`` ->
  ``MAX_TOKENS``. A function call has an ``id`` only when the script gives one (the Gemini API usually omits
  it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from otel_agentops.fake_provider.anthropic import _tool_input
from otel_agentops.fake_provider.scenario import (
    Completion,
    Conversation,
    Message,
    ToolSpec,
    Usage,
    complete,
    embedding_tokens,
    embedding_vector,
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

API_VERSIONS = ("/v1beta", "/v1")
DEFAULT_EMBEDDING_DIMENSIONS = 8

_FINISH_REASONS = {"stop": "STOP", "tool_calls": "STOP", "length": "MAX_TOKENS"}
# google.rpc.Code names the real API puts in `error.status`, per HTTP status.
_STATUSES: Mapping[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_body(error: WireError) -> dict[str, Any]:
    default = "INTERNAL" if error.status >= 500 else "FAILED_PRECONDITION"
    status = _STATUSES.get(error.status, default)
    return {"error": {"code": error.status, "message": error.message, "status": status}}


# --- request parsing -------------------------------------------------------------------------------------


def _body(exchange: Exchange) -> dict[str, Any]:
    body = exchange.request.body
    if not isinstance(body, dict):
        raise WireError(400, "Invalid JSON payload received. Request body must be a JSON object.")
    return body


def _model(exchange: Exchange) -> str:
    return exchange.request.path_params["model"]


def _part_text(part: Any) -> tuple[str, bool]:
    """(prompt text of one part, whether it is a function response)."""
    if not isinstance(part, dict):
        return "", False
    if "text" in part:
        return str(part["text"]), False
    if isinstance(part.get("functionCall"), dict):
        return json.dumps(part["functionCall"].get("args") or {}, separators=(",", ":")), False
    if isinstance(part.get("functionResponse"), dict):
        response = part["functionResponse"].get("response")
        return (response if isinstance(response, str) else json.dumps(response, separators=(",", ":"))), True
    return "", False


def _content(content: Any, default_role: str = "user") -> Message:
    if not isinstance(content, dict):
        raise WireError(400, "Invalid value at 'contents': each content must be an object.")
    role = content.get("role") or default_role
    if role not in ("user", "model"):
        raise WireError(400, f"Please use a valid role: user, model. Got {role!r}.")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise WireError(400, "contents.parts must not be empty.")
    texts, responses = zip(*(_part_text(part) for part in parts), strict=True)
    if role == "model":
        return Message("assistant", "".join(texts))
    return Message("tool" if all(responses) else "user", "".join(texts))


def _lowercase_types(schema: Any) -> Any:
    """Gemini's `Schema` spells types in capitals (``OBJECT``); the scenario reads JSON schema."""
    if isinstance(schema, list):
        return [_lowercase_types(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: _lowercase_types(value) for key, value in schema.items()}
    if isinstance(converted.get("type"), str):
        converted["type"] = converted["type"].lower()
    return converted


# Where a function declaration's schema may be: the SDK sends `parameters_json_schema` in snake case (the
# real API reads proto field names in either case).
_SCHEMA_KEYS = ("parametersJsonSchema", "parameters_json_schema", "parameters")


def _offered_tools(body: dict[str, Any]) -> tuple[ToolSpec, ...]:
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if str(config.get("mode", "")).upper() == "NONE":
        return ()
    specs = tuple(
        ToolSpec(
            str(declaration["name"]),
            _lowercase_types(next((declaration[k] for k in _SCHEMA_KEYS if declaration.get(k)), {})),
        )
        for tool in body.get("tools") or ()
        if isinstance(tool, dict)
        for declaration in tool.get("functionDeclarations") or ()
        if isinstance(declaration, dict) and "name" in declaration
    )
    allowed = config.get("allowedFunctionNames")
    if allowed:
        return tuple(spec for spec in specs if spec.name in allowed) or specs
    return specs


def _conversation(body: dict[str, Any]) -> Conversation:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise WireError(400, "* GenerateContentRequest.contents: contents is not specified")
    messages = [_content(content) for content in contents]
    system = body.get("systemInstruction")
    if system:
        messages.insert(0, Message("system", _content(system).text))
    limit = (body.get("generationConfig") or {}).get("maxOutputTokens")
    return Conversation(
        messages=messages,
        tools=_offered_tools(body),
        max_output_tokens=limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
    )


# --- replies ----------------------------------------------------------------------------------------------


def _usage(usage: Usage, *, final: bool = True) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "promptTokenCount": usage.input_tokens,
        "totalTokenCount": usage.input_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage.input_tokens}],
    }
    if usage.cached_tokens:
        metadata["cachedContentTokenCount"] = usage.cached_tokens
    if final:
        thoughts = min(usage.reasoning_tokens, usage.output_tokens)
        metadata["candidatesTokenCount"] = usage.output_tokens - thoughts
        metadata["totalTokenCount"] = usage.total_tokens
        if thoughts:
            metadata["thoughtsTokenCount"] = thoughts
    return metadata


def _function_call_parts(completion: Completion) -> list[dict[str, Any]]:
    parts = []
    for call in completion.tool_calls:
        function_call: dict[str, Any] = {"name": call.name, "args": _tool_input(call)}
        if call.id:
            function_call["id"] = call.id
        parts.append({"functionCall": function_call})
    return parts


def _response(
    exchange: Exchange, parts: list[dict[str, Any]], finish: str | None, usage: dict[str, Any]
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": _model(exchange),
        "responseId": exchange.make_id("gemini-"),
    }


def _complete(exchange: Exchange) -> Completion:
    return complete(_conversation(_body(exchange)), exchange.take_script())


def generate_content(exchange: Exchange) -> JsonReply:
    completion = _complete(exchange)
    parts = [{"text": completion.text}] if completion.text is not None else []
    parts += _function_call_parts(completion)
    finish = _FINISH_REASONS[completion.finish_reason]
    return JsonReply(_response(exchange, parts, finish, _usage(completion.usage)))


def _stream(exchange: Exchange, completion: Completion) -> Iterator[bytes]:
    text = completion.text
    events: list[list[dict[str, Any]]] = [[{"text": piece}] for piece in text_pieces(text)] if text else []
    calls = _function_call_parts(completion)
    if calls:
        events.append(calls)
    if not events:
        events = [[{"text": ""}]]
    last = len(events) - 1
    for index, parts in enumerate(events):
        final = index == last
        finish = _FINISH_REASONS[completion.finish_reason] if final else None
        yield sse_event(_response(exchange, parts, finish, _usage(completion.usage, final=final)))


def stream_generate_content(exchange: Exchange) -> StreamReply:
    return StreamReply(_stream(exchange, _complete(exchange)))


def _embedding(content: Any, config: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    text = _content(content).text
    dimensions = config.get("outputDimensionality") or DEFAULT_EMBEDDING_DIMENSIONS
    return {"values": embedding_vector(text, dimensions)}, embedding_tokens(text)


def batch_embed_contents(exchange: Exchange) -> JsonReply:
    requests = _body(exchange).get("requests")
    if not isinstance(requests, list) or not requests:
        raise WireError(400, "* BatchEmbedContentsRequest.requests: requests is not specified")
    embeddings = [_embedding(request.get("content"), request)[0] for request in requests]
    return JsonReply({"embeddings": embeddings})


def embed_content(exchange: Exchange) -> JsonReply:
    body = _body(exchange)
    embedding, tokens = _embedding(body.get("content"), body)
    return JsonReply({"embedding": embedding, "usageMetadata": {"promptTokenCount": tokens}})


def count_tokens(exchange: Exchange) -> JsonReply:
    body = _body(exchange)
    request = body.get("generateContentRequest") or body
    return JsonReply({"totalTokens": input_tokens(_conversation(request).messages)})


_ACTIONS = (
    ("generateContent", generate_content),
    ("streamGenerateContent", stream_generate_content),
    ("batchEmbedContents", batch_embed_contents),
    ("embedContent", embed_content),
    ("countTokens", count_tokens),
)

WIRE = WireFormat(
    name="gemini",
    # `{model}` matches one path segment; the literal ":action" after it still has to match the path's end.
    routes=tuple(
        Route("POST", f"{version}/models/{{model}}:{action}", handler)
        for version in API_VERSIONS
        for action, handler in _ACTIONS
    ),
    error_body=error_body,
)
