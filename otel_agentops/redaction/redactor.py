"""The redactor: every detector, key rule and blob placeholder applied to content before it is recorded.

There is deliberately no "off" switch: content is only recorded when the user opted in, and then it is
always redacted. Instead the common case is made cheap (see ``scan``): text with nothing to redact costs
a memchr per detector (``gates``), one byte translation and a few literal scans, ~9 µs per 4 KB, and is
returned as the very same object. Long texts seen before (a system prompt, a conversation's history sent
again with every call) come from a bounded memo (``memo``), and content attributes are written as JSON
without the json module's slow escaping of long strings (``encoding``).

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
    literal_start,
)
from otel_agentops.redaction.encoding import FAST_MIN_CHARS, compact_dumps, simple_escapes, simple_literal
from otel_agentops.redaction.keys import KEY_MASK_NAME, AssignmentDetector, KeyRule
from otel_agentops.redaction.memo import (
    CLEAN,
    DEFAULT_MAX_CHARS,
    MIN_CHARS,
    LiteralMemo,
    OutputMemo,
    ShortMemo,
    TextMemo,
)
from otel_agentops.redaction.scan import CONTROL, Anchor, fold, has_trigger, number_runs, scan_view
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
# What every private key block starts with: the one finding that may span the strings of a structure.
_BLOCK_START = "-----BEGIN"
# Checking for trigger bytes pays off on short strings; long text hardly ever lacks them all.
_TRIGGER_CHECK_MAX = 256
# Keys of the semantic-convention message shapes and of tool definitions. Where the configured rules
# leave one of them alone (neither a secret-naming key nor text a detector changes, which the
# constructor checks), walking a value skips it: no key check, and no key text to scan.
_COMMON_KEYS = (
    "role",
    "parts",
    "type",
    "content",
    "finish_reason",
    "id",
    "name",
    "arguments",
    "response",
    "result",
    "modality",
    "mime_type",
    "uri",
    "file_id",
    "function",
    "description",
    "parameters",
    "properties",
    "required",
    "strict",
    "text",
    "tool_call_id",
    "tool_calls",
    "items",
    "enum",
)


class Redactor:
    """Immutable once built, hence safe to share between threads; build one with ``redactor_from_env``."""

    __slots__ = (
        "_allow",
        "_anchored",
        "_builtin_only",
        "_encode",
        "_encode_long",
        "_hash_key",
        "_keys",
        "_literals",
        "_memo",
        "_mode",
        "_outputs",
        "_plain_keys",
        "_scanners",
        "_searches",
        "_short",
        "max_content_length",
    )

    _allow: tuple[re.Pattern[str], ...]
    # Built-in detectors, unpacked once here because redact_text runs each of them on every text:
    # (gates, the byte every match starts with, pattern.search, find_from) and, for number-shaped
    # ones, by anchor.
    _searches: tuple[tuple[bytes, int | None, _Search, _FindFrom], ...]
    _anchored: tuple[tuple[Anchor, tuple[tuple[_Search, _FindFrom], ...]], ...]
    _scanners: tuple[Detector, ...]
    _hash_key: bytes
    _keys: KeyRule
    _plain_keys: frozenset[str]
    _memo: TextMemo
    _short: ShortMemo
    _literals: LiteralMemo
    _outputs: OutputMemo
    _encode: Callable[[Any], str]
    _encode_long: Callable[[Any], str]
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
            (d.gates, literal_start(d.pattern), d.pattern.search, d.find_from)
            for d in BUILTIN_DETECTORS
            if d.anchor is None
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
        init(self, "_memo", TextMemo())
        init(self, "_short", ShortMemo())
        # Spans wait for export up to a few seconds, 2048 of them at most: enough to know the content
        # attributes of a busy app's queue (any others are redacted again, as any value is).
        init(self, "_outputs", OutputMemo(max_chars=8 * DEFAULT_MAX_CHARS))
        # The JSON string literals of long redacted texts, written while the scan's fold tells what
        # they need escaped (see ``encoding``): content_json takes them from here.
        init(self, "_literals", LiteralMemo())
        init(
            self,
            "_plain_keys",
            frozenset(k for k in _COMMON_KEYS if not keys.is_sensitive(k) and self._redact_one(k) == k),
        )
        # Objects JSON cannot hold are written as their str(), which is redacted as any text.
        init(self, "_encode", compact_dumps(self._redacted_str, long_strings=False))
        init(
            self,
            "_encode_long",
            compact_dumps(self._redacted_str, long_strings=True, known=self._literals.get),
        )

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
        memo: TextMemo | ShortMemo = self._memo if len(text) >= MIN_CHARS else self._short
        known = memo.get(text)
        if known is not None:
            return text if known is CLEAN else known
        redacted = self._redact_one(text)
        memo.put(text, redacted)
        return redacted

    def _redact_one(self, text: str) -> str:
        view = self._view_to_scan(text)
        if view is None:
            return text
        folded = fold(view)
        findings, blobs = self._find(text, view, folded)
        redacted = self._rewrite(text, findings, blobs) if findings or blobs else text
        # Masks and placeholders hold no character JSON escapes: the redacted text needs at most the
        # escapes the text itself needs, which its view and fold tell.
        if len(text) >= MIN_CHARS and CONTROL not in folded:
            self._literals.put(redacted, simple_literal(redacted, simple_escapes(view)))
        return redacted

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
        findings, blobs = self._find(text, view, fold(view))
        return self._rewrite(text, findings, blobs) if findings or blobs else text

    def _find(self, text: str, view: bytes, folded: bytes) -> tuple[list[Finding], list[Blob]]:
        end = len(view)
        findings: list[Finding] = []
        for gates, first, search, find_from in self._searches:
            for gate in gates:
                if gate not in view:
                    break
            else:
                start = 0 if first is None else view.find(first)
                if start >= 0 and (match := search(view, start, end)):
                    findings += find_from(match, text, view, end)
        for scanner in self._scanners:
            findings += scanner.find(text, view)
        runs = number_runs(view, folded)
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
        return self._redact_value(value, [])

    def _redact_value(self, value: Any, texts: list[str]) -> Any:
        """``redact_value``, leaving the strings of ``value`` (keys of ``_plain_keys`` aside) in ``texts``."""
        secret_key = strings(value, texts, self._keys.is_sensitive, self._plain_keys)
        redacted = self._redact_texts(texts)
        # Mostly nothing needs redacting: then the value itself will do, and rebuilding it would not.
        if redacted is texts and not secret_key:
            return value
        return rebuild(value, iter(redacted), self._keys.is_sensitive, self._by_key, self._plain_keys)

    def content_json(self, value: Any, *, remember: bool = True) -> str:
        """What a content attribute holds: ``value`` redacted, as compact JSON, bounded in size.

        Objects that JSON cannot hold are written as their ``str()``, redacted as text. ``remember``: let
        ``wrote`` know the result (not needed where the safety net itself writes it).
        """
        texts: list[str] = []
        redacted = self._redact_value(value, texts)
        # Long strings are escaped faster by ``encoding``; short ones by the json module in C alone.
        encoded = (self._encode_long if max(map(len, texts), default=0) >= FAST_MIN_CHARS else self._encode)(
            redacted
        )
        bound = self.max_content_length
        if bound is not None and len(encoded) > bound:
            encoded = truncate_messages_json(encoded, bound)
        if remember and len(encoded) >= MIN_CHARS:
            self._outputs.put(encoded)
        return encoded

    def is_secret_key(self, key: str) -> bool:
        """Whether ``key`` names a secret: its value is masked whole, whatever it holds."""
        return self._keys.is_sensitive(key)

    def wrote(self, value: object) -> bool:
        """Whether ``value`` is the very string a recent ``content_json`` returned: redacted already.
        Asked once per value (the export of its span): the answer is forgotten."""
        return type(value) is str and len(value) >= MIN_CHARS and self._outputs.take(value)

    def _redacted_str(self, value: object) -> str:
        return self.redact_text(str(value))

    def _by_key(self, key: str, value: Any) -> Any:
        # A flag ("password_required": true) says nothing secret.
        if value is None or value == "" or type(value) is bool:
            return value
        if isinstance(value, str):
            # Only a mask as a whole: "[REDACTED:x] hunter2" is not redacted yet.
            if _MASK_TOKEN.fullmatch(value) or self._allowed(value):
                return value
            return self._mask(KEY_MASK_NAME, value)
        return self._mask(KEY_MASK_NAME, json.dumps(value, sort_keys=True, default=repr))

    def _redact_texts(self, texts: list[str]) -> list[str]:
        """``redact_text`` of each of ``texts``, in a single scan of those not in the memo, joined;
        ``texts`` itself when nothing changed."""
        # A user pattern might rely on "^" or "$" meaning the start or end of one value: one by one.
        if not self._builtin_only:
            return self._replace(texts, list(range(len(texts))), [self.redact_text(text) for text in texts])
        if any(_BLOCK_START in text for text in texts):
            # A private key split over several strings (a PEM file as a list of lines) is found only
            # when its lines are scanned together: a line answered from a memo would be left out.
            scanned = self._scan_joined(texts)
            return texts if scanned is None else self._replace(texts, list(range(len(texts))), scanned)
        memo = self._memo
        short = self._short
        todo: list[int] = []
        known: list[tuple[int, str]] = []
        for i, text in enumerate(texts):
            size = len(text)
            if size < _SHORTEST_BUILTIN:
                continue
            redacted = memo.get(text) if size >= MIN_CHARS else short.get(text)
            if redacted is None:
                todo.append(i)
            elif redacted is not CLEAN:
                known.append((i, redacted))
        if todo:
            scanned = self._scan_joined([texts[i] for i in todo])
            for k, i in enumerate(todo):
                text = texts[i]
                (memo if len(text) >= MIN_CHARS else short).put(text, text if scanned is None else scanned[k])
            if scanned is not None:
                known += zip(todo, scanned, strict=True)
        if not known:
            return texts
        return self._replace(texts, [i for i, _ in known], [redacted for _, redacted in known])

    def _scan_joined(self, parts: list[str]) -> list[str] | None:
        """``_redact_one`` of each of ``parts`` (built-in detectors only), in a single scan of them all
        joined; None when nothing in them changed."""
        if len(parts) == 1:
            text = parts[0]
            redacted = self._redact_one(text)
            return None if redacted is text else [redacted]
        joined = _JOINT.join(parts)
        if joined.count("\x00") != len(parts) - 1:  # a text holds the joint itself: one by one
            redacted_parts = [self._redact_one(part) for part in parts]
            return None if all(r is p for r, p in zip(redacted_parts, parts, strict=True)) else redacted_parts
        view = scan_view(joined)
        # The joint holds no trigger byte: short texts without any need no scan at all.
        if len(view) <= _TRIGGER_CHECK_MAX and not has_trigger(view):
            return None
        findings, blobs = self._find(joined, view, fold(view))
        if not findings and not blobs:
            return None
        # A finding never spans a joint ("\n" ends all but a private key block); when it does, each
        # text gets its own part.
        starts = [0]
        for part in parts[:-1]:
            starts.append(starts[-1] + len(part) + len(_JOINT))
        pieces = [
            (max(s, starts[k]), min(e, starts[k] + len(parts[k])), name)
            for s, e, name in findings
            for k in range(bisect_right(starts, s) - 1, bisect_left(starts, e))
        ]
        return self._rewrite(joined, [p for p in pieces if p[0] < p[1]], blobs).split(_JOINT)

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
