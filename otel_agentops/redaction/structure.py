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
# What may hold strings; anything else (floats, None, booleans, objects) is left as it is, and so are
# integers but long ones (``_long_int``).
_WALKED = (str, dict, list, tuple)
_PAIRS = (list, tuple)
# Integers of 13 to 16 digits are scanned as text: a card number may come as a JSON number. Shorter
# ones (token counts, timestamps) hold no finding; longer ones are ids (snowflakes), while cards that long
# no longer fit a JSON number's exact range and are sent as strings.
_CARD_INTS = range(10**12, 10**16)


def _long_int(value: Any) -> bool:
    return type(value) is int and value in _CARD_INTS


def _int_back(value: int, text: str) -> int | str:
    # A number that was redacted becomes its mask, a string: nothing of it may stay.
    return value if text == str(value) else text


def _released(value: Any) -> Any:
    """What a walker's name is bound to once its walk is done (see ``strings``). Never called: it
    raises rather than hand a value on unredacted if it ever were."""
    raise RuntimeError("a redaction walker was used after its walk")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of duplicate keys: a document rebuilt from it would silently lose the
    # others' values, and the original string, kept when nothing *parsed* changed, would leak them.
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("duplicate keys")
    return document


# One decoder: json.loads with a hook would build a new one, scanner and all, for each string.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)


def _embedded_json(value: str) -> Any:
    """The JSON object or array ``value`` holds, or None: then it is scanned as text."""
    stripped = value.strip()
    if stripped[:1] not in ("{", "[") or stripped[-1:] not in ("}", "]"):
        return None
    try:
        document = _DECODER.decode(stripped)
    except ValueError:
        return None
    return document if isinstance(document, dict | list) else None


def _secret_pair(item: Any, is_secret_key: Callable[[str], bool]) -> bool:
    """Whether ``item``, a list or tuple inside a list, is a ``(name, value)`` pair whose name names a
    secret: headers as ``[["X-Api-Key", "..."]]``."""
    return len(item) == 2 and type(item[0]) is str and is_secret_key(item[0])


def _secret_value(value: dict[Any, Any], is_secret_key: Callable[[str], bool]) -> bool:
    """Whether ``value`` is a name/value record whose name names a secret: its ``value`` is one, as in a
    Kubernetes ``env`` list (``{"name": "DB_PASSWORD", "value": "..."}``)."""
    name = value.get("name", value.get("key"))
    return type(name) is str and is_secret_key(name)


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
        elif _long_int(value):
            texts.append(str(value))
        elif isinstance(value, dict):
            # Inline, as most dictionaries have no "value".
            named = "value" in value and _secret_value(value, is_secret_key)
            for key, item in value.items():
                if key in plain_keys:
                    pass
                elif isinstance(key, str):
                    texts.append(key)
                    if is_secret_key(key) or (named and key == "value"):
                        secret_key = True
                        continue
                # The common leaves without a call: a plain string, and what holds no string at all.
                if type(item) is str and item[:1] not in _JSON_STARTS:
                    texts.append(item)
                elif isinstance(item, _WALKED) or _long_int(item):
                    walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                if type(item) is str and item[:1] not in _JSON_STARTS:
                    texts.append(item)
                elif type(item) in _PAIRS and _secret_pair(item, is_secret_key):
                    texts.append(item[0])
                    secret_key = True
                elif isinstance(item, _WALKED) or _long_int(item):
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
        if _long_int(value):
            return _int_back(value, next(texts))
        if isinstance(value, dict):
            copy = {}
            named = "value" in value and _secret_value(value, is_secret_key)
            for key, item in value.items():
                if key in plain_keys:
                    copy[key] = item_copy(item)
                elif isinstance(key, str):
                    redacted_key = next(texts)  # before the value, which takes texts of its own
                    secret = is_secret_key(key) or (named and key == "value")
                    copy[redacted_key] = by_key(key, item) if secret else item_copy(item)
                else:
                    copy[key] = item_copy(item)
            return copy
        if isinstance(value, list):
            return [member_copy(item) for item in value]
        if isinstance(value, tuple):
            return tuple(member_copy(item) for item in value)
        return value

    def item_copy(item: Any) -> Any:
        # The common leaves as in ``strings``: a plain string, and what holds no string at all.
        if type(item) is str and item[:1] not in _JSON_STARTS:
            return next(texts)
        return walk(item) if isinstance(item, _WALKED) or _long_int(item) else item

    def member_copy(item: Any) -> Any:
        if type(item) in _PAIRS and _secret_pair(item, is_secret_key):
            name = item[0]
            return type(item)((next(texts), by_key(name, item[1])))
        return item_copy(item)

    try:
        return walk(value)
    finally:
        # As in ``strings``: the closures refer to each other through their cells.
        walk = item_copy = member_copy = _released
