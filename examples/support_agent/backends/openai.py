"""The agent on the `openai` SDK (chat completions with function tools, embeddings, a streamed summary).

`openai_compatible` serves the other OpenAI-shaped SDKs too (groq)."""

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

MODEL = "gpt-4o-mini"
EMBEDDING_MODEL = "text-embedding-3-small"


class OpenAICompatible:
    def __init__(
        self, client: Any, model: str, embedding_model: str | None, *, stream_usage_option: bool = True
    ) -> None:
        self.client = client
        self.model = model
        self.embedding_model = embedding_model
        # openai reports a stream's usage only when asked; groq always does (and rejects the option).
        self.stream_options = {"stream_options": {"include_usage": True}} if stream_usage_option else {}

    def embed(self, text: str) -> None:
        # Embedding the question is where a real agent would retrieve context for it.
        if self.embedding_model is not None:
            self.client.embeddings.create(model=self.embedding_model, input=text)

    def chat(self, system: str, history: Sequence[HistoryItem], tools: Sequence[ToolSpec]) -> Turn:
        response = self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "system", "content": system}, *map(_message, history)],
            tools=function_tools(tools),
            temperature=0.2,
        )
        message = response.choices[0].message
        calls = tuple(
            ToolCall(c.id, c.function.name, json.loads(c.function.arguments))
            for c in message.tool_calls or ()
        )
        return Turn(message.content or "", calls)

    def stream(self, prompt: str) -> str:
        stream = self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "user", "content": prompt}],
            stream=True,
            **self.stream_options,
        )
        return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def _message(item: HistoryItem) -> dict[str, Any]:
    if isinstance(item, UserMessage):
        return {"role": "user", "content": item.text}
    if isinstance(item, ToolResult):
        return {"role": "tool", "tool_call_id": item.call_id, "content": item.content}
    assert isinstance(item, AssistantMessage)
    message: dict[str, Any] = {"role": "assistant", "content": item.text or None}
    if item.tool_calls:
        message["tool_calls"] = function_calls(item.tool_calls)
    return message


def function_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """Tools in OpenAI's function-tool shape (Mistral and Cohere v2 take it too)."""
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def function_calls(calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    """An assistant turn's tool calls in OpenAI's shape (Mistral and Cohere v2 take it too)."""
    return [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
        for c in calls
    ]


def create(base_url: str, model: str = MODEL) -> OpenAICompatible:
    from openai import OpenAI

    return OpenAICompatible(
        OpenAI(api_key="fake-key", base_url=f"{base_url}/v1", max_retries=0), model, EMBEDDING_MODEL
    )


def create_real(model: str = MODEL) -> OpenAICompatible:
    from openai import OpenAI

    return OpenAICompatible(OpenAI(), model, EMBEDDING_MODEL)
