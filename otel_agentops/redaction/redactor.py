"""The redactor: every detector, key rule and blob placeholder applied to content before it is recorded.

There is deliberately no "off" switch: content is only recorded when the user opted in, and then it is
always redacted. Instead the common case is made cheap (see ``scan``): text with nothing to redact costs
a dozen literal scans and a few single-byte checks, ~20 µs per 4 KB, and is returned as the very same
object.

Overlapping findings are masked as one span, their union, so that no detector's partial view leaves a
piece of a secret behind; masks (``[REDACTED:email]``, or ``[REDACTED:email:1a2b3c4d5e6f]`` in hash mode)
are never redacted again, so running redaction twice changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from typing import Any, Literal

from otel_agentops.redaction.blobs import Blob, find_blobs
from otel_agentops.redaction.detectors import (
    BUILTIN_DETECTORS,
    CustomDetector,
    Detector,
    Finding,
)
from otel_agentops.redaction.keys import KEY_MASK_NAME, AssignmentDetector, KeyRule
from otel_agentops.redaction.scan import Anchor, has_trigger, number_runs, scan_view
from otel_agentops.redaction.structure import rebuild, strings
from otel_agentops.redaction.truncation import dumps, truncate_messages_json

Mode = Literal["mask", "hash"]
_Search = Callable[[bytes, int, int], "re.Match[bytes] | None"]
_FindFrom = Callable[["re.Match[bytes] | None", str, bytes, int], list[Finding]]
MODES: tuple[Mode, ...] = ("mask", "hash")
DEFAULT_MAX_CONTENT_LENGTH = 16_384
MASK_PREFIX = "[REDACTED:"
HASH_HEX_DIGITS = 12

# An earlier redaction's output: redacting it again must change nothing (a span processor may re-run
# redaction), and nothing but a name and a digest fits in it.
_MASK_TOKEN = re.compile(rf"\[REDACTED:[A-Za-z0-9_]+(?::[0-9a-f]{{{HASH_HEX_DIGITS}}})?\]")

# Shared by every Redactor of this process, so that hashes agree within a process without a
# configured key, yet cannot be correlated (or brute-forced) from outside it.
_PROCESS_HASH_KEY = secrets.token_bytes(32)

# Nothing shorter than "pwd=x" or "a@b.io" can be a built-in finding.
_SHORTEST_BUILTIN = 5
# Between texts redacted in one scan: the blank ends every built-in finding (a private key block
# aside), the NUL tells the texts apart.
_JOINT = "\n\x00\n"
# Checking for trigger bytes pays off on short strings; long text hardly ever lacks them all.
_TRIGGER_CHECK_MAX = 256


class Redactor:
    """Immutable once built, hence safe to share between threads; build one with ``redactor_from_env``."""

    __slots__ = (
        "_allow",
        "_anchored",
        "_builtin_only",
        "_hash_key",
        "_keys",
        "_mode",
        "_scanners",
        "_searches",
        "max_content_length",
    )

    _allow: tuple[re.Pattern[str], ...]
    # Built-in detectors, unpacked once here because redact_text runs each of them on every text:
    # (gate, pattern.search, find_from) and, for number-shaped ones, by anchor.
    _searches: tuple[tuple[bytes | None, _Search, _FindFrom], ...]
    _anchored: tuple[tuple[Anchor, tuple[tuple[_Search, _FindFrom], ...]], ...]
    _scanners: tuple[Detector, ...]
    _hash_key: bytes
    _keys: KeyRule
    _mode: Mode
    _builtin_only: bool
    max_content_length: int | None

    def __init__(
        self,
        *,
        mode: Mode = "mask",
        hash_key: bytes | None = None,
        extra_keys: Iterable[str] = (),
        extra_patterns: Iterable[CustomDetector] = (),
        allow: Iterable[re.Pattern[str]] = (),
        max_content_length: int | None = DEFAULT_MAX_CONTENT_LENGTH,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if max_content_length is not None and max_content_length < 1:
            raise ValueError(f"max_content_length must be at least 1, not {max_content_length}")
        keys = KeyRule(extra_keys)
        custom = tuple(extra_patterns)
        anchors: dict[Anchor, list[tuple[_Search, _FindFrom]]] = {}
        for detector in BUILTIN_DETECTORS:
            if detector.anchor is not None:
                anchors.setdefault(detector.anchor, []).append((detector.pattern.search, detector.find_from))
        searches = tuple(
            (d.gate, d.pattern.search, d.find_from) for d in BUILTIN_DETECTORS if d.anchor is None
        )
        init = object.__setattr__
        init(self, "_mode", mode)
        init(self, "_hash_key", _PROCESS_HASH_KEY if hash_key is None else hash_key)
        init(self, "_keys", keys)
        init(self, "_searches", searches)
        init(self, "_anchored", tuple((anchor, tuple(group)) for anchor, group in anchors.items()))
        init(self, "_scanners", (AssignmentDetector(keys), *custom))
        init(self, "_allow", tuple(allow))
        # A user pattern may match anything, even one character: the shortcuts for short text and text
        # without trigger bytes only hold without one.
        init(self, "_builtin_only", not custom)
        init(self, "max_content_length", max_content_length)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        return f"Redactor(mode={self._mode!r}, max_content_length={self.max_content_length})"

    @property
    def mode(self) -> Mode:
        return self._mode

    # --- free text -------------------------------------------------------------------------------

    def redact_text(self, text: str) -> str:
        """``text`` with every detected secret masked and every inline base64 blob shrunk."""
        view = self._view_to_scan(text)
        return text if view is None else self._scan(text, view)

    def _view_to_scan(self, text: str) -> bytes | None:
        """The scan view of ``text``, or None when it is too short or lacks every trigger byte."""
        if self._builtin_only and len(text) < _SHORTEST_BUILTIN:
            return None
        view = scan_view(text)
        if self._builtin_only and len(view) <= _TRIGGER_CHECK_MAX and not has_trigger(view):
            return None
        return view

    def _scan(self, text: str, view: bytes) -> str:
        """Every detector over ``text``, without the shortcuts (which tests check against this)."""
        findings, blobs = self._find(text, view)
        return self._rewrite(text, findings, blobs) if findings or blobs else text

    def _find(self, text: str, view: bytes) -> tuple[list[Finding], list[Blob]]:
        end = len(view)
        findings: list[Finding] = []
        for gate, search, find_from in self._searches:
            if (gate is None or gate in view) and (match := search(view, 0, end)):
                findings += find_from(match, text, view, end)
        for scanner in self._scanners:
            findings += scanner.find(text, view)
        runs = number_runs(view)
        if runs:
            for anchor, searches in self._anchored:
                for lo, hi in anchor.windows(runs):
                    for search, find_from in searches:
                        if match := search(view, lo, hi):
                            findings += find_from(match, text, view, hi)
        return findings, find_blobs(text, view)

    def _rewrite(self, text: str, findings: list[Finding], blobs: list[Blob]) -> str:
        if self._allow or "[" in text:  # "[" is a memchr: earlier masks and allow lists are rare
            findings = self._unless_kept(text, findings)
        # Sorted by start, longest first; a blob has no mask name, a finding no placeholder.
        spans = sorted([(s, -e, name, "") for s, e, name in findings] + [(s, -e, "", p) for s, e, p in blobs])
        parts: list[str] = []
        done = start = end = 0
        name = placeholder = ""
        for span_start, neg_end, span_name, span_placeholder in spans:
            if span_start < end:
                # Overlapping findings become one redaction over their union, named after the first
                # finding in it: nothing of either leaks.
                end = max(end, -neg_end)
                name = name or span_name
                continue
            if end:
                parts += (text[done:start], self._mask(name, text[start:end]) if name else placeholder)
                done = end
            start, end, name, placeholder = span_start, -neg_end, span_name, span_placeholder
        if not end:
            return text
        parts += (text[done:start], self._mask(name, text[start:end]) if name else placeholder, text[end:])
        return "".join(parts)

    def _unless_kept(self, text: str, findings: list[Finding]) -> list[Finding]:
        """``findings`` less allowed values and those inside an earlier mask."""
        masks = [m.span() for m in _MASK_TOKEN.finditer(text)] if MASK_PREFIX in text else []
        return [
            (s, e, name)
            for s, e, name in findings
            if not self._allowed(text[s:e]) and not any(ms <= s and e <= me for ms, me in masks)
        ]

    def _allowed(self, value: str) -> bool:
        return any(pattern.fullmatch(value) for pattern in self._allow)

    def _mask(self, name: str, value: str) -> str:
        if self._mode == "mask":
            return f"{MASK_PREFIX}{name}]"
        digest = hmac.new(self._hash_key, value.encode("utf-8", "surrogatepass"), hashlib.sha256)
        return f"{MASK_PREFIX}{name}:{digest.hexdigest()[:HASH_HEX_DIGITS]}]"

    # --- structured data -------------------------------------------------------------------------

    def redact_value(self, value: Any) -> Any:
        """``value`` (dicts, lists, tuples, strings nested at will) with secrets masked: a copy, or
        ``value`` itself when nothing in it needs redacting.

        Values under a secret-naming key are masked whole, whatever they hold; strings that hold a JSON
        object or array (tool-call ``arguments``) are redacted as structures.
        """
        texts: list[str] = []
        secret_key = strings(value, texts, self._keys.is_sensitive)
        redacted = self._redact_texts(texts)
        # Mostly nothing needs redacting: then the value itself will do, and rebuilding it would not.
        if redacted is texts and not secret_key:
            return value
        return rebuild(value, iter(redacted), self._keys.is_sensitive, self._by_key)

    def _by_key(self, key: str, value: Any) -> Any:
        if value is None or value == "":
            return value
        if isinstance(value, str):
            if value.startswith(MASK_PREFIX) or self._allowed(value):
                return value
            return self._mask(KEY_MASK_NAME, value)
        return self._mask(KEY_MASK_NAME, json.dumps(value, sort_keys=True, default=repr))

    def _redact_texts(self, texts: list[str]) -> list[str]:
        """``redact_text`` of each of ``texts``, in a single scan of them all joined; ``texts`` itself
        when nothing changed."""
        # Checking each text for trigger bytes would cost more than scanning them all at once.
        todo = [i for i, text in enumerate(texts) if len(text) >= _SHORTEST_BUILTIN]
        joined = _JOINT.join(texts[i] for i in todo)
        # One by one if a text holds the joint itself, or if a user pattern might rely on "^" or "$"
        # meaning the start or end of one value.
        if len(todo) < 2 or joined.count("\x00") != len(todo) - 1 or not self._builtin_only:
            todo = list(range(len(texts)))
            return self._replace(texts, todo, [self.redact_text(texts[i]) for i in todo])
        findings, blobs = self._find(joined, scan_view(joined))
        if not findings and not blobs:
            return texts
        # A finding never spans a joint ("\n" ends all but a private key block); when it does, each
        # text gets its own part.
        starts = [0]
        for i in todo[:-1]:
            starts.append(starts[-1] + len(texts[i]) + len(_JOINT))
        pieces = [
            (max(s, starts[k]), min(e, starts[k] + len(texts[todo[k]])), name)
            for s, e, name in findings
            for k in range(bisect_right(starts, s) - 1, bisect_left(starts, e))
        ]
        return self._replace(
            texts, todo, self._rewrite(joined, [p for p in pieces if p[0] < p[1]], blobs).split(_JOINT)
        )

    @staticmethod
    def _replace(texts: list[str], indices: list[int], redacted: list[str]) -> list[str]:
        if all(texts[i] == text for i, text in zip(indices, redacted, strict=True)):
            return texts
        replaced = list(texts)
        for i, text in zip(indices, redacted, strict=True):
            replaced[i] = text
        return replaced

    def redact_json_str(self, s: str) -> str:
        """A JSON attribute (``gen_ai.input.messages``...) redacted as data, re-serialised compactly.

        Text that is not JSON is redacted as free text.
        """
        try:
            document = json.loads(s)
        except ValueError:
            return self.redact_text(s)
        return dumps(self.redact_value(document))

    # --- size ------------------------------------------------------------------------------------

    def truncate_messages_json(self, s: str, max_len: int | None = None) -> str:
        """``s`` bounded to ``max_len`` (default: ``max_content_length``) characters, still valid JSON."""
        bound = self.max_content_length if max_len is None else max_len
        return s if bound is None else truncate_messages_json(s, bound)

    def redact_content(self, s: str) -> str:
        """What a content attribute should hold: ``s`` redacted as JSON, then bounded in size.

        Redaction comes first so that a cut can never split a secret into undetectable halves.
        """
        return self.truncate_messages_json(self.redact_json_str(s))
