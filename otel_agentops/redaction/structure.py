"""Structured values (chat messages, tool calls): their strings taken out, and put back once redacted.

A message list holds dozens of short strings, and scanning each on its own costs a few µs of fixed
overhead apiece; taken out (``strings``), they are redacted in one scan and put back (``rebuild``),
which only happens when something changed. Both walk a value in the same order: dictionary keys before
their values, and into JSON documents held in strings (tool-call ``arguments``), which are serialised
again only if something in them changed. Values under a key that names a secret are not walked: the
key decides them. Keys in ``plain_keys`` (``role``, ``content``... where the rules leave them alone) are
neither checked nor taken out: only their values are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from otel_agentops.redaction.truncation import dumps

ByKey = Callable[[str, Any], Any]
"""``(key, value)`` to the replacement of a value whose key names a secret."""


# What a string holding a JSON object or array starts with; checked inline, as most strings do not.
_JSON_STARTS = frozenset("{[ \t\r\n")
# What may hold strings; anything else (numbers, None, booleans, objects) is left as it is.
_WALKED = (str, dict, list, tuple)


def _released(value: Any) -> Any:
    """What a walker's name is bound to once its walk is done (see ``strings``). Never called: it
    raises rather than hand a value on unredacted if it ever were."""
    raise RuntimeError("a redaction walker was used after its walk")


def _embedded_json(value: str) -> Any:
    stripped = value.strip()
    if stripped[:1] not in ("{", "[") or stripped[-1:] not in ("}", "]"):
        return None
    try:
        document = json.loads(stripped)
    except ValueError:
        return None
    return document if isinstance(document, dict | list) else None


def strings(
    value: Any,
    texts: list[str],
    is_secret_key: Callable[[str], bool],
    plain_keys: frozenset[str] = frozenset(),
) -> bool:
    """Appends the strings of ``value`` to ``texts``; whether a key in it names a secret."""
    secret_key = False

    def walk(value: Any) -> None:
        # A closure rather than arguments passed down: this runs once per node of every message.
        nonlocal secret_key
        if isinstance(value, str):
            document = _embedded_json(value) if value[:1] in _JSON_STARTS else None
            if document is None:
                texts.append(value)
            else:
                walk(document)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key in plain_keys:
                    pass
                elif isinstance(key, str):
                    texts.append(key)
                    if is_secret_key(key):
                        secret_key = True
                        continue
                # The common leaves without a call: a plain string, and what holds no string at all.
                if type(item) is str and item[:1] not in _JSON_STARTS:
                    texts.append(item)
                elif isinstance(item, _WALKED):
                    walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                if type(item) is str and item[:1] not in _JSON_STARTS:
                    texts.append(item)
                elif isinstance(item, _WALKED):
                    walk(item)

    try:
        walk(value)
    finally:
        # A recursive closure refers to itself through its cell: rebinding the name breaks the cycle,
        # which would otherwise leave every call's closure (and the texts it holds) to the garbage
        # collector, whose passes over the app's whole heap cost more than the walk.
        walk = _released
    return secret_key


def rebuild(
    value: Any,
    texts: Iterator[str],
    is_secret_key: Callable[[str], bool],
    by_key: ByKey,
    plain_keys: frozenset[str] = frozenset(),
) -> Any:
    """A copy of ``value`` with its strings, in ``strings`` order, taken from ``texts``."""

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            document = _embedded_json(value) if value[:1] in _JSON_STARTS else None
            if document is None:
                return next(texts)
            redacted = walk(document)
            return value if redacted == document else dumps(redacted)
        if isinstance(value, dict):
            copy = {}
            for key, item in value.items():
                if key in plain_keys:
                    copy[key] = item_copy(item)
                elif isinstance(key, str):
                    redacted_key = next(texts)  # before the value, which takes texts of its own
                    copy[redacted_key] = by_key(key, item) if is_secret_key(key) else item_copy(item)
                else:
                    copy[key] = item_copy(item)
            return copy
        if isinstance(value, list):
            return [item_copy(item) for item in value]
        if isinstance(value, tuple):
            return tuple(item_copy(item) for item in value)
        return value

    def item_copy(item: Any) -> Any:
        # The common leaves as in ``strings``: a plain string, and what holds no string at all.
        if type(item) is str and item[:1] not in _JSON_STARTS:
            return next(texts)
        return walk(item) if isinstance(item, _WALKED) else item

    try:
        return walk(value)
    finally:
        # As in ``strings``: the two closures refer to each other through their cells.
        walk = item_copy = _released
