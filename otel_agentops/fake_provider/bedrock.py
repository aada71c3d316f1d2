"""AWS Bedrock Runtime wire format: Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream.

Shapes follow the ``bedrock-runtime`` service model that botocore ships, closely enough that a real boto3
client (``endpoint_url=fp.bedrock_endpoint_url``) parses every reply. What is said comes from `scenario`:

* ``POST /model/{modelId}/converse`` and ``/converse-stream``: Bedrock's own message shape (content blocks
  ``text`` / ``toolUse`` / ``toolResult``, ``system`` blocks, ``inferenceConfig.maxTokens``, ``toolConfig``).
  ``usage.inputTokens`` EXCLUDES cached tokens, as Bedrock reports it (``cacheReadInputTokens`` /
  ``cacheWriteInputTokens`` are separate and ``totalTokens`` is the sum of all).
* ``POST /model/{modelId}/invoke`` and ``/invoke-with-response-stream`` for Anthropic models: the body is the
  Anthropic Messages JSON with ``anthropic_version: bedrock-2023-05-31`` and no ``model``; the reply (and each
  streamed chunk) is what Anthropic's API answers, translated by the `anthropic` wire module; the last chunk
  carries ``amazon-bedrock-invocationMetrics`` as Bedrock adds it.
* Streams use the AWS binary event-stream framing (`event_message`), one event per HTTP chunk, so a fault's
  ``cut_stream_after`` cuts between events.
* Errors: ``x-amzn-ErrorType`` header plus ``{"message": ...}``. Faults are rendered by the generic server,
  which sends no provider headers, so the body also carries ``__type`` (botocore reads the error code from
  either); 429 is ``ThrottlingException``, 400 ``ValidationException``, 500 ``InternalServerException``.

Model ids contain ``:`` (``anthropic.claude-3-5-haiku-20241022-v1:0``), which botocore sends URL-encoded
(``%3A``); the handlers decode the path segment.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote

from otel_agentops.fake_provider import anthropic as anthropic_wire
from otel_agentops.fake_provider.scenario import (
    Completion,
    Conversation,
    Message,
    ToolSpec,
    argument_pieces,
    complete,
    text_pieces,
)
from otel_agentops.fake_provider.wire import Exchange, JsonReply, Route, StreamReply, WireError, WireFormat

EVENT_STREAM = "application/vnd.amazon.eventstream"
ANTHROPIC_VERSION = "bedrock-2023-05-31"
_STOP_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}
_ERROR_CODES: Mapping[int, str] = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
_LATENCY_MS = 42  # fixed, so replies are stable
# Region / inference-profile prefix and version suffix around an Anthropic model id.
_ANTHROPIC_ID = re.compile(r"^(?:[a-z-]+\.)?anthropic\.(?P<name>.+?)(?:-v\d+(?::\d+)?)?$")


def error_code(status: int) -> str:
    return _ERROR_CODES.get(status, "InternalServerException" if status >= 500 else "ValidationException")


def error_body(error: WireError) -> dict[str, Any]:
    return {"message": error.message, "__type": error_code(error.status)}


def _error(status: int, message: str) -> JsonReply:
    """A route-level error exactly as Bedrock sends it, header included."""
    error = WireError(status, message)
    return JsonReply(error_body(error), status=status, headers={"x-amzn-ErrorType": error_code(status)})


# --- the AWS event-stream framing -------------------------------------------------------------------------

_STRING_HEADER = 7


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack(">B", len(raw_name))
        + raw_name
        + struct.pack(">BH", _STRING_HEADER, len(raw_value))
        + raw_value
    )


def event_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (total length, headers length, CRC32), headers, payload, CRC32."""
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(event_type: str, data: Mapping[str, Any]) -> bytes:
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return event_message(headers, json.dumps(data, separators=(",", ":")).encode())


# --- requests ---------------------------------------------------------------------------------------------


def _model_id(exchange: Exchange) -> str:
    return unquote(exchange.request.path_params["model"])


def _body(exchange: Exchange) -> dict[str, Any]:
    body = exchange.request.body
    if not isinstance(body, dict):
        raise WireError(400, "Malformed input request, please reformat your input and try again.")
    return body


