"""The agent on the `anthropic` SDK (messages with tool_use blocks; no embeddings API)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from support_agent.backends.base import (
    AssistantMessage,
    HistoryItem,
    ToolCall,
    ToolResult,
    ToolSpec,
    Turn,
    UserMessage,
)

MODEL = "claude-haiku-4-5"
MAX_TOKENS = 512


class AnthropicBackend:
    def __init__(self, client: Any, model: str = MODEL) -> None:
        self.client = client
        self.model = model

    def embed(self, text: str) -> None:
        """Anthropic has no embeddings API: nothing to call."""

    def chat(self, system: str, history: Sequence[HistoryItem], tools: Sequence[ToolSpec]) -> Turn:
        response = self.client.messages.create(
            model=self.model,
            max_tokens=MAX_TOKENS,
            system=system,
            messages=_messages(history),
            tools=[
                {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
            ],
        )
        text = "".join(block.text for block in response.content if block.type == "text")
        calls = tuple(
            ToolCall(block.id, block.name, dict(block.input))
            for block in response.content
            if block.type == "tool_use"
        )
        return Turn(text, calls)

    def stream(self, prompt: str) -> str:
        with self.client.messages.stream(
            model=self.model, max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": prompt}]
        ) as stream:
            return "".join(stream.text_stream)


def _messages(history: Sequence[HistoryItem]) -> list[dict[str, Any]]:
    """Anthropic wants tool results as user turns; consecutive results share one turn."""
    messages: list[dict[str, Any]] = []
    for item in history:
        if isinstance(item, UserMessage):
            messages.append({"role": "user", "content": item.text})
        elif isinstance(item, AssistantMessage):
            blocks: list[dict[str, Any]] = [{"type": "text", "text": item.text}] if item.text else []
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                for c in item.tool_calls
            ]
            messages.append({"role": "assistant", "content": blocks})
        else:
            assert isinstance(item, ToolResult)
            block = {"type": "tool_result", "tool_use_id": item.call_id, "content": item.content}
            if messages and messages[-1]["role"] == "user" and isinstance(messages[-1]["content"], list):
                messages[-1]["content"].append(block)
            else:
                messages.append({"role": "user", "content": [block]})
    return messages


def create(base_url: str) -> AnthropicBackend:
    from anthropic import Anthropic

    return AnthropicBackend(Anthropic(api_key="fake-key", base_url=base_url, max_retries=0))
