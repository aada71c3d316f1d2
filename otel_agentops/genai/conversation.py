"""The conversation id that `otel_agentops.conversation(id)` puts in the context for every span below it."""

from __future__ import annotations

from opentelemetry import context as otel_context

CONVERSATION_KEY = otel_context.create_key("agentops.conversation_id")


def conversation_id() -> str | None:
    value = otel_context.get_value(CONVERSATION_KEY)
    return value if isinstance(value, str) else None
