"""`error.type` values: the fully qualified, public name of an exception class."""

from __future__ import annotations

import builtins
import sys

_cache: dict[type[BaseException], str] = {}


def error_type(exc: BaseException) -> str:
    cls = type(exc)
    name = _cache.get(cls)
    if name is None:
        name = _cache[cls] = _qualified_name(cls)
    return name


def _qualified_name(cls: type[BaseException]) -> str:
    module = cls.__module__
    if module == builtins.__name__:
        return cls.__qualname__
    # SDKs define exceptions in private modules (openai._exceptions) and re-export them at the top
    # level; the public spelling is the one users search for in their code and dashboards.
    top = module.partition(".")[0]
    top_module = sys.modules.get(top)
    if top_module is not None and getattr(top_module, cls.__qualname__, None) is cls:
        return f"{top}.{cls.__qualname__}"
    return f"{module}.{cls.__qualname__}"
