"""Built-in detectors: what a secret or a piece of PII looks like in free text.

Patterns run on the scan view (see ``scan``) and start at their rarest literal (``@``, ``sk-``, the
``J`` of ``eyJ``...) so that ``re`` can skip ahead fast; where the secret extends left of that literal,
``before`` says how. Number-shaped patterns run only around number runs (``anchor``). A validator then
checks the real characters of a match (Luhn, mod-97, SSN numbering), so look-alikes are ruled out by
value rather than by shape alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from otel_agentops.redaction import validators as v
from otel_agentops.redaction.scan import Anchor

try:
    from re import _constants, _parser  # type: ignore[attr-defined]
except ImportError:  # Python 3.10
    import sre_constants as _constants  # type: ignore[no-redef]
    import sre_parse as _parser  # type: ignore[no-redef]

Finding = tuple[int, int, str]
"""start, end (in the text) and the name that goes into the mask."""

# How far ``before`` may reach left of a match: an e-mail local part is at most 64 characters.
_BEFORE_REACH = 64


class Detector(Protocol):
    def find(self, text: str, view: bytes, lo: int = 0, hi: int | None = None) -> Iterable[Finding]:
        """Spans of ``text[lo:hi]`` to redact; ``view`` is ``scan.scan_view(text)``."""
        ...


@dataclass(frozen=True, slots=True)
class RegexDetector:
    name: str
    pattern: re.Pattern[bytes]
    validator: Callable[[str], bool] | None = None
    # Only this named group is secret; the rest of the match is context that stays (``Bearer ``).
    group: str | None = None
    # Matched against the view *reversed* from the match start leftwards: what must precede the match.
    # Unless ``group`` is set it belongs to the secret (the local part of an e-mail address).
    before: re.Pattern[bytes] | None = None
    # Number-shaped detectors run only around number runs.
    anchor: Anchor | None = None
    # Bytes that every match contains and most text lacks: a memchr for each (~0.1 µs per 4 KB) rules the
    # detector out before ``re`` scans the text (~1.2 µs). Single bytes, looked for as ints (iterating
    # ``bytes`` gives ints): CPython's search for a longer literal steps through the text and costs more
    # than ``re`` itself, and ``bytes in bytes`` first fails to read its argument as an int, formatting
    # a TypeError each time.
    gates: bytes = b""
    # Groups named after a more specific mask name: the first one taking part in a match names it.
    # Lets detectors that share a leading literal share one scan.
    variants: tuple[str, ...] = ()

    def find(self, text: str, view: bytes, lo: int = 0, hi: int | None = None) -> list[Finding]:
        if not all(gate in view for gate in self.gates):
            return []
        end = len(view) if hi is None else hi
        first = self.pattern.search(view, lo, end)
        return [] if first is None else self.find_from(first, text, view, end)

    def find_from(self, match: re.Match[bytes] | None, text: str, view: bytes, end: int) -> list[Finding]:
        """Findings from ``match``, this detector's first match in ``view[:end]``, on.

        The redactor searches first and calls this only on a hit: on most text a detector finds
        nothing, and the search alone costs less than a call to ``find``.
        """
        search = self.pattern.search
        found: list[Finding] = []
        while match is not None:
            begin = match.start()
            start, stop = match.span(self.group) if self.group else (begin, match.end())
            # A rejected match is retried one character later: a valid secret may start inside it.
            pos = begin + 1
            if self.before is not None:
                back = self.before.match(view[max(0, begin - _BEFORE_REACH) : begin][::-1])
                if back is None:
                    match = search(view, pos, end)
                    continue
                if self.group is None:
                    start -= back.end()
            if self.validator is None or self.validator(text[start:stop]):
                pos = max(match.end(), pos)
                name = next((variant for variant in self.variants if match.start(variant) >= 0), self.name)
                found.append((start, stop, name))
            match = search(view, pos, end)
        return found


@dataclass(frozen=True, slots=True)
class CustomDetector:
    """A user's pattern (``OTEL_AGENTOPS_REDACT_PATTERNS``), run on the text itself.

    Users write ordinary regexes (``\\d``, Unicode classes), so these see the real text rather than the
    scan view, at the price of a slower scan. Each named group that takes part in a match is redacted
    under its own name; without named groups the whole match is, under ``name``.
    """

    name: str
    pattern: re.Pattern[str]

    def find(self, text: str, view: bytes, lo: int = 0, hi: int | None = None) -> Iterator[Finding]:
        groups = tuple(self.pattern.groupindex)
        for match in self.pattern.finditer(text, lo, len(text) if hi is None else hi):
            spans = [(*match.span(g), g) for g in groups if match.start(g) >= 0] or [
                (*match.span(), self.name)
            ]
            yield from (span for span in spans if span[1] > span[0])


def literal_start(pattern: re.Pattern[bytes]) -> int | None:
    """The byte every match of ``pattern`` starts with, if its first element is a literal byte: a search
    may then start at that byte's first occurrence, found with a memchr (``re`` steps through the text
    byte by byte to it; its look-behinds still see what precedes)."""
    try:
        parsed = _parser.parse(pattern.pattern, pattern.flags)
        kind, value = parsed[0]
    except Exception:  # a private module of the standard library: no shortcut rather than a wrong one
        return None
    return value if kind is _constants.LITERAL and isinstance(value, int) else None


def _rx(pattern: bytes) -> re.Pattern[bytes]:
    return re.compile(pattern, re.DOTALL)


def _first(literal: bytes, not_after: bytes) -> bytes:
    """``literal`` not preceded by ``not_after``, checked after it so that ``re`` can skip to it."""
    return literal + rb"(?<!" + not_after + literal + rb")"


# Token-ish secrets must not be glued to other identifier characters ("risk-assessment-..." holds "sk-").
_TOKEN = rb"[A-Za-z0-9_-]"

_CARD_RUN = Anchor(min_digits=13)
_SSN_RUN = Anchor(min_digits=9)
# A phone number may be glued to a label ("Tel-415-555-0132"); the patterns themselves keep dashed
# chains such as order numbers out.
_PHONE_RUN = Anchor(min_digits=10, glued=True)
# "GB82 WEST 1234 5698 7654 32": up to ten characters before the first digit run, letters after it.
_IBAN_RUN = Anchor(min_digits=9, before=12, after=16, glued=True)

# Number-shaped secrets are not part of a longer number, identifier, decimal or dotted/dashed chain. A
# comma is a list separator ("John,4111111111111111,12/27" in a CSV row) rather than a decimal one:
# fractions of 13 digits and more are rare, a card in a CSV row is not.
_NUMBER_BEFORE = rb"[A-Za-z0-9_.+-]"
_NUMBER_END = rb"(?![A-Za-z0-9_]|\.\d)"
_DASHED_BEFORE = rb"[A-Za-z0-9_.-]"
_DASHED_END = rb"(?![A-Za-z0-9_]|[.-]\d)"


BUILTIN_DETECTORS: tuple[RegexDetector, ...] = (
    RegexDetector(
        "openai_api_key",
        # sk-, sk-proj-, sk-svcacct-, sk-admin-, and Anthropic's sk-ant-api03-.
        _rx(
            _first(b"sk-", _TOKEN)
            + rb"(?:(?P<anthropic_api_key>ant-(?:[a-z]+\d\d-)?)|proj-|svcacct-|admin-)?"
            + _TOKEN
            + rb"{20,}"
        ),
        v.has_digit_and_letter,
        variants=("anthropic_api_key",),
        gates=b"-",
    ),
    RegexDetector(
        "aws_access_key_id",
        # AWS: long-term (AKIA), temporary (ASIA) and the other IAM unique-id prefixes; Google: AIza.
        _rx(
            _first(b"A", _TOKEN)
            + rb"(?:(?:KIA|SIA|GPA|IDA|ROA|NPA|NVA|PKA|BIA|CCA)[A-Z0-9]{16}(?![A-Za-z0-9])"
            rb"|(?P<google_api_key>Iza" + _TOKEN + rb"{35}(?!" + _TOKEN + rb")))"
        ),
        variants=("google_api_key",),
        gates=b"A",
    ),
    RegexDetector(
        "github_token",
        _rx(_first(b"g", rb"[A-Za-z0-9_]") + rb"(?:h[pousr]_[A-Za-z0-9]{30,}|ithub_pat_[A-Za-z0-9_]{22,})"),
        gates=b"_g",
    ),
    RegexDetector(
        "slack_token", _rx(_first(rb"xox[abposr]-", rb"[A-Za-z0-9]") + rb"[A-Za-z0-9-]{10,}"), gates=b"x-"
    ),
    RegexDetector(
        "stripe_key",
        # Secret and restricted keys; publishable pk_ keys are public by design.
        _rx(rb"k_(?:live|test)_[A-Za-z0-9]{10,}"),
        before=_rx(rb"[rs](?![A-Za-z0-9_])"),
        gates=b"_",
    ),
    RegexDetector(
        "bearer_token",
        # The scheme as written in headers and docs; "authorization: bearer ..." is caught by its key.
        _rx(_first(b"Bearer", rb"[A-Za-z0-9_]") + rb"[ \t]+(?P<secret>[A-Za-z0-9._~+/-]{8,}=*)"),
        v.looks_like_token,
        group="secret",
        gates=b"B",
    ),
    RegexDetector(
        "basic_auth",
        _rx(
            _first(b"Basic", rb"[A-Za-z0-9_]")
            + rb"[ \t]+(?P<secret>[A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])"
        ),
        v.is_basic_credentials,
        group="secret",
        gates=b"B",
    ),
    RegexDetector(
        "url_password",
        # https://user:password@host: only the password goes.
        # The user may be empty: redis://:password@host.
        _rx(rb"://[^/\s:@\"'<>]{0,64}:(?P<secret>[^/\s@\"'<>]{1,128})@"),
        group="secret",
        gates=b"@/",
    ),
    RegexDetector(
        "jwt",
        # Header and payload are base64 of '{"', "eyJ"; scanning starts at the J, the rarer letter.
        _rx(rb"J" + _TOKEN + rb"{8,}\.eyJ" + _TOKEN + rb"{8,}\." + _TOKEN + rb"*"),
        before=_rx(rb"ye(?!" + _TOKEN + rb")"),
        gates=b"J",
    ),
    RegexDetector(
        "private_key",
        # The whole block; a block cut short (no END line, e.g. by truncation) goes up to its last
        # base64-ish character, JSON-escaped newlines included.
        _rx(
            rb"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
            rb"(?:.*?-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\:,-]*)"
        ),
        gates=b"-B",
    ),
    RegexDetector(
        "email",
        # Starts at the "@" (rare, so cheap to scan for); the local part comes from ``before``. An
        # scp-style "git@host:path" is an address of a repository, not of a person.
        _rx(
            rb"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
            rb"\.[A-Za-z]{2,24}(?![A-Za-z0-9-]|:[A-Za-z0-9_~/])"
        ),
        v.is_email,
        gates=b"@",
        # Read backwards, so the lookahead looks left: the whole local part, and not the password of a
        # "scheme://user:password@host" URL (that is ``url_password``).
        before=_rx(rb"[A-Za-z0-9._%+-]{1,64}(?![A-Za-z0-9._%+-]|:[^/\s:@]{0,64}//:)"),
    ),
    RegexDetector(
        "payment_card",
        # Unbroken, 4-4-4-4 or 4-6-5/4-6-4 (Amex, Diners) groups with one kind of separator.
        _rx(
            _first(rb"[2-6]", _NUMBER_BEFORE)
            + rb"(?:\d{12,18}|\d{3}(?P<sep>[ -])(?:\d{6}(?P=sep)\d{4,5}|\d{4}(?P=sep)\d{4}(?P=sep)\d{4}))"
            + _NUMBER_END
        ),
        v.is_payment_card,
        anchor=_CARD_RUN,
    ),
    RegexDetector(
        "payment_card",
        # 19-digit cards as 4-4-4-4-3: separate from the 16-digit shape so that a 16-digit card followed
        # by an unrelated 3-digit number is still tried as 16 digits.
        _rx(
            _first(rb"[2-6]", _NUMBER_BEFORE)
            + rb"\d{3}(?P<sep>[ -])\d{4}(?P=sep)\d{4}(?P=sep)\d{4}(?P=sep)\d{3}"
            + _NUMBER_END
        ),
        v.is_payment_card,
        anchor=_CARD_RUN,
    ),
    RegexDetector(
        "us_ssn",
        _rx(_first(rb"[0-9]", _DASHED_BEFORE) + rb"\d\d(?P<sep>[- ])\d\d(?P=sep)\d{4}(?![A-Za-z0-9_]|-\d)"),
        v.is_us_ssn,
        anchor=_SSN_RUN,
    ),
    RegexDetector(
        "phone",
        # +CC then groups; a "(0)" trunk hint may follow the country code.
        _rx(
            rb"\+(?<![A-Za-z0-9+]\+)[1-9]\d{0,2}(?:[ .-]?\(\d{1,5}\)[ .-]?\d{1,6}|[ .-]?\d{1,14})"
            rb"(?:[ .-]\d{1,10}){0,6}"
            rb"(?![A-Za-z0-9_])"
        ),
        v.is_international_phone,
        gates=b"+",
    ),
    RegexDetector(
        "phone",
        # North American 555-123-4567, 555.123.4567 (and from the area code on, 1-800-555-0199). Area
        # codes never start with 0 or 1, which spares most dotted versions and builds; blanks alone are
        # not enough to tell "415 555 0132" from three numbers in a row.
        _rx(_first(rb"[2-9]", rb"[A-Za-z0-9_.]") + rb"\d\d(?P<sep>[.-])\d{3}(?P=sep)\d{4}" + _DASHED_END),
        anchor=_PHONE_RUN,
    ),
    RegexDetector(
        "phone",
        # North American (555) 123-4567.
        _rx(_first(rb"\(", rb"[A-Za-z0-9_]") + rb"[2-9]\d\d\)[ .-]?\d{3}[ .-]\d{4}" + _DASHED_END),
        anchor=_PHONE_RUN,
    ),
    RegexDetector(
        "phone",
        # National numbers with a trunk 0: 020 7946 0958, 07700 900123, 030 12345678, 06 12 34 56 78.
        # One kind of separator throughout, so "01.02.2024 10:30" is a date and a time.
        _rx(
            _first(b"0", _DASHED_BEFORE)
            + rb"[1-9]\d{0,3}(?P<sep>[ .-])\d{2,8}(?:(?P=sep)\d{2,8}){0,4}"
            + _DASHED_END
        ),
        v.is_trunk_phone,
        anchor=_PHONE_RUN,
    ),
    RegexDetector(
        "iban",
        _rx(
            _first(rb"[A-Z]", rb"[A-Za-z0-9]")
            + rb"[A-Z]\d\d(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])"
        ),
        v.iban_ok,
        anchor=_IBAN_RUN,
    ),
)
