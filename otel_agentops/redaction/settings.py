"""The redactor as the environment configures it.

=====================================  =========================================================
``OTEL_AGENTOPS_REDACT_MODE``          ``mask`` (default): ``[REDACTED:email]``; ``hash``:
                                       ``[REDACTED:email:1a2b3c4d5e6f]``, a keyed HMAC-SHA256 of the
                                       value, so equal values correlate without being revealed
``OTEL_AGENTOPS_REDACT_HASH_KEY``      the HMAC key for ``hash`` mode; set the same key in several
                                       processes to correlate across them (default: a random key
                                       per process)
``OTEL_AGENTOPS_REDACT_KEYS``          extra key names whose values are always masked, separated
                                       by commas: ``ssn,employee_id,X-Internal-Auth``; matched as
                                       whole key segments in any case and ``-``/``_``/camelCase
``OTEL_AGENTOPS_REDACT_PATTERNS``      extra regular expressions separated by ``;;``, each
                                       optionally ``name=regex`` to name the mask (default
                                       ``custom``); named groups redact just themselves under
                                       their own names: ``employee_id=EMP-\\d{6};;(?P<ticket>T-\\d+)``
``OTEL_AGENTOPS_REDACT_ALLOW``         regular expressions separated by ``;;``: a finding that one of
                                       them matches entirely is kept, e.g. ``support@example\\.com``
``OTEL_AGENTOPS_MAX_CONTENT_LENGTH``   the most characters a content attribute may hold (a whole
                                       number >= 1, default 16384)
=====================================  =========================================================

``;;`` rather than a JSON list because regexes are full of backslashes that JSON would make users
double. A bad value is reported once on the ``otel_agentops.config`` logger and that one setting falls
back to its default; nothing here raises.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import lru_cache

from otel_agentops.config import parse_int, report_invalid
from otel_agentops.redaction.detectors import CustomDetector
from otel_agentops.redaction.keys import key_segments
from otel_agentops.redaction.redactor import DEFAULT_MAX_CONTENT_LENGTH, MODES, Mode, Redactor

REDACT_MODE = "OTEL_AGENTOPS_REDACT_MODE"
REDACT_HASH_KEY = "OTEL_AGENTOPS_REDACT_HASH_KEY"
REDACT_KEYS = "OTEL_AGENTOPS_REDACT_KEYS"
REDACT_PATTERNS = "OTEL_AGENTOPS_REDACT_PATTERNS"
REDACT_ALLOW = "OTEL_AGENTOPS_REDACT_ALLOW"
MAX_CONTENT_LENGTH = "OTEL_AGENTOPS_MAX_CONTENT_LENGTH"

PATTERN_SEPARATOR = ";;"
CUSTOM_MASK_NAME = "custom"
_NAMED_PATTERN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.+)", re.DOTALL)


def _mode(env: Mapping[str, str]) -> Mode:
    raw = env.get(REDACT_MODE)
    if raw is None or not raw.strip():
        return "mask"
    value = raw.strip().lower()
    for mode in MODES:
        if value == mode:
            return mode
    report_invalid(REDACT_MODE, raw, " or ".join(MODES), "mask")
    return "mask"


def _hash_key(env: Mapping[str, str]) -> bytes | None:
    raw = env.get(REDACT_HASH_KEY)
    return raw.encode("utf-8", "surrogatepass") if raw else None


def _keys(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get(REDACT_KEYS)
    if raw is None:
        return ()
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    if not all(key_segments(name) for name in names):
        report_invalid(REDACT_KEYS, raw, "key names separated by commas, e.g. ssn,employee_id", "none")
        return ()
    return names


def _split(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(PATTERN_SEPARATOR) if item.strip()]


def _patterns(env: Mapping[str, str]) -> tuple[CustomDetector, ...]:
    raw = env.get(REDACT_PATTERNS)
    if raw is None:
        return ()
    detectors = []
    for item in _split(raw):
        named = _NAMED_PATTERN.fullmatch(item)
        name, regex = named.groups() if named else (CUSTOM_MASK_NAME, item)
        try:
            detectors.append(CustomDetector(name, re.compile(regex)))
        except re.error as error:
            report_invalid(
                REDACT_PATTERNS,
                raw,
                f"regular expressions separated by '{PATTERN_SEPARATOR}', each optionally 'name=regex' "
                f"({regex!r} is not a valid regular expression: {error})",
                "no extra patterns",
            )
            return ()
    return tuple(detectors)


def _allow(env: Mapping[str, str]) -> tuple[re.Pattern[str], ...]:
    raw = env.get(REDACT_ALLOW)
    if raw is None:
        return ()
    try:
        return tuple(re.compile(item) for item in _split(raw))
    except re.error as error:
        report_invalid(
            REDACT_ALLOW,
            raw,
            f"regular expressions separated by '{PATTERN_SEPARATOR}' ({error})",
            "nothing allowed",
        )
        return ()


def redactor_from_env(environ: Mapping[str, str] | None = None) -> Redactor:
    env = os.environ if environ is None else environ
    return Redactor(
        mode=_mode(env),
        hash_key=_hash_key(env),
        extra_keys=_keys(env),
        extra_patterns=_patterns(env),
        allow=_allow(env),
        max_content_length=parse_int(env, MAX_CONTENT_LENGTH, DEFAULT_MAX_CONTENT_LENGTH, minimum=1),
    )


_VARIABLES = (REDACT_MODE, REDACT_HASH_KEY, REDACT_KEYS, REDACT_PATTERNS, REDACT_ALLOW, MAX_CONTENT_LENGTH)


def get_redactor() -> Redactor:
    """The redactor for the current environment: built once per distinct configuration (so a bad value is
    reported once, however many instrumentors ask), and rebuilt when the variables change."""
    env = os.environ
    return _for_environment(tuple((name, env[name]) for name in _VARIABLES if name in env))


@lru_cache(maxsize=4)
def _for_environment(relevant: tuple[tuple[str, str], ...]) -> Redactor:
    return redactor_from_env(dict(relevant))


def reset_redactor() -> None:
    """Forget the built redactors, so the next ``get_redactor`` reports configuration problems again."""
    _for_environment.cache_clear()
