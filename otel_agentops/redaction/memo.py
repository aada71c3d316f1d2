"""Redaction results kept by the exact text: what an app sends again with every call is scanned once.

A system prompt, the tool definitions and a conversation's history repeat verbatim on every call of an
agent loop; scanning them again would find exactly what it found before. Redaction is a pure function of
the text for a given redactor (its mode, hash key, extra keys and patterns, allow list), so a redactor
keeps its own memo, and an entry is the very result a scan would give.

Bounded: texts of at least ``MIN_CHARS`` characters are kept in a ``TextMemo`` (looked up without
hashing the whole text), and the characters held (texts and their redacted forms) stay under
``max_chars``, the least recently used going first; shorter ones in a ``ShortMemo``, a plain dictionary
of a bounded number of entries. ``OutputMemo`` tells the content attributes a redactor wrote itself.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

MIN_CHARS = 256
DEFAULT_MAX_CHARS = 1_000_000

CLEAN = ""
"""What ``get`` returns for a text that holds nothing to redact (no redacted text is empty)."""


class _BoundedMemo:
    """Entries of (text, value) under a key, the least recently used going first once the characters
    held pass ``max_chars``. Thread-safe: lookups are plain dictionary reads, updates take a lock."""

    __slots__ = ("_entries", "_held", "_lock", "max_chars")

    def __init__(self, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        self.max_chars = max_chars
        self._entries: OrderedDict[object, tuple[str, str]] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def held_chars(self) -> int:
        return self._held

    def _touch(self, key: object) -> None:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)

    def _put(self, key: object, text: str, value: str) -> None:
        size = len(text) + len(value)
        if len(text) < MIN_CHARS or size > self.max_chars:
            return
        with self._lock:
            entries = self._entries
            old = entries.pop(key, None)
            if old is not None:
                self._held -= len(old[0]) + len(old[1])
            while entries and self._held + size > self.max_chars:
                _, (evicted, evicted_value) = entries.popitem(last=False)
                self._held -= len(evicted) + len(evicted_value)
            entries[key] = (text, value)
            self._held += size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._held = 0


class TextMemo(_BoundedMemo):
    """Redacted texts by the exact text.

    Looked up by the text's length and three short slices of it (its ends and its middle): hashing
    those costs a fraction of hashing 4 KB of text never seen before, which is what most lookups of a
    new prompt are. An entry is used only when its whole text equals the one asked for; two texts that
    share the key just take each other's place.
    """

    __slots__ = ()

    def get(self, text: str) -> str | None:
        """The redacted form of ``text``, ``CLEAN`` when it is clean, None when not known."""
        key = _key(text)
        entry = self._entries.get(key)
        if entry is None or (entry[0] is not text and entry[0] != text):
            return None
        self._touch(key)
        return entry[1]

    def put(self, text: str, redacted: str) -> None:
        self._put(_key(text), text, CLEAN if redacted == text else redacted)


_SLICE = 32


def _key(text: str) -> tuple[int, str, str, str]:
    middle = len(text) // 2
    return (len(text), text[:_SLICE], text[middle - _SLICE // 2 : middle + _SLICE // 2], text[-_SLICE:])


class LiteralMemo(_BoundedMemo):
    """JSON string literals of long redacted texts, by the identity of the text object.

    The encoder asks with the very object redaction returned (a memo hit returns the stored one), so an
    identity lookup finds it without hashing 4 KB of new text; each entry holds its text, so that text's
    id cannot be reused by another object while the entry exists.
    """

    __slots__ = ()

    def get(self, text: str) -> str | None:
        entry = self._entries.get(id(text))
        if entry is None or entry[0] is not text:
            return None
        self._touch(id(text))
        return entry[1]

    def put(self, text: str, literal: str) -> None:
        self._put(id(text), text, literal)


class OutputMemo(_BoundedMemo):
    """Content attributes this redactor wrote, by the identity of the string.

    The export-time safety net redacts every span again; for the JSON content attributes we wrote
    ourselves, that would mean parsing and scanning kilobytes that were redacted moments before by the
    same rules. A span holds the very string object ``content_json`` returned, so an identity lookup
    tells ours from a value someone else set, however alike they are. Outputs whose span is never
    exported (sampled out, dropped) stay until the bound pushes them out.
    """

    __slots__ = ()

    def take(self, text: str) -> bool:
        """Whether ``text`` is one of ours; forgotten once asked, as a span is exported once: the memo
        then holds little more than the spans waiting for export hold anyway."""
        entry = self._entries.get(id(text))
        if entry is None or entry[0] is not text:
            return False
        with self._lock:
            if self._entries.pop(id(text), None) is not None:
                self._held -= len(text)
        return True

    def put(self, text: str) -> None:
        self._put(id(text), text, CLEAN)


class ShortMemo:
    """Redacted forms of short texts (attribute keys and names, roles, model names...) by the text.

    Short texts are mostly a small vocabulary that comes back on every span and message, and a
    dictionary read (a str caches its hash) costs a fraction of even the smallest scan. Bounded by its
    number of entries: once full it starts over, which keeps the vocabulary in at the price of one scan
    per text after each restart, instead of an LRU's bookkeeping on every read.
    """

    __slots__ = ("_entries", "max_entries")

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, text: str) -> str | None:
        """The redacted form of ``text``, ``CLEAN`` when it is clean, None when not known."""
        return self._entries.get(text)

    def put(self, text: str, redacted: str) -> None:
        # Under the GIL a clear and a put from two threads at once lose at most an entry.
        entries = self._entries
        if len(entries) >= self.max_entries:
            entries.clear()
        entries[text] = CLEAN if redacted == text else redacted
