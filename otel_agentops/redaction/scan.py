"""How text is scanned cheaply: the scan view and the number runs.

Redaction runs on every recorded prompt, so scanning text that holds nothing must cost next to nothing.
What is cheap in CPython, measured on 4 KB of text: looking for a single byte (``in``, a memchr) ~0.2 µs;
``re`` looking for a pattern that starts with a literal ~1.3 µs; ``re`` looking for a pattern that
starts with a character class ~15-40 µs, because it then tries a match at nearly every position.
Hence:

* the *scan view* (``scan_view``): the text as Latin-1 bytes, one byte per character (anything else
  becomes ``?``, so offsets carry over unchanged). Byte patterns keep ``[0-9]`` and word classes ASCII,
  and each detector starts at its rarest literal or is ruled out by a single absent byte;
* *number runs* (``number_runs``): cards, SSNs, phone numbers and IBANs all hold at least 9 digits
  with separators between them. One translation turns digits and separators into ``0`` and one literal
  search then finds every such run; number-shaped detectors run only in a window around each run
  (``Anchor``), so text full of dates, prices and versions stays cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEPARATORS = b" ().-/"
# The control characters JSON writes as \\u00XX (all but tab, line feed and carriage return): the fold
# marks them as CONTROL, so that the same translation also tells whether a text's JSON escaping is
# simple (see ``encoding``).
_OTHER_CONTROLS = bytes(code for code in range(32) if code not in (9, 10, 13))
CONTROL = 1
_FOLD_NUMBERS = bytes.maketrans(
    b"0123456789" + _SEPARATORS + _OTHER_CONTROLS, b"0" * 16 + bytes([CONTROL]) * len(_OTHER_CONTROLS)
)
# Ten characters or more: a compact Dutch IBAN has only ten digits in a row (NL91ABNA0417164300). An
# ISO date (2024-05-01) is as long but has only eight digits.
_RUN_SEED = b"0" * 10
_RUN_END = re.compile(b"[^0]")
_RUN_DIGITS = 9

_WORD = re.compile(rb"[A-Za-z0-9_]")
# Where a number may start inside a run: after a blank, a bracket or a slash (after "-" or "." it
# would continue a dashed or dotted chain such as an order number or a version).
_NUMBER_START = re.compile(rb"[ ()/][0-9(]")

NumberRun = tuple[int, int, int, bool]
"""start, end, the number of digits, and whether a free-standing number may start in the run: runs
glued to a word ("ORD-2024-000123", a UUID's last group) hold only IBANs, unless a blank or bracket
inside them starts a new number."""


def scan_view(text: str) -> bytes:
    return text.encode("latin-1", "replace")


# Every match of every built-in detector holds one of these bytes: a digit ("+", cards, phones, IBANs,
# SSNs), the capital that opens "AKIA"/"AIza", "Bearer"/"Basic"/"BEGIN" and "eyJ", or "@", "-", "_",
# ":", "=", "/", ";". A short string without any (a dictionary key, a role, most short answers) needs no
# scan at all; one translation tells. Keep this in step with the detectors: tests/redaction checks it.
TRIGGERS = b"0123456789ABJ@-_:=+/;"
_NOT_TRIGGERS = bytes(sorted(set(range(256)) - set(TRIGGERS)))


def has_trigger(view: bytes) -> bool:
    return bool(view.translate(None, _NOT_TRIGGERS))


def fold(view: bytes) -> bytes:
    """``view`` with digits and separators as ``0`` and the control characters of ``_OTHER_CONTROLS`` as
    ``CONTROL``: what ``number_runs`` reads."""
    return view.translate(_FOLD_NUMBERS)


def number_runs(view: bytes, folded: bytes | None = None) -> list[NumberRun]:
    """Runs of at least 10 digits and separators holding at least 9 digits; ``folded`` is
    ``fold(view)`` when the caller has it."""
    runs = []
    if folded is None:
        folded = fold(view)
    # bytes.find skips through text twice as fast as ``re`` would here: blanks fold to 0 too.
    start = folded.find(_RUN_SEED)
    while start >= 0:
        after = _RUN_END.search(folded, start + len(_RUN_SEED))
        end = after.start() if after else len(folded)
        digits = len(view[start:end].translate(None, _SEPARATORS))
        # Fewer digits: blanks (indentation) or a few small numbers in a row.
        if digits >= _RUN_DIGITS:
            glued = start > 0 and _WORD.match(view, start - 1) is not None
            runs.append((start, end, digits, not glued or _NUMBER_START.search(view, start, end) is not None))
        start = folded.find(_RUN_SEED, end)
    return runs


@dataclass(frozen=True, slots=True)
class Anchor:
    """Windows around the number runs that a number-shaped detector may match in.

    A run already includes the separators around its digits, and look-behinds see past a window's
    start, so most detectors need no margin; an IBAN starts with letters before its first digit run
    ("GB82 WEST 1234...") and may end in letters after it, and is the only number that may be glued
    to a word.
    """

    min_digits: int
    before: int = 0
    after: int = 1
    glued: bool = False

    def windows(self, runs: list[NumberRun]) -> list[tuple[int, int]]:
        merged: list[tuple[int, int]] = []
        for start, end, digits, free in runs:
            if digits < self.min_digits or not (free or self.glued):
                continue
            lo, hi = max(0, start - self.before), end + self.after
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        return merged
