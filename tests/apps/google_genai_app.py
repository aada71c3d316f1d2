"""A tiny google-genai app for subprocess tests: LLM calls of every kind against the fake provider.

    opentelemetry-instrument python tests/apps/google_genai_app.py   # traced by the distro, as a user would

It makes six model requests (generate_content; a drained stream; a stream left after its first chunk; a chat
message; async generate_content; an async stream), one embedding call and one token count (not an LLM
call), then prints one line of JSON, ``{"google_genai_app": {"requests": [...]}}``, with the path of every
request the fake provider received.
"""

from __future__ import annotations

import asyncio
import json
import sys

from google import genai
from google.genai import types

from otel_agentops.fake_provider import FakeProvider

MODEL = "gemini-2.0-flash"
PROMPT = "Where is order ORD-1042?"


def _calls(base_url: str) -> None:
    llm = genai.Client(api_key="fake-key", http_options=types.HttpOptions(base_url=base_url))
    llm.models.generate_content(
        model=MODEL, contents=PROMPT, config=types.GenerateContentConfig(max_output_tokens=256)
    )
    for _chunk in llm.models.generate_content_stream(model=MODEL, contents=PROMPT):
        pass
    for _chunk in llm.models.generate_content_stream(model=MODEL, contents=PROMPT):
        break  # leaving early ends the span too
    llm.chats.create(model=MODEL).send_message("And ORD-7?")
    llm.models.embed_content(model="gemini-embedding-001", contents=[PROMPT])
    llm.models.count_tokens(model=MODEL, contents=PROMPT)  # not an LLM call

    async def async_calls() -> None:
        await llm.aio.models.generate_content(model=MODEL, contents=PROMPT)
        async for _chunk in await llm.aio.models.generate_content_stream(model=MODEL, contents=PROMPT):
            pass

    asyncio.run(async_calls())


def main() -> int:
    with FakeProvider() as fake:
        _calls(fake.gemini_base_url)
        requests = [r.path for r in fake.requests]
    print(json.dumps({"google_genai_app": {"requests": requests}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
