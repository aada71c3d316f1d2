"""The parsers every setting goes through, and the general settings (content capture, summary)."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

logger = logging.getLogger("otel_agentops.config")

CAPTURE_MESSAGE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
SUMMARY = "OTEL_AGENTOPS_SUMMARY"

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class ContentCapture(Enum):
    """Where prompt and completion content may go; the standard variable's values."""

    NO_CONTENT = "no_content"
    SPAN_ONLY = "span_only"
    EVENT_ONLY = "event_only"
    SPAN_AND_EVENT = "span_and_event"

    @property
    def on_span(self) -> bool:
        return self in (ContentCapture.SPAN_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def on_event(self) -> bool:
        return self in (ContentCapture.EVENT_ONLY, ContentCapture.SPAN_AND_EVENT)


def report_invalid(variable: str, value: str, accepted: str, default: object) -> None:
    """The one message format for every bad setting, so users can grep for it."""
    logger.warning(
        "otel-agentops: ignoring %s=%r: expected %s; using the default (%s)",
        variable,
        value,
        accepted,
        default,
    )


def parse_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value == "":
        return default
    if value in _FALSE:
        return False
    report_invalid(name, raw, "true or false", default)
    return default


def parse_float(
    environ: Mapping[str, str],
    name: str,
    default: float | None,
    *,
    minimum: float = 0.0,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    accepted: str | None = None,
) -> float | None:
    """A finite number in range; `accepted` replaces the generated description of the valid form."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        report_invalid(name, raw, accepted or f"a number >= {minimum:g}", default)
        return default
    too_small = value <= minimum if exclusive_minimum else value < minimum
    if not math.isfinite(value) or too_small or (maximum is not None and value > maximum):
        report_invalid(name, raw, accepted or f"a finite number >= {minimum:g}", default)
        return default
    return value


def parse_int(environ: Mapping[str, str], name: str, default: int | None, *, minimum: int = 0) -> int | None:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        report_invalid(name, raw, f"a whole number >= {minimum}", default)
        return default
    if value < minimum:
        report_invalid(name, raw, f"a whole number >= {minimum}", default)
        return default
    return value


def parse_content_capture(environ: Mapping[str, str]) -> ContentCapture:
    raw = environ.get(CAPTURE_MESSAGE_CONTENT)
    if raw is None:
        return ContentCapture.NO_CONTENT
    value = raw.strip().lower()
    for mode in ContentCapture:
        if value == mode.value:
            return mode
    # The older boolean form of the standard variable: true meant "record content".
    if value in _TRUE:
        return ContentCapture.SPAN_ONLY
    if value in _FALSE:
        return ContentCapture.NO_CONTENT
    report_invalid(
        CAPTURE_MESSAGE_CONTENT,
        raw,
        "one of no_content, span_only, event_only, span_and_event (or true/false)",
        ContentCapture.NO_CONTENT.value,
    )
    return ContentCapture.NO_CONTENT


@dataclass(frozen=True, slots=True)
class Settings:
    content_capture: ContentCapture = ContentCapture.NO_CONTENT
    summary: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parsed once per environment, so several instrumentors report a bad value once, not each."""
        env = os.environ if environ is None else environ
        return _settings(tuple((name, env[name]) for name in _VARIABLES if name in env))


_VARIABLES = (CAPTURE_MESSAGE_CONTENT, SUMMARY)


@lru_cache(maxsize=8)
def _settings(relevant: tuple[tuple[str, str], ...]) -> Settings:
    env = dict(relevant)
    return Settings(content_capture=parse_content_capture(env), summary=parse_bool(env, SUMMARY, False))
