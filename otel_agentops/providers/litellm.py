"""Placeholder: the litellm instrumentation is being written (no patch points until then)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from otel_agentops.providers.base import PatchPoint, ProviderInstrumentor


class LiteLLMInstrumentor(ProviderInstrumentor):
    library = "litellm"

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("litellm >= 1.60, < 2",)

    def patch_points(self) -> Sequence[PatchPoint]:
        return ()
