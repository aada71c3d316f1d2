"""The agent's tools: plain Python functions plus the JSON schemas the model sees."""

from __future__ import annotations

from typing import Any

from support_agent.backends.base import ToolSpec

_ORDERS = {
    "ORD-1042": {"status": "shipped", "carrier": "PostNord", "eta": "2026-11-27"},
    "ORD-2077": {"status": "processing", "carrier": None, "eta": None},
}
_DOCS = {
    "returns": "Items can be returned within 30 days; refunds take 5 business days.",
    "shipping": "We ship to the EU, Norway and Switzerland; express delivery takes 2 days.",
}


def lookup_order(order_id: str) -> dict[str, Any]:
    for known, order in _ORDERS.items():
        if known.lower() in order_id.lower():
            return {"order_id": known, **order}
    return {"order_id": order_id, "status": "unknown"}


def search_docs(query: str) -> dict[str, Any]:
    hits = [text for topic, text in _DOCS.items() if topic in query.lower()]
    return {"query": query, "results": hits or list(_DOCS.values())}


TOOL_SPECS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "lookup_order",
        "Status, carrier and delivery date of an order",
        {
            "type": "object",
            "properties": {"order_id": {"type": "string", "description": "e.g. ORD-1042"}},
            "required": ["order_id"],
        },
    ),
    ToolSpec(
        "search_docs",
        "Search the help-centre articles",
        {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    ),
)
