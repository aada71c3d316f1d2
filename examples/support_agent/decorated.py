"""The same support agent, instrumented in code with the otel_agentops decorators.

    cd examples && opentelemetry-instrument python -m support_agent.decorated

Where the zero-code variant needs OTEL_AGENTOPS_AGENT_FUNCTIONS / OTEL_AGENTOPS_TOOL_FUNCTIONS, this one says
in the code which function is the agent and which are tools, and groups each run under a conversation id.
"""

from __future__ import annotations

import sys
from typing import Any

from otel_agentops import agent, conversation, tool
from support_agent import tools
from support_agent.__main__ import main
from support_agent.agent import run_agent
from support_agent.backends.base import Backend


@tool
def lookup_order(order_id: str) -> dict[str, Any]:
    return tools.lookup_order(order_id)


@tool
def search_docs(query: str) -> dict[str, Any]:
    return tools.search_docs(query)


@agent("support-agent")
def support_agent(backend: Backend, task: str) -> str:
    return run_agent(backend, task, {"lookup_order": lookup_order, "search_docs": search_docs})


def run(backend: Backend, task: str) -> str:
    # Every span of this run, the agent's included, carries the ticket as gen_ai.conversation.id.
    with conversation(f"ticket-{sum(map(ord, task)) % 10_000}"):
        return support_agent(backend, task)


if __name__ == "__main__":
    sys.exit(main(run))
