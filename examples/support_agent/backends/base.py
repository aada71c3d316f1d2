"""What the agent loop needs from a model, whatever the client library: one chat turn with tools, an
embedding, a streamed answer. Each backend module translates these to its SDK's own calls, so the same
agent runs (and is traced) on every provider the plugin instruments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """The model's reply: either text or tool calls to run."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class UserMessage:
    text: str


@dataclass(frozen=True)
class AssistantMessage:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class ToolResult:
    call_id: str
    name: str
    content: str  # JSON text


HistoryItem = UserMessage | AssistantMessage | ToolResult


class Backend(Protocol):
    model: str

    def embed(self, text: str) -> None: ...

    def chat(self, system: str, history: Sequence[HistoryItem], tools: Sequence[ToolSpec]) -> Turn: ...

    def stream(self, prompt: str) -> str: ...
