"""Run the support agent on the embedded fake provider, through the client library of your choice.

cd examples && python -m support_agent                        # openai SDK
cd examples && python -m support_agent --provider anthropic   # or groq, gemini, bedrock, mistral, cohere
cd examples && opentelemetry-instrument python -m support_agent   # the same app, traced

With OPENAI_API_KEY (or OPENAI_BASE_URL) set and the openai provider, it talks to the real API instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack

from support_agent import backends
from support_agent.agent import run_agent, summarize
from support_agent.backends.base import Backend

TASKS = (
    "Use lookup_order to tell me where order ORD-1042 is.",
    "Can I return a jacket? Please search_docs for the returns policy.",
    "Is ORD-2077 shipped yet? Use lookup_order.",
)


def main(run: Callable[[Backend, str], str] = run_agent, argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m support_agent", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--provider",
        choices=backends.PROVIDERS,
        default=os.environ.get("AGENT_PROVIDER", "openai"),
        help="client library to run the agent with (default: openai, or $AGENT_PROVIDER)",
    )
    provider = parser.parse_args(argv).provider
    with ExitStack() as stack:
        if provider == "openai" and (os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")):
            from support_agent.backends import openai as openai_backend

            backend: Backend = openai_backend.create_real(os.environ.get("AGENT_MODEL", "gpt-4o-mini"))
        else:
            from otel_agentops.fake_provider import FakeProvider

            fake = stack.enter_context(FakeProvider())
            print(f"(the {provider} SDK on the embedded fake provider at {fake.base_url})", file=sys.stderr)
            backend = backends.create(provider, fake.base_url)
        answers = []
        for task in TASKS:
            answer = run(backend, task)
            answers.append(answer)
            print(f"> {task}\n  {answer}")
        print(f"summary: {summarize(backend, answers)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
