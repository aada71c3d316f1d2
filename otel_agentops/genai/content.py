"""Opt-in content (prompts, completions, tool arguments and results) as span attribute values."""

from __future__ import annotations

import json
from typing import Any


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def content_json(value: Any) -> str:
    """The attribute value for one piece of content."""
    return compact_json(value)
