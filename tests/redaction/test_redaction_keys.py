"""Key-based rules: values under secret-naming keys are masked whole; telemetry keys are never hit."""

from __future__ import annotations

import json

import pytest

from otel_agentops.redaction import Redactor
from otel_agentops.redaction.keys import KeyRule, key_segments

SECRET_KEYS = (
    "password",
    "Password",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "accessToken",
    "api_key",
    "apikey",
    "apiKey",
    "api-key",
    "x-api-key",
    "X-API-Key",
    "OPENAI_API_KEY",
    "authorization",
    "Authorization",
    "proxy-authorization",
    "auth",
    "basic_auth",
    "cookie",
    "Set-Cookie",
    "session",
    "sessionid",
    "credentials",
    "private_key",
    "privateKey",
    "aws_secret_access_key",
    "db_password",
    "X-Amz-Security-Token",
)
TELEMETRY_KEYS = (
    "input_tokens",
    "output_tokens",
    "max_tokens",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "max_completion_tokens",
    "maxTokens",
    "inputTokens",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.request.max_tokens",
    "token_count",
    "tokens",
    "token_type",
    "tokenizer",
    "session.id",
    "session_id",
    "auth_type",
    "author",
    "authorization_url",
    "key",
    "keys",
    "monkey",
    "secretary",
    "passage",
    "role",
    "content",
)


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_keys_are_sensitive(key: str) -> None:
    assert KeyRule().is_sensitive(key)


@pytest.mark.parametrize("key", TELEMETRY_KEYS)
def test_telemetry_and_ordinary_keys_are_not(key: str) -> None:
    assert not KeyRule().is_sensitive(key)


def test_keys_split_into_segments_across_spellings() -> None:
    assert key_segments("gen_ai.usage.input_tokens") == ("gen", "ai", "usage", "input", "tokens")
    assert key_segments("XApiKey") == ("x", "api", "key")
    assert key_segments("APIKey") == ("api", "key")
    assert key_segments("Set-Cookie") == ("set", "cookie")


def test_extra_keys_match_in_any_spelling() -> None:
    rule = KeyRule(["employee id", "SSN-Last4"])
    for key in ("employee_id", "employeeId", "EMPLOYEE-ID", "billing.employee_id", "ssn_last4", "ssnLast4"):
        assert rule.is_sensitive(key), key
    assert not rule.is_sensitive("employee_name")


def test_values_under_secret_keys_are_masked_whole() -> None:
    redactor = Redactor()
    data = {
        "password": "hunter2",
        "headers": {"Authorization": "Bearer abc", "X-Request-Id": "r-1"},
        "credentials": {"user": "bob", "pin": 1234},
        "token": 12345,
        "api_key": None,
        "secret": "",
    }
    assert redactor.redact_value(data) == {
        "password": "[REDACTED:key]",
        "headers": {"Authorization": "[REDACTED:key]", "X-Request-Id": "r-1"},
        "credentials": "[REDACTED:key]",
        "token": "[REDACTED:key]",
        "api_key": None,  # nothing to hide
        "secret": "",
    }


def test_usage_data_is_left_alone() -> None:
    usage = {
        "gen_ai.usage.input_tokens": 1532,
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15, "token_count": 4},
        "max_tokens": 4096,
        "tokens": [101, 2023, 102],
        "session.id": "7f3a9c",
    }
    assert Redactor().redact_value(usage) == usage


def test_containers_keep_their_type() -> None:
    redactor = Redactor()
    value = ("a@example.com", ["b@example.com"], 3, 2.5, True, None)
    assert redactor.redact_value(value) == ("[REDACTED:email]", ["[REDACTED:email]"], 3, 2.5, True, None)


def test_keys_themselves_are_redacted() -> None:
    # A dict keyed by e-mail address would otherwise leak it.
    assert Redactor().redact_value({"jane@example.com": 1}) == {"[REDACTED:email]": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=hunter2 ok", "password=[REDACTED:key] ok"),
        ("Password: hunter2.", "Password: [REDACTED:key]."),
        ('{"password": "p@ss \\"w\\" ord", "user": "bob"}', '{"password": "[REDACTED:key]", "user": "bob"}'),
        ("{'api_key': 'abc123'}", "{'api_key': '[REDACTED:key]'}"),
        ('{\\"password\\": \\"hunter2\\"}', '{\\"password\\": \\"[REDACTED:key]\\"}'),
        ("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "export AWS_SECRET_ACCESS_KEY=[REDACTED:key]"),
        ("Authorization: Bearer abc.def", "Authorization: [REDACTED:key]"),
        (
            "GET /v1?api_key=abc&max_tokens=100&token=xyz#top",
            "GET /v1?api_key=[REDACTED:key]&max_tokens=100&token=[REDACTED:key]#top",
        ),
        (
            "max_tokens=4096, input_tokens: 12, token_count=3",
            "max_tokens=4096, input_tokens: 12, token_count=3",
        ),
        ("password: null", "password: null"),
        ("if token == expected:", "if token == expected:"),
        ("at 10:22:33 the secret was out", "at 10:22:33 the secret was out"),
    ],
)
def test_assignments_in_text(text: str, expected: str) -> None:
    assert Redactor().redact_text(text) == expected


def test_extra_keys_apply_to_text_too() -> None:
    redactor = Redactor(extra_keys=["employee_id"])
    assert redactor.redact_text("employee_id=E12345;") == "employee_id=[REDACTED:key];"
    assert redactor.redact_value({"employeeId": "E12345"}) == {"employeeId": "[REDACTED:key]"}


def test_tool_call_arguments_are_redacted_as_json() -> None:
    redactor = Redactor()
    arguments = json.dumps({"to": "jane@example.com", "api_key": "abc", "limit": 5})
    out = redactor.redact_value({"function": {"name": "send", "arguments": arguments}})
    assert json.loads(out["function"]["arguments"]) == {
        "to": "[REDACTED:email]",
        "api_key": "[REDACTED:key]",
        "limit": 5,
    }
    clean = json.dumps({"query": "weather in Paris", "limit": 5}, indent=2)
    assert redactor.redact_value(clean) is clean  # nothing to redact: the original formatting stays


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"password": ["hunter2-correct-horse"]}', '{"password": [REDACTED:key]}'),
        (
            'config {"api_key": {"primary": "abc123secret", "backup": ["x]y"]}, "model": "gpt-4o"}',
            'config {"api_key": [REDACTED:key], "model": "gpt-4o"}',
        ),
        ("secret = [never closed", "secret = [REDACTED:key]"),
        ("?token=[abc]&q=1", "?token=[REDACTED:key]&q=1"),
    ],
)
def test_a_list_or_object_under_a_secret_key_in_text_is_masked_whole(text: str, expected: str) -> None:
    # Found in review: only the opening "[" was masked, the value itself went out in clear.
    assert Redactor().redact_text(text) == expected
