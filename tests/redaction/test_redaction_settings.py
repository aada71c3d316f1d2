"""Building the redactor from OTEL_AGENTOPS_REDACT_* variables; bad values warn once and fall back."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_agentops.redaction import get_redactor, redactor_from_env, reset_redactor
from otel_agentops.redaction.redactor import DEFAULT_MAX_CONTENT_LENGTH
from otel_agentops.redaction.settings import (
    MAX_CONTENT_LENGTH,
    REDACT_ALLOW,
    REDACT_HASH_KEY,
    REDACT_KEYS,
    REDACT_MODE,
    REDACT_PATTERNS,
)

_HASHED = re.compile(r"\[REDACTED:email:[0-9a-f]{12}\]")


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.WARNING, logger="otel_agentops.config")
    yield caplog


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "otel_agentops.config" and r.levelno == logging.WARNING
    ]


def test_defaults(warnings: pytest.LogCaptureFixture) -> None:
    redactor = redactor_from_env({})
    assert redactor.mode == "mask"
    assert redactor.max_content_length == DEFAULT_MAX_CONTENT_LENGTH
    assert redactor.redact_text("jane@example.com") == "[REDACTED:email]"
    assert _messages(warnings) == []


def test_every_setting(warnings: pytest.LogCaptureFixture) -> None:
    redactor = redactor_from_env(
        {
            REDACT_MODE: " HASH ",
            REDACT_HASH_KEY: "shared-key",
            REDACT_KEYS: "employee_id, ssn_last4",
            REDACT_PATTERNS: r"employee=EMP-\d{6};;(?P<ticket>T-\d+);;ACME-\d+",
            REDACT_ALLOW: r"support@example\.com;;noreply@.*",
            MAX_CONTENT_LENGTH: "2048",
        }
    )
    assert redactor.mode == "hash"
    assert redactor.max_content_length == 2048
    assert _HASHED.fullmatch(redactor.redact_text("jane@example.com"))
    assert (
        redactor.redact_text("support@example.com noreply@example.com")
        == "support@example.com noreply@example.com"
    )
    assert redactor.redact_value({"employeeId": 7})["employeeId"].startswith("[REDACTED:key:")
    out = redactor.redact_text("EMP-123456 T-9 ACME-1")
    assert re.fullmatch(r"\[REDACTED:employee:\w+\] \[REDACTED:ticket:\w+\] \[REDACTED:custom:\w+\]", out)
    assert _messages(warnings) == []


def test_a_shared_hash_key_correlates_processes() -> None:
    one = redactor_from_env({REDACT_MODE: "hash", REDACT_HASH_KEY: "k"})
    other = redactor_from_env({REDACT_MODE: "hash", REDACT_HASH_KEY: "k"})
    assert one.redact_text("jane@example.com") == other.redact_text("jane@example.com")


def test_unknown_mode(warnings: pytest.LogCaptureFixture) -> None:
    redactor = redactor_from_env({REDACT_MODE: "scramble", MAX_CONTENT_LENGTH: "99"})
    assert redactor.mode == "mask"
    assert redactor.max_content_length == 99  # the other settings are kept
    assert _messages(warnings) == [
        "otel-agentops: ignoring OTEL_AGENTOPS_REDACT_MODE='scramble': expected mask or hash; "
        "using the default (mask)"
    ]


@pytest.mark.parametrize(
    ("raw", "accepted"),
    [("lots", "a whole number >= 1"), ("0", "a whole number >= 1"), ("-5", "a whole number >= 1")],
)
def test_bad_max_content_length(warnings: pytest.LogCaptureFixture, raw: str, accepted: str) -> None:
    redactor = redactor_from_env({MAX_CONTENT_LENGTH: raw, REDACT_MODE: "hash"})
    assert redactor.max_content_length == DEFAULT_MAX_CONTENT_LENGTH
    assert redactor.mode == "hash"
    assert _messages(warnings) == [
        f"otel-agentops: ignoring OTEL_AGENTOPS_MAX_CONTENT_LENGTH={raw!r}: expected {accepted}; "
        f"using the default ({DEFAULT_MAX_CONTENT_LENGTH})"
    ]


def test_invalid_pattern(warnings: pytest.LogCaptureFixture) -> None:
    raw = r"employee=EMP-\d{6};;ticket=T-(\d+"
    redactor = redactor_from_env({REDACT_PATTERNS: raw, REDACT_KEYS: "employee_id"})
    assert redactor.redact_text("EMP-123456") == "EMP-123456"  # no extra patterns at all
    assert redactor.redact_value({"employee_id": 1}) == {"employee_id": "[REDACTED:key]"}
    [message] = _messages(warnings)
    assert message.startswith(f"otel-agentops: ignoring OTEL_AGENTOPS_REDACT_PATTERNS={raw!r}: ")
    assert "expected regular expressions separated by ';;', each optionally 'name=regex'" in message
    assert r"'T-(\\d+' is not a valid regular expression: missing ), unterminated subpattern" in message
    assert message.endswith("using the default (no extra patterns)")


def test_invalid_allow_pattern(warnings: pytest.LogCaptureFixture) -> None:
    redactor = redactor_from_env({REDACT_ALLOW: "support@[example.com"})
    assert redactor.redact_text("support@example.com") == "[REDACTED:email]"
    [message] = _messages(warnings)
    assert message.startswith("otel-agentops: ignoring OTEL_AGENTOPS_REDACT_ALLOW='support@[example.com': ")
    assert "expected regular expressions separated by ';;' (unterminated character set" in message
    assert message.endswith("using the default (nothing allowed)")


def test_key_names_without_letters(warnings: pytest.LogCaptureFixture) -> None:
    redactor = redactor_from_env({REDACT_KEYS: "badge,--"})
    assert redactor.redact_value({"badge": "1234"}) == {"badge": "1234"}
    assert _messages(warnings) == [
        "otel-agentops: ignoring OTEL_AGENTOPS_REDACT_KEYS='badge,--': "
        "expected key names separated by commas, e.g. ssn,employee_id; using the default (none)"
    ]


def test_empty_values_mean_defaults(warnings: pytest.LogCaptureFixture) -> None:
    env = {
        REDACT_MODE: "",
        REDACT_HASH_KEY: "",
        REDACT_KEYS: "",
        REDACT_PATTERNS: "",
        REDACT_ALLOW: "",
        MAX_CONTENT_LENGTH: "",
    }
    redactor = redactor_from_env(env)
    assert redactor.mode == "mask"
    assert redactor.max_content_length == DEFAULT_MAX_CONTENT_LENGTH
    assert _messages(warnings) == []


_VARIABLES = (REDACT_MODE, REDACT_HASH_KEY, REDACT_KEYS, REDACT_PATTERNS, REDACT_ALLOW, MAX_CONTENT_LENGTH)


@settings(max_examples=200, deadline=None)
@given(env=st.dictionaries(st.sampled_from(_VARIABLES), st.text(max_size=30)))
def test_no_value_makes_it_raise(env: dict[str, str]) -> None:
    redactor_from_env(env).redact_text("jane@example.com, password=x")


def test_one_redactor_per_configuration(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="otel_agentops.config")
    monkeypatch.setenv(REDACT_MODE, "hash")
    monkeypatch.setenv(REDACT_KEYS, "employee_id")
    monkeypatch.setenv("OTEL_AGENTOPS_MAX_CONTENT_LENGTH", "zero")
    reset_redactor()
    try:
        first = get_redactor()
        assert get_redactor() is first  # the same environment: built (and its problem reported) once
        assert first.mode == "hash"
        monkeypatch.setenv(REDACT_MODE, "mask")
        assert get_redactor().mode == "mask"  # a changed environment is picked up
        assert len([r for r in caplog.records if "OTEL_AGENTOPS_MAX_CONTENT_LENGTH" in r.getMessage()]) == 2
    finally:
        reset_redactor()
