"""A tiny Mistral app for subprocess tests: five LLM calls against the fake provider, no instrumentation code.

    opentelemetry-instrument python tests/apps/mistral_app.py

Calls: `chat.complete`, `chat.stream` drained in a ``with`` block, `chat.stream` left early (``break``
inside the ``with``), `embeddings.create` and `chat.complete_async`. Prints one line of JSON,
``{"mistral_app": {"requests": [...], "text": "..."}}`` with the ``traceparent`` each request carried (the
SDK's tracing hook injects it under a global TracerProvider).
"""

from __future__ import annotations

import asyncio
import json
import sys

from mistralai import Mistral

from otel_agentops.fake_provider import FakeProvider

MODEL = "mistral-small-latest"
USER = [{"role": "user", "content": "Where is order ORD-1042?"}]


def _calls(server_url: str) -> str:
    llm = Mistral(api_key="test", server_url=server_url)
    llm.chat.complete(model=MODEL, messages=USER, max_tokens=256)
    with llm.chat.stream(model=MODEL, messages=USER) as stream:
        text = "".join(event.data.choices[0].delta.content or "" for event in stream)
    with llm.chat.stream(model=MODEL, messages=USER) as stream:
        for _event in stream:
            break
    llm.embeddings.create(model="mistral-embed", inputs=["Where is order ORD-1042?"])
    asyncio.run(llm.chat.complete_async(model=MODEL, messages=USER))
    return str(text)


def main() -> int:
    with FakeProvider() as fake:
        text = _calls(fake.mistral_server_url)
        requests = [{"path": r.path, "traceparent": r.headers.get("traceparent")} for r in fake.requests]
    print(json.dumps({"mistral_app": {"requests": requests, "text": text}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
