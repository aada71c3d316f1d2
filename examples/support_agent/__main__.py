"""Run the support agent: against OpenAI when OPENAI_API_KEY is set, else against the embedded fake provider.

cd examples && python -m support_agent
cd examples && opentelemetry-instrument python -m support_agent    # the same app, traced
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import ExitStack

from openai import OpenAI

from support_agent.agent import run_agent, summarize

TASKS = (
    "Use lookup_order to tell me where order ORD-1042 is.",
    "Can I return a jacket? Please search_docs for the returns policy.",
    "Is ORD-2077 shipped yet? Use lookup_order.",
)


def main(run: Callable[[OpenAI, str, str], str] = run_agent) -> int:
    model = os.environ.get("AGENT_MODEL", "gpt-4o-mini")
    with ExitStack() as stack:
        if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
            client = OpenAI()
        else:
            from otel_agentops.fake_provider import FakeProvider

            fake = stack.enter_context(FakeProvider())
            print(
                f"(no OPENAI_API_KEY: using the embedded fake provider at {fake.base_url})", file=sys.stderr
            )
            client = OpenAI(api_key="fake-key", base_url=fake.openai_base_url, max_retries=0)
        answers = []
        for task in TASKS:
            answer = run(client, model, task)
            answers.append(answer)
            print(f"> {task}\n  {answer}")
        print(f"summary: {summarize(client, model, answers)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
