"""Entry point `agentops_agents`: the env-configured agent and tool function spans, and the providers the
agent / tool / workflow decorators use."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from otel_agentops.agents import functions, spans


class AgentFunctionsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    _undo: list[Callable[[], None]]

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        # The decorators of otel_agentops.agents.api use these providers from now on.
        spans.use(spans.AgentTelemetry(kwargs.get("tracer_provider"), kwargs.get("meter_provider")))
        self._undo = functions.install()

    def _uninstrument(self, **kwargs: Any) -> None:
        for undo in getattr(self, "_undo", ()):
            undo()
        self._undo = []
        spans.use(None)
