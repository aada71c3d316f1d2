"""Bounding a content attribute in size while keeping it valid JSON.

Backends reject or cut oversized attributes mid-character, which leaves unparsable JSON behind; here
the *content* is shortened instead: the longest strings first, all down to a common length (so a
short user question survives next to a huge tool result), each marked ``…[truncated N chars]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def _marker(removed: int) -> str:
    return f"…[truncated {removed} chars]"


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, fn) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_map_strings(item, fn) for item in value]
    return value


def _strings(value: Any) -> list[str]:
    found: list[str] = []
    _map_strings(value, lambda s: found.append(s) or s)
    return found


def _cut(text: str, keep: int) -> str:
    """``text`` shortened to ``keep`` characters plus the marker, unless that would not be shorter."""
    if keep >= len(text):
        return text
    cut = text[:keep] + _marker(len(text) - keep)
    return cut if len(cut) < len(text) else text


def _cap_strings(value: Any, budget: int) -> Any | None:
    """``value`` with its string leaves cut to the largest common length that fits ``budget``."""
    leaves = _strings(value)
    skeleton = len(dumps(_map_strings(value, lambda _: "")))
    full = {leaf: len(dumps(leaf)) - 2 for leaf in leaves}

    def size(keep: int) -> int:
        return skeleton + sum(
            full[leaf] if keep >= len(leaf) else len(dumps(_cut(leaf, keep))) - 2 for leaf in leaves
        )

    lo, hi = 0, max((len(leaf) for leaf in leaves), default=0)
    if size(lo) > budget:
        return None
    while lo < hi:  # largest keep whose size fits
        mid = (lo + hi + 1) // 2
        if size(mid) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return _map_strings(value, lambda s: _cut(s, lo))


def _truncate_text(text: str, max_len: int) -> str:
    keep = max_len - len(_marker(len(text)))
    return text[:keep] + _marker(len(text) - keep) if keep > 0 else text[:max_len]


def truncate_messages_json(s: str, max_len: int) -> str:
    """``s`` (normally JSON) in at most ``max_len`` characters; JSON stays valid JSON.

    Strings are cut first; when even empty strings do not fit, trailing items of a top-level list
    (the oldest messages come first, so the latest go) are replaced by ``"…[truncated N items]"``; as
    a last resort the whole value becomes that marker string, or ``""``. ``max_len`` below 2 cannot
    hold any JSON document and yields ``""`` (empty).
    """
    if len(s) <= max_len:
        return s
    try:
        document = json.loads(s)
    except ValueError:
        return _truncate_text(s, max_len)
    compact = dumps(document)
    if len(compact) <= max_len:
        return compact
    capped = _cap_strings(document, max_len)
    if capped is not None:
        return dumps(capped)
    if isinstance(document, list):
        fitted = _drop_trailing_items(document, max_len)
        if fitted is not None:
            return fitted
    for fallback in (dumps(_marker(len(s))), '""'):
        if len(fallback) <= max_len:
            return fallback
    return ""


def _drop_trailing_items(items: list[Any], max_len: int) -> str | None:
    def attempt(keep: int) -> Any | None:
        kept = [*items[:keep], f"…[truncated {len(items) - keep} items]"]
        return _cap_strings(kept, max_len)

    lo, hi = 0, len(items) - 1
    if attempt(lo) is None:
        return None
    while lo < hi:  # most leading items that still fit once their strings are cut
        mid = (lo + hi + 1) // 2
        if attempt(mid) is not None:
            lo = mid
        else:
            hi = mid - 1
    return dumps(attempt(lo))
