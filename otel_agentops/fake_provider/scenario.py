"""What the fake model "says", independent of any provider's wire format.

Wire modules translate their request into a `Conversation`, ask `complete()` for a `Completion` and render
it in their own JSON / event shapes, so every provider answers the same question the same way and tests can
predict the exact text and token counts.

Default behaviour (when no reply was scripted):

* The request offers tools and no tool result follows the last user message: call one tool, the first offered
  tool whose name occurs in the last user message, else the first offered tool. Its arguments are built from
  its JSON schema (`arguments_for_schema`). Finish reason `tool_calls`.
* Otherwise answer with text: ``"Based on the tool result: <first 60 chars>"`` when the last message is a tool
  result, else ``"Fake answer to: <first 60 chars of the last user text>"``. Finish reason `stop`, or `length`
  when `max_output_tokens` is smaller than the answer (the text is then cut to that many words).

Token formulas (the only place they live):

* input tokens  = ceil(characters of all message text / 4) + 3 per message
* output tokens = whitespace-separated words of the text + ceil(characters of all tool-call arguments / 4)
* embedding input tokens = ceil(characters / 4) per text input, the array length per token-array input
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from hashlib import shake_256
from typing import Any, Literal

FinishReason = Literal["stop", "tool_calls", "length"]
Role = Literal["system", "user", "assistant", "tool"]

_EXCERPT_CHARS = 60
_STRING_ARG_CHARS = 40
_TOKENS_PER_MESSAGE = 3
_CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Message:
    """One turn of the conversation reduced to what the fake model looks at."""

    role: Role
    text: str


@dataclass(frozen=True)
class ToolSpec:
    """A function tool offered by the request; `parameters` is its JSON schema."""

    name: str
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Conversation:
    messages: Sequence[Message]
    tools: Sequence[ToolSpec] = ()
    max_output_tokens: int | None = None

    @property
    def last_user_text(self) -> str:
        return next((m.text for m in reversed(self.messages) if m.role == "user"), "")

    @property
    def has_tool_result(self) -> bool:
        """Whether a tool result follows the last user message (the model already used a tool this turn)."""
        for message in reversed(self.messages):
            if message.role == "user":
                return False
            if message.role == "tool":
                return True
        return False


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    # None lets the wire module mint an id in its provider's style (call_..., toolu_...).
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, separators=(",", ":"))


@dataclass(frozen=True)
class Reply:
    """A scripted answer; fields left unset fall back to the default behaviour and the token formulas.

    A reply with neither text nor tool calls keeps the default answer, so a script can set usage alone.
    """

    text: str | None = None
    tool_calls: Sequence[ToolCall] = ()
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    finish_reason: FinishReason | None = None
    # Prompt tokens written to the provider's cache (Anthropic's cache_creation_input_tokens); like
    # `cached_tokens`, part of `input_tokens`.
    cache_creation_tokens: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reply:
        """Build a reply from JSON (the control endpoint); unknown keys are an error, not silently ignored."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown reply field(s): {', '.join(sorted(unknown))}")
        calls = tuple(ToolCall(**call) for call in data.get("tool_calls", ()))
        return cls(**{**data, "tool_calls": calls})


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_creation_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class Completion:
    """A fully resolved answer: what every wire module renders."""

    text: str | None
    tool_calls: tuple[ToolCall, ...]
    finish_reason: FinishReason
    usage: Usage


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / _CHARS_PER_TOKEN)


def input_tokens(messages: Sequence[Message]) -> int:
    chars = sum(len(m.text) for m in messages)
    return math.ceil(chars / _CHARS_PER_TOKEN) + _TOKENS_PER_MESSAGE * len(messages)


def output_tokens(text: str | None, tool_calls: Sequence[ToolCall]) -> int:
    argument_chars = sum(len(call.arguments_json) for call in tool_calls)
    return len((text or "").split()) + math.ceil(argument_chars / _CHARS_PER_TOKEN)


