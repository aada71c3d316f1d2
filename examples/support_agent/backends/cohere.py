"""The agent on the `cohere` SDK's v2 client: `chat` with function tools, `embed`, and a summary streamed with
`chat_stream` (typed events; the text is in the ``content-delta`` ones)."""

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

MODEL = "command-r"
EMBEDDING_MODEL = "embed-v4.0"
# The SDK retries 429 / 5xx twice by default; as in the other backends, retrying is left to otel-agentops.
ONCE = {"max_retries": 0}


class CohereBackend:
    def __init__(self, client: Any, model: str = MODEL) -> None:
        self.client = client
        self.model = model

    def embed(self, text: str) -> None:
        self.client.embed(
            model=EMBEDDING_MODEL,
            texts=[text],
            input_type="search_query",
            embedding_types=["float"],
            request_options=ONCE,
        )

    def chat(self, system: str, history: Sequence[HistoryItem], tools: Sequence[ToolSpec]) -> Turn:
        response = self.client.chat(
            model=self.model,
            messages=[{"role": "system", "content": system}, *map(_message, history)],
            tools=function_tools(tools),
            temperature=0.2,
            request_options=ONCE,
        )
        message = response.message
        calls = tuple(
            ToolCall(c.id, c.function.name, json.loads(c.function.arguments or "{}"))
            for c in message.tool_calls or ()
        )
        text = "".join(item.text for item in message.content or () if item.type == "text")
        # With tool calls, Cohere explains its next step in `tool_plan` instead of `content`.
        return Turn(text or (message.tool_plan or "" if calls else ""), calls)

    def stream(self, prompt: str) -> str:
        messages = [{"role": "user", "content": prompt}]
        events = self.client.chat_stream(model=self.model, messages=messages, request_options=ONCE)
        return "".join(e.delta.message.content.text or "" for e in events if e.type == "content-delta")


def _message(item: HistoryItem) -> dict[str, Any]:
    if isinstance(item, UserMessage):
        return {"role": "user", "content": item.text}
    if isinstance(item, ToolResult):
        document = {"type": "document", "document": {"data": item.content}}
        return {"role": "tool", "tool_call_id": item.call_id, "content": [document]}
    assert isinstance(item, AssistantMessage)
    if not item.tool_calls:
        return {"role": "assistant", "content": item.text}
    return {
        "role": "assistant",
        "tool_plan": item.text or "I will use the tools.",
        "tool_calls": function_calls(item.tool_calls),
    }


def create(base_url: str) -> CohereBackend:
    import cohere

    return CohereBackend(cohere.ClientV2(api_key="fake-key", base_url=base_url))
