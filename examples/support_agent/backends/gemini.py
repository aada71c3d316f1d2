"""The agent on the `google-genai` SDK (Gemini API: generate_content with function declarations,
embed_content, generate_content_stream)."""

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

MODEL = "gemini-2.0-flash"
EMBEDDING_MODEL = "gemini-embedding-001"
MAX_TOKENS = 512


class GeminiBackend:
    def __init__(self, client: Any, model: str = MODEL) -> None:
        self.client = client
        self.model = model

    def embed(self, text: str) -> None:
        self.client.models.embed_content(model=EMBEDDING_MODEL, contents=[text])

    def chat(self, system: str, history: Sequence[HistoryItem], tools: Sequence[ToolSpec]) -> Turn:
        from google.genai import types

        declarations = [
            types.FunctionDeclaration(
                name=t.name, description=t.description, parameters_json_schema=t.parameters
            )
            for t in tools
        ]
        response = self.client.models.generate_content(
            model=self.model,
            contents=_contents(history),
            config=types.GenerateContentConfig(
                system_instruction=system,
                max_output_tokens=MAX_TOKENS,
                tools=[types.Tool(function_declarations=declarations)] if declarations else None,
            ),
        )
        calls = tuple(
            # The Gemini API often sends no call id: make one, the agent joins results by it.
            ToolCall(call.id or f"{call.name}-{index}", call.name or "", dict(call.args or {}))
            for index, call in enumerate(response.function_calls or ())
        )
        text = "".join(
            part.text
            for candidate in response.candidates or ()
            for part in (candidate.content.parts if candidate.content else None) or ()
            if part.text
        )
        return Turn(text, calls)

    def stream(self, prompt: str) -> str:
        chunks = self.client.models.generate_content_stream(
            model=self.model, contents=prompt, config={"max_output_tokens": MAX_TOKENS}
        )
        return "".join(chunk.text or "" for chunk in chunks)


def _contents(history: Sequence[HistoryItem]) -> list[dict[str, Any]]:
    """Gemini wants function responses as user turns; consecutive results share one turn."""
    contents: list[dict[str, Any]] = []
    for item in history:
        if isinstance(item, UserMessage):
            contents.append({"role": "user", "parts": [{"text": item.text}]})
        elif isinstance(item, AssistantMessage):
            parts: list[dict[str, Any]] = [{"text": item.text}] if item.text else []
            parts += [
                {"function_call": {"id": c.id, "name": c.name, "args": c.arguments}} for c in item.tool_calls
            ]
            contents.append({"role": "model", "parts": parts})
        else:
            assert isinstance(item, ToolResult)
            part = {
                "function_response": {
                    "id": item.call_id,
                    "name": item.name,
                    "response": {"result": json.loads(item.content)},
                }
            }
            last = contents[-1] if contents else None
            if last is not None and last["role"] == "user" and "function_response" in last["parts"][0]:
                last["parts"].append(part)
            else:
                contents.append({"role": "user", "parts": [part]})
    return contents


def create(base_url: str) -> GeminiBackend:
    from google import genai
    from google.genai import types

    return GeminiBackend(genai.Client(api_key="fake-key", http_options=types.HttpOptions(base_url=base_url)))
