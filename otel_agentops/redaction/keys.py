"""Which keys name a secret, so that their value is masked whatever it looks like.

Keys are compared as *segments*, not substrings: ``gen_ai.usage.input_tokens``, ``maxTokens`` and
``x-api-key`` split into ``gen ai usage input tokens``, ``max tokens`` and ``x api key``. A credential
word must then be a whole segment, and the generic ones (``token``, ``auth``, ``session``) must be the
*last* segment, the noun the key names: ``access_token`` is a secret, ``token_count``, ``max_tokens``
and ``session.id`` are telemetry.

The same rule applies to dictionary keys (``redact_value``) and to ``key=value`` / ``"key": "value"`` /
``?key=value`` written inside free text (``AssignmentDetector``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from otel_agentops.redaction.detectors import Finding

KEY_MASK_NAME = "key"
_KNOWN_KEYS = 4096

# Credential words that make any key containing them secret ("db_password", "client_secret_value").
_ANYWHERE = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "secrets",
        "credential",
        "credentials",
        "apikey",
        "privatekey",
        "secretkey",
        "accesskey",
        "clientsecret",
        "sessionid",
        "jsessionid",
        "phpsessid",
        "cvv",
        "cvc",
        "ssn",
    }
)
# Words that name a credential only as the key's last segment ("refresh_token" but not "token_count").
_LAST = frozenset(
    {
        "token",
        "accesstoken",
        "refreshtoken",
        "authtoken",
        "idtoken",
        "sessiontoken",
        "auth",
        "authorization",
        "cookie",
        "cookies",
        "session",
        "jwt",
        "bearer",
        "signature",
        "sig",
        "otp",
        # DB_PASS, SMTP_PW, connect.sid; "pass_rate" and "sid_count" stay telemetry.
        "pass",
        "pw",
        "sid",
    }
)
_PHRASES: tuple[tuple[str, ...], ...] = (
    ("api", "key"),
    ("private", "key"),
    ("access", "key"),
    ("secret", "key"),
)

# camelCase and ACRONYMCase boundaries, digit runs, and letters of other scripts.
_SEGMENT = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[^\W\d_]+")


def key_segments(key: str) -> tuple[str, ...]:
    return tuple(segment.lower() for segment in _SEGMENT.findall(key))


def _contains(segments: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    width = len(phrase)
    return any(segments[i : i + width] == phrase for i in range(len(segments) - width + 1))


class KeyRule:
    """Decides whether a key names a secret; ``extra`` keys (any spelling) match as whole segments."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        extra_phrases = tuple(segments for segments in map(key_segments, extra) if segments)
        self._phrases = _PHRASES + extra_phrases
        # Keys repeat endlessly (role, content, type...): each spelling is classified once. A plain
        # dict: a lookup is what every dictionary member costs, and threads racing on a miss store the
        # same answer.
        self._known: dict[str, bool] = {}

    def is_sensitive(self, key: str) -> bool:
        known = self._known.get(key)
        if known is None:
            known = self._classify(key)
            if len(self._known) < _KNOWN_KEYS:  # keys made of user data must not grow it forever
                self._known[key] = known
        return known

    def _classify(self, key: str) -> bool:
        segments = key_segments(key)
        if not segments:
            return False
        if segments[-1] in _LAST or not _ANYWHERE.isdisjoint(segments):
            return True
        return any(_contains(segments, phrase) for phrase in self._phrases)


# The separators of an assignment, each with its byte: most text lacks "=", and checking for a byte (a
# memchr) is cheaper still than ``re`` skipping to it. A digit before ":" makes a clock time, "://" a
# URL scheme, "==" and friends a comparison.
_SEPARATORS = ((ord(":"), re.compile(rb":(?<![0-9]:)(?!//)")), (ord("="), re.compile(rb"=(?<![=!<>]=)(?!=)")))
# The key, read backwards from the separator: optional blanks, an optional closing quote (possibly
# JSON-escaped, which reads ``"\`` backwards), then the name itself.
_KEY_BACKWARDS = re.compile(rb"[ \t]*(?:\"\\|[\"'])?([A-Za-z0-9_.\-]{1,64})")
_VALUE = re.compile(
    rb"""[ \t]*(?:
        \\"(?P<escaped>.*?)\\"                 # a JSON document inside a JSON string
      | "(?P<double>(?:[^"\\\n]|\\.)*)"
      | '(?P<single>[^'\n]*)'
      | (?P<bare>(?:(?:[Bb]earer|[Bb]asic|[Tt]oken|[Dd]igest)[ \t]+)?[^\s"'<>]+)
    )""",
    re.VERBOSE,
)
# In a query string "&" starts the next parameter.
_QUERY_VALUE = re.compile(rb"(?P<bare>[^\s&#\"'<>]+)")
_UNQUOTED_TAIL = b".,;"
# The second character of a two-character assignment operator, by the first: ":=" and "=>".
_OPERATOR_END = {ord(":"): ord("="), ord("="): ord(">")}
# Keys whose unquoted value is a list of cookie pairs: "name=value" separated by "; " (RFC 6265).
_COOKIE_KEYS = frozenset({"cookie", "cookies"})
_COOKIE_PAIRS = re.compile(rb"[^\s;,\"'<>]+(?:;[ \t]*[^\s;,\"'<>]+)*")
# Values that name no secret under any key ("has_password: false").
_NOT_SECRETS = frozenset({b"null", b"None", b"nil", b"undefined", b"true", b"false", b"True", b"False"})
_MASK_PREFIX = b"[REDACTED:"


