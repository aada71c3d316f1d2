"""Placeholder: the mistralai instrumentation is being written (no patch points until then)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from otel_agentops.providers.base import PatchPoint, ProviderInstrumentor


class MistralInstrumentor(ProviderInstrumentor):
    library = "mistralai"

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("mistralai >= 1.2, < 2",)

    def patch_points(self) -> Sequence[PatchPoint]:
        return ()
