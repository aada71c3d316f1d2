"""Compact JSON for content attributes, with long strings escaped faster than the ``json`` module does.

CPython's C encoder escapes a string character by character, twice over (once to size the output, once
to write it): ~15 µs for a 4 KB prompt, as much as redacting it. A long string usually needs nothing but
its backslashes, quotes and line breaks escaped; one byte translation finds which of those it holds, and
``str.replace`` (a memchr per occurrence) escapes each. The output is exactly what
``json.dumps(value, separators=(",", ":"), ensure_ascii=False)`` gives; any other control character sends
the string to the ``json`` module's own escaping.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Container
from json.encoder import encode_basestring

try:
    from _json import make_encoder as _make_encoder
except ImportError:  # pragma: no cover - CPython always has it; other implementations may not
    _make_encoder = None

# Shorter strings: the json module's escaping costs less than a Python call would.
FAST_MIN_CHARS = 256
# Escaped with str.replace, backslash first (the others add backslashes of their own).
_REPLACEMENTS = ((92, "\\", "\\\\"), (34, '"', '\\"'), (10, "\n", "\\n"), (13, "\r", "\\r"), (9, "\t", "\\t"))
_SIMPLE_CODES = tuple(code for code, _, _ in _REPLACEMENTS)
_SIMPLE = frozenset(_SIMPLE_CODES)
# Every byte but those JSON escapes: deleting them leaves the bytes that need escaping.
_PLAIN_BYTES = bytes(code for code in range(256) if code >= 32 and code not in (34, 92))


def encode_string(text: str) -> str:
    """``text`` as a JSON string literal, as ``json.encoder.encode_basestring`` writes it."""
    if len(text) < FAST_MIN_CHARS:
        return encode_basestring(text)
    # UTF-8 keeps every ASCII character as its own byte and never makes one of a non-ASCII character.
    special = text.encode("utf-8", "surrogatepass").translate(None, _PLAIN_BYTES)
    if not special:
        return f'"{text}"'
    present = set(special)
    if not present <= _SIMPLE:
        return encode_basestring(text)
    return simple_literal(text, present)


def simple_literal(text: str, codes: Container[int]) -> str:
    """``text`` as a JSON string literal, when no character of it needs escaping but those of
    ``_REPLACEMENTS`` (backslash, quote, line feed, carriage return, tab) whose codes are in ``codes``;
    codes of characters ``text`` lacks do no harm."""
    for code, char, escaped in _REPLACEMENTS:
        if code in codes:
            text = text.replace(char, escaped)
    return f'"{text}"'


def simple_escapes(view: bytes) -> bytes:
    """Which of the ``_REPLACEMENTS`` characters a text holds, from its bytes (a memchr each)."""
    return bytes(code for code in _SIMPLE_CODES if code in view)


def compact_dumps(
    default: Callable[[object], object],
    *,
    long_strings: bool,
    known: Callable[[str], str | None] | None = None,
) -> Callable[[object], str]:
    """``json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=default)``; with
    ``long_strings``, strings are escaped by ``encode_string`` (a Python call for each, which pays off
    when one of them is long), or taken from ``known`` (a long string's literal, or None)."""
    if _make_encoder is None:  # pragma: no cover
        return json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=default).encode
    escape = encode_string if long_strings else encode_basestring
    if long_strings and known is not None:
        lookup = known

        def escape(text: str) -> str:
            if len(text) >= FAST_MIN_CHARS:
                literal = lookup(text)
                if literal is not None:
                    return literal
            return encode_string(text)

    def dumps(value: object) -> str:
        if isinstance(value, str):
            return escape(value)
        # A new encoder per call: its markers (circular reference checks) must start empty.
        encoder = _make_encoder({}, default, escape, None, ":", ",", False, False, True)
        return "".join(encoder(value, 0))

    return dumps
