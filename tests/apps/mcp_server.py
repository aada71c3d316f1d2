"""A small MCP server over stdio for the MCP instrumentation tests (mcp 1.x FastMCP or 2.x MCPServer).

Tools: `lookup_order` answers and reports the `traceparent` it received in `params._meta`;
`cancel_order` raises, which the SDK turns into a result with `isError: true`; `slow_lookup` sleeps.
"""

from __future__ import annotations

import time
from typing import Any

try:
    from mcp.server.mcpserver import Context, MCPServer  # mcp 2.x
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import Context
    from mcp.server.fastmcp import FastMCP as MCPServer  # type: ignore[no-redef]

server = MCPServer("orders")


def _traceparent(ctx: Context) -> str | None:
    meta: Any = ctx.request_context.meta
    if meta is None:
        return None
    if isinstance(meta, dict):
        return meta.get("traceparent")
    return getattr(meta, "traceparent", None) or (getattr(meta, "model_extra", None) or {}).get("traceparent")


@server.tool()
def lookup_order(order_id: str, ctx: Context) -> dict[str, Any]:
    """Look up an order by id."""
    return {"order_id": order_id, "status": "shipped", "traceparent": _traceparent(ctx)}


@server.tool()
def cancel_order(order_id: str) -> str:
    """Cancel an order."""
    raise ValueError(f"order {order_id} has already shipped")


@server.tool()
def slow_lookup(seconds: float) -> str:
    """Answer after a while."""
    time.sleep(seconds)
    return "late"


if __name__ == "__main__":
    server.run("stdio")
