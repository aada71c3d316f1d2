"""The agent loop: ask the model, run the tools it asks for, repeat until it answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from openai import OpenAI

from support_agent import tools
from support_agent.tools import TOOLS

SYSTEM = "You are a concise customer-support agent. Use the tools to answer."
MAX_STEPS = 5


def run_agent(
    client: OpenAI, model: str, task: str, functions: Mapping[str, Callable[..., Any]] | None = None
) -> str:
    # Embedding the question is where a real agent would retrieve context for it.
    client.embeddings.create(model="text-embedding-3-small", input=task)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": task},
    ]
    for _ in range(MAX_STEPS):
        response = client.chat.completions.create(
            model=model, messages=messages, tools=TOOLS, temperature=0.2
        )
        message = response.choices[0].message
        if not message.tool_calls:
            return message.content or ""
        messages.append(message.model_dump(exclude_none=True))
        for tool_call in message.tool_calls:
            name = tool_call.function.name
            function = functions[name] if functions is not None else getattr(tools, name)
            result = function(**json.loads(tool_call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": tool_call.id, "content": json.dumps(result)})
    return "I could not finish this request."


def summarize(client: OpenAI, model: str, answers: list[str]) -> str:
    """Stream a one-paragraph summary of the session, as a chat UI would."""
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Summarize for the ticket: " + " | ".join(answers)}],
        stream=True,
        stream_options={"include_usage": True},
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
