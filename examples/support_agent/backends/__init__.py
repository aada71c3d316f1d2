"""The client libraries the example agent can use, by `--provider` name.

Each module has `create(base_url)` for the embedded fake provider (its root URL); `openai` can also use the
real API (`create_real()`), when OPENAI_API_KEY is set.
"""

from __future__ import annotations

import importlib

from support_agent.backends.base import Backend

PROVIDERS = ("openai", "anthropic", "groq", "gemini", "bedrock", "mistral", "cohere")


def create(provider: str, base_url: str) -> Backend:
    if provider not in PROVIDERS:
        raise SystemExit(f"unknown provider {provider!r}; choose one of: {', '.join(PROVIDERS)}")
    module = importlib.import_module(f"support_agent.backends.{provider}")
    return module.create(base_url)
