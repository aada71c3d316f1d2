"""The agent on the `groq` SDK (OpenAI's shapes; no embeddings API)."""

from __future__ import annotations

from support_agent.backends.openai import OpenAICompatible

MODEL = "llama-3.3-70b-versatile"


def create(base_url: str) -> OpenAICompatible:
    from groq import Groq

    return OpenAICompatible(
        Groq(api_key="fake-key", base_url=base_url, max_retries=0), MODEL, None, stream_usage_option=False
    )
