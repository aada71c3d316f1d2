"""A tiny LiteLLM app for the `opentelemetry-instrument` subprocess test: four LLM calls to the fake provider.

    LITELLM_LOCAL_MODEL_COST_MAP=True opentelemetry-instrument python tests/litellm/apps/litellm_app.py

The app is not changed for tracing. It imports `completion` from litellm before any call, as apps do (the
instrumentation patches litellm when it is imported, before that name is bound). It prints one line of
JSON, ``{"litellm_app": {"requests": [...]}}``, the paths the fake provider received.
"""

from __future__ import annotations

import asyncio
import json
import sys

import litellm
from litellm import completion

from otel_agentops.fake_provider import FakeProvider

USER = [{"role": "user", "content": "Where is order ORD-1042?"}]


def _calls(fake: FakeProvider) -> None:
    openai_route = {"api_base": fake.openai_base_url, "api_key": "test", "max_retries": 0}
    completion(model="openai/gpt-4o-mini", messages=USER, **openai_route)
    stream = completion(
        model="openai/gpt-4o-mini",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
        **openai_route,
    )
    for _chunk in stream:
        pass
    litellm.embedding(model="openai/text-embedding-3-small", input=["refund policy"], **openai_route)

    async def async_call() -> None:
        await litellm.acompletion(
            model="anthropic/claude-haiku-4-5",
            messages=USER,
            max_tokens=64,
            api_base=fake.anthropic_base_url,
            api_key="test",
        )

    asyncio.run(async_call())


def main() -> int:
    litellm.suppress_debug_info = True
    with FakeProvider() as fake:
        _calls(fake)
        requests = [request.path for request in fake.requests]
    print(json.dumps({"litellm_app": {"requests": requests}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
