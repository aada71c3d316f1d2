"""What otel-agentops leaves in reference cycles: objects that would wait for the garbage collector."""

from __future__ import annotations

import gc
import types
from collections.abc import Callable
from typing import Any


def _ours(obj: object) -> bool:
    """Made by otel-agentops: an instance of one of its classes, or one of its functions or closures."""
    if isinstance(obj, types.FunctionType):
        return obj.__module__.startswith("otel_agentops")
    if isinstance(obj, types.CellType):
        try:
            contents = obj.cell_contents
        except ValueError:
            return False
        return isinstance(contents, types.FunctionType) and contents.__module__.startswith("otel_agentops")
    module = type(obj).__module__
    return module.startswith("otel_agentops") or type(obj).__name__ == "_Span"


def left_in_cycles(run: Callable[[], Any]) -> list[str]:
    """The types of what `run` left in reference cycles that otel-agentops made (or a span)."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run()
        gc.collect()
        return sorted({f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage if _ours(o)})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
