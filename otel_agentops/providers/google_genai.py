"""Placeholder: the google.genai instrumentation is being written (no patch points until then)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from otel_agentops.providers.base import PatchPoint, ProviderInstrumentor


class GoogleGenAIInstrumentor(ProviderInstrumentor):
    library = "google.genai"

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("google-genai >= 1.0, < 2",)

    def patch_points(self) -> Sequence[PatchPoint]:
        return ()
