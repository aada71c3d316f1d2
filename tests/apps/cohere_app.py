"""A tiny Cohere v2 app for subprocess tests: five LLM calls on the fake provider, no instrumentation code.

    opentelemetry-instrument python tests/apps/cohere_app.py

Calls: `chat`, `chat_stream` drained, `chat_stream` left early and closed, `embed`, and the async client's
`chat`. Prints one line of JSON, ``{"cohere_app": {"requests": [...], "text": "..."}}``.
"""

from __future__ import annotations

import asyncio
import json
import sys

import cohere

from otel_agentops.fake_provider import FakeProvider

MODEL = "command-r"
USER = [{"role": "user", "content": "Where is order ORD-1042?"}]
NO_RETRIES = {"max_retries": 0}


def _calls(base_url: str) -> str:
    llm = cohere.ClientV2(api_key="test", base_url=base_url)
    llm.chat(model=MODEL, messages=USER, max_tokens=256, request_options=NO_RETRIES)
    text = "".join(
        event.delta.message.content.text or ""
        for event in llm.chat_stream(model=MODEL, messages=USER, request_options=NO_RETRIES)
        if event.type == "content-delta"
    )
    stream = llm.chat_stream(model=MODEL, messages=USER, request_options=NO_RETRIES)
    for _event in stream:
        break
    stream.close()
    llm.embed(model="embed-v4.0", texts=["Where is order ORD-1042?"], input_type="search_query")

    async def async_call() -> None:
        async_llm = cohere.AsyncClientV2(api_key="test", base_url=base_url)
        await async_llm.chat(model=MODEL, messages=USER, request_options=NO_RETRIES)

    asyncio.run(async_call())
    return text


def main() -> int:
    with FakeProvider() as fake:
        text = _calls(fake.cohere_base_url)
        requests = [r.path for r in fake.requests]
    print(json.dumps({"cohere_app": {"requests": requests, "text": text}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
