"""The agent on the `mistralai` SDK: `chat.complete` with function tools, `embeddings.create`, and a summary
streamed with `chat.stream` used as a context manager (the SDK's own idiom)."""

from __future__ import annotations

import json
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
from support_agent.backends.openai import function_calls, function_tools

MODEL = "mistral-small-latest"
EMBEDDING_MODEL = "mistral-embed"


class MistralBackend:
    def __init__(self, client: Any, model: str = MODEL) -> None:
        self.client = client
        self.model = model

    def embed(self, text: str) -> None:
        self.client.embeddings.create(model=EMBEDDING_MODEL, inputs=[text])

    def chat(self, system: str, history: Sequence[HistoryItem], tools: Sequence[ToolSpec]) -> Turn:
        response = self.client.chat.complete(
            model=self.model,
            messages=[{"role": "system", "content": system}, *map(_message, history)],
            tools=function_tools(tools),
            temperature=0.2,
        )
        message = response.choices[0].message
        calls = tuple(
            ToolCall(c.id, c.function.name, _arguments(c.function.arguments))
            for c in message.tool_calls or ()
        )
        return Turn(message.content if isinstance(message.content, str) else "", calls)

    def stream(self, prompt: str) -> str:
        messages = [{"role": "user", "content": prompt}]
        with self.client.chat.stream(model=self.model, messages=messages) as events:
            return "".join(e.data.choices[0].delta.content or "" for e in events if e.data.choices)


def _arguments(arguments: Any) -> dict[str, Any]:
    # Mistral may return tool arguments as a JSON string or as an object.
    return dict(arguments) if isinstance(arguments, dict) else json.loads(arguments or "{}")


def _message(item: HistoryItem) -> dict[str, Any]:
    if isinstance(item, UserMessage):
        return {"role": "user", "content": item.text}
    if isinstance(item, ToolResult):
        return {"role": "tool", "tool_call_id": item.call_id, "name": item.name, "content": item.content}
    assert isinstance(item, AssistantMessage)
    message: dict[str, Any] = {"role": "assistant", "content": item.text}
    if item.tool_calls:
        message["tool_calls"] = function_calls(item.tool_calls)
    return message


def create(base_url: str) -> MistralBackend:
    from mistralai import Mistral

    return MistralBackend(Mistral(api_key="fake-key", server_url=f"{base_url}/mistral"))
