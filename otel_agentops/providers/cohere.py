"""Placeholder: the cohere instrumentation is being written (no patch points until then)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from otel_agentops.providers.base import PatchPoint, ProviderInstrumentor


class CohereInstrumentor(ProviderInstrumentor):
    library = "cohere"

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("cohere >= 5.10, < 6",)

    def patch_points(self) -> Sequence[PatchPoint]:
        return ()
