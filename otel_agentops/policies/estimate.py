"""Token estimates made before a call (rate-limit reservations, routing): cheap, from characters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CHARS_PER_TOKEN = 4
# openai / anthropic / litellm, Responses, prompts; Gemini's contents; Cohere v1's message and history
_PROMPT_ARGUMENTS = frozenset(
    {"messages", "input", "system", "instructions", "prompt", "contents", "message", "chat_history"}
)


def estimate_tokens(kwargs: Mapping[str, Any]) -> int:
    """A cheap, generous estimate before the call: prompt characters / 4 plus the output budget."""
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        value = kwargs.get(key)
        if value is not None:
            break
    else:
        config = kwargs.get("inferenceConfig")  # Bedrock's converse
        value = config.get("maxTokens") if isinstance(config, Mapping) else None
    budget = value if type(value) is int or (isinstance(value, int) and not isinstance(value, bool)) else 0
    return prompt_tokens(kwargs) + budget


def prompt_tokens(kwargs: Mapping[str, Any]) -> int:
    """Characters of the prompt (messages, system, instructions...) / 4, rounded up."""
    chars = 0
    # A request has a handful of arguments: walking them beats looking up every prompt argument name.
    for key, value in kwargs.items():
        if key not in _PROMPT_ARGUMENTS or value is None:
            continue
        if isinstance(value, str):
            chars += len(value)
            continue
        for item in value if isinstance(value, (list, tuple)) else (value,):
            content = item.get("content") if isinstance(item, dict) else item
            # The common case, a chat message with plain text, without walking the whole structure.
            chars += len(content) if isinstance(content, str) else _chars(item)
    return -(-chars // CHARS_PER_TOKEN)  # rounded up, in integers (math.ceil of a float costs more)


def _chars(value: Any) -> int:
    """Characters of every string inside a nested request structure (content blocks, tool calls...)."""
    chars = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            chars += len(item)
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return chars
