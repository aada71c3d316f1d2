"""The agent loop: ask the model, run the tools it asks for, repeat until it answers.

Written against `backends.base.Backend`, so it is the same loop on every client library."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from support_agent import tools
from support_agent.backends.base import AssistantMessage, Backend, HistoryItem, ToolResult, UserMessage
from support_agent.tools import TOOL_SPECS

SYSTEM = "You are a concise customer-support agent. Use the tools to answer."
MAX_STEPS = 5


def run_agent(backend: Backend, task: str, functions: Mapping[str, Callable[..., Any]] | None = None) -> str:
    backend.embed(task)
    history: list[HistoryItem] = [UserMessage(task)]
    for _ in range(MAX_STEPS):
        turn = backend.chat(SYSTEM, history, TOOL_SPECS)
        if not turn.tool_calls:
            return turn.text
        history.append(AssistantMessage(turn.text, turn.tool_calls))
        for call in turn.tool_calls:
            function = functions[call.name] if functions is not None else getattr(tools, call.name)
            history.append(ToolResult(call.id, call.name, json.dumps(function(**call.arguments))))
    return "I could not finish this request."


def summarize(backend: Backend, answers: list[str]) -> str:
    """Stream a one-paragraph summary of the session, as a chat UI would."""
    return backend.stream("Summarize for the ticket: " + " | ".join(answers))