_CLOSERS = {ord("["): ord("]"), ord("{"): ord("}")}


def _closing(view: bytes, start: int, end: int) -> int:
    """Where the JSON-like list or object opening at ``start`` ends (past its closing bracket), brackets
    inside quoted strings aside; the end of the line (or text) when it never closes, as in a cut value."""
    stack = [_CLOSERS[view[start]]]
    at = start + 1
    while at < end:
        byte = view[at]
        if byte == 34:  # a quoted string: skipped whole, escapes included
            at += 1
            while at < end and view[at] != 34:
                at += 2 if view[at] == 92 else 1
        elif byte in _CLOSERS:
            stack.append(_CLOSERS[byte])
        elif byte == stack[-1]:
            stack.pop()
            if not stack:
                return at + 1
        elif byte == 10:
            break
        at += 1
    return min(at, end)


class AssignmentDetector:
    """``password=...``, ``"api_key": "..."``, ``Authorization: Bearer ...``, ``?token=...`` in text."""

    name = KEY_MASK_NAME

    def __init__(self, rule: KeyRule) -> None:
        self._rule = rule

    def find(self, text: str, view: bytes, lo: int = 0, hi: int | None = None) -> Iterator[Finding]:
        end = len(view) if hi is None else hi
        for byte, separator in _SEPARATORS:
            # Each separator byte found with a memchr and only then checked by ``re`` (whose
            # look-behind sees the text before it): ``re`` itself would step through every byte.
            at = view.find(byte, lo, end)
            while at >= 0:
                if separator.match(view, at, end) is not None:
                    finding = self._assignment_at(text, view, at, end)
                    if finding is not None:
                        # Separators inside the value found ("password=a=b=c...") are part of it;
                        # skipping them keeps a long run of assignments linear.
                        yield finding
                        at = view.find(byte, max(finding[1], at + 1), end)
                        continue
                at = view.find(byte, at + 1, end)

    def _assignment_at(self, text: str, view: bytes, sep: int, end: int) -> Finding | None:
        key = _KEY_BACKWARDS.match(view[max(0, sep - 72) : sep][::-1])
        if key is None:
            return None
        key_start, key_end = sep - key.end(1), sep - key.start(1)
        # "[REDACTED:openai_api_key:1a2b...]" from hash mode is an earlier mask, not an assignment.
        if view.endswith(_MASK_PREFIX, 0, key_start) or not self._rule.is_sensitive(text[key_start:key_end]):
            return None
        # The text, not the view: a character the view cannot hold reads "?" there ("数据库password: ...").
        in_query = key_start > 0 and text[key_start - 1] in "?&"
        opening = sep + 1
        # "password := ..." (Go, Pascal) and "'password' => ..." (PHP, Ruby): the operator's second half.
        if opening < end and view[opening] == _OPERATOR_END.get(view[sep]):
            sep = opening
            opening += 1
        while opening < end and view[opening] in b" \t":
            opening += 1
        if not in_query and opening < end and view[opening] in b"[{":
            # A list or an object under a secret's key ('"password": ["hunter2"]'): all of it.
            return opening, _closing(view, opening, end), KEY_MASK_NAME
        value = (_QUERY_VALUE if in_query else _VALUE).match(view, sep + 1, end)
        if value is None:
            return None
        group = value.lastgroup or "bare"
        start, stop = value.span(group)
        if group == "bare":
            if not in_query and _COOKIE_KEYS.intersection(key_segments(text[key_start:key_end])):
                # A Cookie header's value is all of its pairs ("lang=en; JSESSIONID=..."), not the first.
                pairs = _COOKIE_PAIRS.match(view, start, end)
                if pairs is not None:
                    stop = max(stop, pairs.end())
            # Sentence punctuation after an unquoted value is not part of it.
            while stop > start and view[stop - 1] in _UNQUOTED_TAIL:
                stop -= 1
            if view[start:stop].rstrip(b")]}") in _NOT_SECRETS:
                return None
        if stop <= start:
            return None
        return start, stop, KEY_MASK_NAME