def _block_text(block: Mapping[str, Any]) -> tuple[str, bool]:
    """(prompt text, is a tool result) of one Converse content block."""
    if "text" in block:
        return str(block["text"]), False
    if isinstance(block.get("toolUse"), dict):
        return json.dumps(block["toolUse"].get("input") or {}, separators=(",", ":")), False
    result = block.get("toolResult")
    if isinstance(result, dict):
        parts = [
            str(item["text"]) if "text" in item else json.dumps(item.get("json"), separators=(",", ":"))
            for item in result.get("content") or ()
            if isinstance(item, dict)
        ]
        return "".join(parts), True
    return "", False


def _converse_message(message: Any) -> Message:
    role = message.get("role") if isinstance(message, dict) else None
    if role not in ("user", "assistant"):
        raise WireError(400, f"The model returned the following errors: invalid role {role!r}")
    texts, tool_result = [], False
    for block in message.get("content") or ():
        if isinstance(block, dict):
            text, is_result = _block_text(block)
            texts.append(text)
            tool_result = tool_result or is_result
    return Message("tool" if tool_result and role == "user" else role, "".join(texts))


def _converse_tools(body: Mapping[str, Any]) -> tuple[ToolSpec, ...]:
    config = body.get("toolConfig")
    if not isinstance(config, dict):
        return ()
    specs = tuple(
        ToolSpec(str(spec["name"]), (spec.get("inputSchema") or {}).get("json") or {})
        for spec in (tool.get("toolSpec") for tool in config.get("tools") or () if isinstance(tool, dict))
        if isinstance(spec, dict) and "name" in spec
    )
    chosen = (config.get("toolChoice") or {}).get("tool")
    if isinstance(chosen, dict):
        return tuple(spec for spec in specs if spec.name == chosen.get("name")) or specs
    return specs


def _converse_conversation(body: Mapping[str, Any]) -> Conversation:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise WireError(400, "A conversation must start with a user message. Try again with a conversation.")
    parsed = [_converse_message(message) for message in messages]
    system = "".join(
        str(block.get("text", "")) for block in body.get("system") or () if isinstance(block, dict)
    )
    if system:
        parsed.insert(0, Message("system", system))
    max_tokens = (body.get("inferenceConfig") or {}).get("maxTokens")
    return Conversation(
        messages=parsed,
        tools=_converse_tools(body),
        max_output_tokens=max_tokens
        if isinstance(max_tokens, int) and not isinstance(max_tokens, bool)
        else None,
    )


# --- Converse replies -------------------------------------------------------------------------------------


def _converse_usage(completion: Completion) -> dict[str, int]:
    usage = completion.usage
    cached, written = usage.cached_tokens, usage.cache_creation_tokens
    counts = {
        "inputTokens": max(usage.input_tokens - cached - written, 0),
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.input_tokens + usage.output_tokens,
    }
    if cached:
        counts["cacheReadInputTokens"] = cached
    if written:
        counts["cacheWriteInputTokens"] = written
    return counts


def _tool_use_id(exchange: Exchange, index: int, given: str | None) -> str:
    return given or f"{exchange.make_id('tooluse_')}_{index}"


def _converse_content(exchange: Exchange, completion: Completion) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    if completion.text is not None:
        content.append({"text": completion.text})
    for index, call in enumerate(completion.tool_calls):
        content.append(
            {
                "toolUse": {
                    "toolUseId": _tool_use_id(exchange, index, call.id),
                    "name": call.name,
                    "input": json.loads(call.arguments_json or "{}"),
                }
            }
        )
    return content


def _converse_completion(exchange: Exchange) -> Completion:
    return complete(_converse_conversation(_body(exchange)), exchange.take_script())


def converse(exchange: Exchange) -> JsonReply:
    try:
        completion = _converse_completion(exchange)
    except WireError as error:
        return _error(error.status, error.message)
    return JsonReply(
        {
            "output": {"message": {"role": "assistant", "content": _converse_content(exchange, completion)}},
            "stopReason": _STOP_REASONS[completion.finish_reason],
            "usage": _converse_usage(completion),
            "metrics": {"latencyMs": _LATENCY_MS},
        }
    )


def _converse_events(exchange: Exchange, completion: Completion) -> Iterator[bytes]:
    yield event("messageStart", {"role": "assistant"})
    index = 0
    if completion.text is not None:
        # Bedrock opens text blocks implicitly: the first delta is the start.
        for piece in text_pieces(completion.text) if completion.text else ():
            yield event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}})
        yield event("contentBlockStop", {"contentBlockIndex": index})
        index += 1
    for call_index, call in enumerate(completion.tool_calls):
        start = {"toolUse": {"toolUseId": _tool_use_id(exchange, call_index, call.id), "name": call.name}}
        yield event("contentBlockStart", {"contentBlockIndex": index, "start": start})
        for piece in argument_pieces(call.arguments_json):
            yield event(
                "contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}}
            )
        yield event("contentBlockStop", {"contentBlockIndex": index})
        index += 1
    yield event("messageStop", {"stopReason": _STOP_REASONS[completion.finish_reason]})
    yield event("metadata", {"usage": _converse_usage(completion), "metrics": {"latencyMs": _LATENCY_MS}})