def complete(conversation: Conversation, script: Reply | None = None) -> Completion:
    """Resolve the answer to `conversation`: the scripted reply if any, else the default behaviour."""
    reply = script if script is not None else Reply()
    said = reply if reply.text is not None or reply.tool_calls else default_reply(conversation)
    text, tool_calls = said.text, tuple(said.tool_calls)
    finish_reason = reply.finish_reason or ("tool_calls" if tool_calls else "stop")
    limit = conversation.max_output_tokens
    # Only unscripted finish reasons are derived: a script that says "stop" must get "stop".
    if reply.finish_reason is None and not tool_calls and text and limit is not None:
        words = text.split()
        if len(words) > limit:
            text, finish_reason = " ".join(words[:limit]), "length"
    counted_in, counted_out = input_tokens(conversation.messages), output_tokens(text, tool_calls)
    usage = Usage(
        input_tokens=counted_in if reply.input_tokens is None else reply.input_tokens,
        output_tokens=counted_out if reply.output_tokens is None else reply.output_tokens,
        cached_tokens=reply.cached_tokens,
        reasoning_tokens=reply.reasoning_tokens,
        cache_creation_tokens=reply.cache_creation_tokens,
    )
    return Completion(text=text, tool_calls=tool_calls, finish_reason=finish_reason, usage=usage)


def default_reply(conversation: Conversation) -> Reply:
    user_text = conversation.last_user_text
    if conversation.tools and not conversation.has_tool_result:
        tool = _choose_tool(conversation.tools, user_text)
        return Reply(tool_calls=(ToolCall(tool.name, arguments_for_schema(tool.parameters, user_text)),))
    last = conversation.messages[-1] if conversation.messages else None
    if last is not None and last.role == "tool":
        return Reply(text=f"Based on the tool result: {_excerpt(last.text)}")
    return Reply(text=f"Fake answer to: {_excerpt(user_text)}")


def _choose_tool(tools: Sequence[ToolSpec], user_text: str) -> ToolSpec:
    # Naming a tool in the prompt selects it, so a demo agent can walk through several different tools.
    lowered = user_text.lower()
    return next((tool for tool in tools if tool.name.lower() in lowered), tools[0])


def _excerpt(text: str) -> str:
    return " ".join(text.split())[:_EXCERPT_CHARS]


def arguments_for_schema(schema: Mapping[str, Any], user_text: str) -> dict[str, Any]:
    """Arguments for an object schema: its required properties (all of them when `required` is absent)."""
    properties: Mapping[str, Any] = schema.get("properties") or {}
    required = schema.get("required", list(properties))
    return {name: value_for_schema(properties.get(name, {}), user_text) for name in required}


def value_for_schema(schema: Mapping[str, Any], user_text: str) -> Any:
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for union_key in ("anyOf", "oneOf"):
        if schema.get(union_key):
            return value_for_schema(schema[union_key][0], user_text)
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind in ("number", "integer"):
        return 1
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "array":
        return [value_for_schema(schema.get("items") or {}, user_text)]
    if kind == "object":
        return arguments_for_schema(schema, user_text)
    return _excerpt(user_text)[:_STRING_ARG_CHARS].strip() or "example"


def text_pieces(text: str) -> list[str]:
    """Split text into streaming deltas of one word each (with its trailing space), so joining restores it."""
    return re.findall(r"\s*\S+\s*", text) or [text]


def argument_pieces(arguments: str, pieces: int = 3) -> list[str]:
    """Split tool-call arguments so no single delta is valid JSON on its own, as with real providers."""
    size = max(1, math.ceil(len(arguments) / pieces))
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]


def embedding_vector(item: str | Sequence[int], dimensions: int) -> list[float]:
    """A deterministic unit vector for an input; values are float32 so base64 and float encodings agree."""
    key = item if isinstance(item, str) else "tokens:" + ",".join(str(t) for t in item)
    raw = struct.unpack(f"<{dimensions}I", shake_256(key.encode()).digest(4 * dimensions))
    centred = [value / 0xFFFFFFFF * 2 - 1 for value in raw]
    norm = math.sqrt(sum(v * v for v in centred)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in centred))
    return list(struct.unpack(f"<{dimensions}f", packed))


def embedding_tokens(item: str | Sequence[int]) -> int:
    return text_tokens(item) if isinstance(item, str) else len(item)
