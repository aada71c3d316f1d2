"""Opt-in content (prompts, completions, tool arguments and results) as span attribute values.

Content only leaves the process through here, and always through the redactor: secrets and personal data
are masked (or hashed) and the JSON is size-bounded while staying valid.
"""

from __future__ import annotations

import json
from typing import Any

from otel_agentops.redaction import Redactor, get_redactor


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def content_json(value: Any, redactor: Redactor | None = None) -> str:
    """The redacted, bounded attribute value for one piece of content."""
    return (redactor or get_redactor()).content_json(value)
