"""Placeholder: the gemini wire format is being written (routes empty until then)."""

from __future__ import annotations

from otel_agentops.fake_provider import openai as openai_wire
from otel_agentops.fake_provider.wire import WireFormat

WIRE = WireFormat(name="gemini", routes=(), error_body=openai_wire.error_body)