def converse_stream(exchange: Exchange) -> JsonReply | StreamReply:
    try:
        completion = _converse_completion(exchange)
    except WireError as error:
        return _error(error.status, error.message)
    return StreamReply(_converse_events(exchange, completion), content_type=EVENT_STREAM)


# --- InvokeModel (Anthropic models) -----------------------------------------------------------------------


def anthropic_model_name(model_id: str) -> str:
    """The model name Anthropic's body reports: ``us.anthropic.claude-x-v1:0`` -> ``claude-x``."""
    found = _ANTHROPIC_ID.match(model_id)
    return found.group("name") if found else model_id


def _anthropic_body(exchange: Exchange) -> tuple[dict[str, Any], Completion]:
    model_id = _model_id(exchange)
    if ".anthropic." not in f".{model_id}":
        raise WireError(
            400, f"The fake provider serves InvokeModel for Anthropic models only, not {model_id}."
        )
    body = _body(exchange)
    if body.get("anthropic_version") != ANTHROPIC_VERSION:
        raise WireError(400, f"Malformed input request: anthropic_version must be {ANTHROPIC_VERSION!r}.")
    if "model" in body:
        raise WireError(400, "Malformed input request: extraneous key [model] is not permitted.")
    # The Anthropic wire module reads the model from the body; Bedrock names it in the URL.
    body = {**body, "model": anthropic_model_name(model_id)}
    if not isinstance(body.get("max_tokens"), int):
        raise WireError(400, "Malformed input request: #: required key [max_tokens] not found.")
    return body, complete(anthropic_wire._conversation(body), exchange.take_script())


def _invocation_metrics(completion: Completion) -> dict[str, int]:
    return {
        "inputTokenCount": completion.usage.input_tokens,
        "outputTokenCount": completion.usage.output_tokens,
        "invocationLatency": _LATENCY_MS,
        "firstByteLatency": _LATENCY_MS,
    }


def invoke(exchange: Exchange) -> JsonReply:
    try:
        body, completion = _anthropic_body(exchange)
    except WireError as error:
        return _error(error.status, error.message)
    content = anthropic_wire._content_blocks(exchange, completion)
    message = anthropic_wire._message_object(exchange, body, completion, content)
    return JsonReply(message, headers=_invoke_headers(completion))


def _invoke_headers(completion: Completion) -> dict[str, str]:
    return {
        "X-Amzn-Bedrock-Input-Token-Count": str(completion.usage.input_tokens),
        "X-Amzn-Bedrock-Output-Token-Count": str(completion.usage.output_tokens),
        "X-Amzn-Bedrock-Invocation-Latency": str(_LATENCY_MS),
    }


def _chunk(data: Mapping[str, Any]) -> bytes:
    encoded = base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()
    return event("chunk", {"bytes": encoded})


def _invoke_events(exchange: Exchange, body: dict[str, Any], completion: Completion) -> Iterator[bytes]:
    # Anthropic's own event sequence, re-framed: each SSE data line becomes one chunk (pings are not sent).
    for sse in anthropic_wire._stream(exchange, body, completion):
        data = json.loads(sse.split(b"data: ", 1)[1])
        if data["type"] == "ping":
            continue
        if data["type"] == "message_stop":
            data["amazon-bedrock-invocationMetrics"] = _invocation_metrics(completion)
        yield _chunk(data)


def invoke_stream(exchange: Exchange) -> JsonReply | StreamReply:
    try:
        body, completion = _anthropic_body(exchange)
    except WireError as error:
        return _error(error.status, error.message)
    return StreamReply(_invoke_events(exchange, body, completion), content_type=EVENT_STREAM)


WIRE = WireFormat(
    name="bedrock",
    routes=(
        Route("POST", "/model/{model}/converse", converse),
        Route("POST", "/model/{model}/converse-stream", converse_stream),
        Route("POST", "/model/{model}/invoke", invoke),
        Route("POST", "/model/{model}/invoke-with-response-stream", invoke_stream),
    ),
    error_body=error_body,
)
