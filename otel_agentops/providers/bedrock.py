"""Placeholder: the botocore instrumentation is being written (no patch points until then)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from otel_agentops.providers.base import PatchPoint, ProviderInstrumentor


class BedrockInstrumentor(ProviderInstrumentor):
    library = "botocore"

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("botocore >= 1.34, < 2",)

    def patch_points(self) -> Sequence[PatchPoint]:
        return ()
