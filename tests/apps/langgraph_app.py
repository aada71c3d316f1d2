"""A LangGraph ReAct agent (a StateGraph with a model node and a tool node) with two tools.

    opentelemetry-instrument python tests/apps/langgraph_app.py

runs it once with `invoke` and once with `ainvoke` against an in-process fake provider, with no
OpenTelemetry code of its own, and prints one line of JSON: ``{"langgraph_app": {"chat_requests": N}}``.
The LangChain tests import `build_agent` and `chat_model` from here.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from langchain_core.messages import AnyMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from otel_agentops.fake_provider import FakeProvider

AGENT_NAME = "support-agent"
MODEL = "gpt-4o-mini"


@tool
def lookup_order(order_id: str) -> str:
    """Look up the shipping status of an order."""
    return f"Order {order_id} has shipped."


@tool
def cancel_order(order_id: str) -> str:
    """Cancel an order that has not shipped yet."""
    raise ValueError(f"order {order_id} has already shipped")


TOOLS = [lookup_order, cancel_order]


def chat_model(base_url: str, **options: Any) -> ChatOpenAI:
    return ChatOpenAI(base_url=base_url, api_key="test", model=MODEL, max_retries=0, **options)


def build_agent(llm: ChatOpenAI, *, handle_tool_errors: bool = True) -> Any:
    model = llm.bind_tools(TOOLS)

    def call_model(state: MessagesState) -> dict[str, list[AnyMessage]]:
        return {"messages": [model.invoke(state["messages"])]}

    async def acall_model(state: MessagesState) -> dict[str, list[AnyMessage]]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", RunnableLambda(call_model, afunc=acall_model))
    graph.add_node("tools", ToolNode(TOOLS, handle_tool_errors=handle_tool_errors))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    return graph.compile(name=AGENT_NAME)


def main() -> None:
    with FakeProvider() as fake:
        build_agent(chat_model(fake.openai_base_url)).invoke({"messages": [("user", "lookup_order A1")]})
        agent = build_agent(chat_model(fake.openai_base_url))
        asyncio.run(agent.ainvoke({"messages": [("user", "lookup_order B2")]}))
        print(json.dumps({"langgraph_app": {"chat_requests": fake.request_count("/v1/chat/completions")}}))


if __name__ == "__main__":
    main()
