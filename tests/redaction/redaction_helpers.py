"""The test corpus and the leak check shared by the redaction tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_CORPUS = json.loads((Path(__file__).parent / "corpus.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Secret:
    category: str
    value: str  # as it appears in text, context included ("passwd=hunter2")
    secret: str  # the part that must not survive ("hunter2")


SECRETS = tuple(Secret(e["category"], e["value"], e.get("secret", e["value"])) for e in _CORPUS["secrets"])
LOOKALIKES = tuple((e["category"], e["value"]) for e in _CORPUS["lookalikes"])

# Sentences around the corpus values: start and end of text, brackets, quotes, lines, list separators.
TEMPLATES = (
    "{}",
    "Please use {} for the integration.",
    "value=({}) end",
    "Note:\n{}\n-- sent from my phone",
    '"{}",',
    "a, {}, b",
)


def leaked(secret: str, output: str) -> bool:
    """Whether any half (at least 8 characters) of ``secret`` survives in ``output``.

    Checking halves rather than the whole catches a redaction that stops short and leaves, say, the
    last digits of a card or the tail of a key behind.
    """
    width = max(8, len(secret) // 2)
    if len(secret) <= width:
        return secret in output
    return any(secret[i : i + width] in output for i in range(len(secret) - width + 1))


def decoded_strings(value: Any) -> Iterator[str]:
    """Every string inside ``value``, with JSON held in strings decoded too (escapes would hide a leak)."""
    if isinstance(value, str):
        yield value
        try:
            inner = json.loads(value)
        except ValueError:
            return
        if not isinstance(inner, str):
            yield from decoded_strings(inner)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from decoded_strings(key)
            yield from decoded_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from decoded_strings(item)


def leaked_anywhere(secret: str, value: Any) -> bool:
    return any(leaked(secret, text) for text in decoded_strings(value))
