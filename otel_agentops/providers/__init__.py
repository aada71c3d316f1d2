"""One module per client library: its patch points and extractors, nothing generic."""

from __future__ import annotations

from otel_agentops.providers.base import ProviderInstrumentor

# Entry-point name -> "module:class"; the same names as in pyproject.toml so that
# OTEL_PYTHON_DISABLED_INSTRUMENTATIONS means the same thing for instrument() as for opentelemetry-instrument.
PROVIDERS: dict[str, str] = {
    "agentops_openai": "otel_agentops.providers.openai:OpenAIInstrumentor",
}


def load(name: str) -> type[ProviderInstrumentor]:
    import importlib

    module, _, cls = PROVIDERS[name].partition(":")
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]
