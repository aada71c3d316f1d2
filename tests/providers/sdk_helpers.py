"""Calling the same way into sync and async SDK clients, whatever the provider."""

from __future__ import annotations

import inspect
from typing import Any


async def invoke(method: Any, **kwargs: Any) -> Any:
    result = method(**kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


async def drain(stream: Any) -> list[Any]:
    if hasattr(stream, "__aiter__"):
        return [item async for item in stream]
    return list(stream)


async def close(stream: Any) -> None:
    result = stream.close()
    if inspect.isawaitable(result):
        await result
