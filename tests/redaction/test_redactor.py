"""The Redactor's modes, allow list, custom patterns, blob placeholders, JSON handling and guarantees."""

from __future__ import annotations

import base64
import json
import re
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redaction_helpers import SECRETS

from otel_agentops.redaction import Redactor
from otel_agentops.redaction.detectors import CustomDetector
from otel_agentops.redaction.scan import TRIGGERS, has_trigger, scan_view

_HASHED = re.compile(r"\[REDACTED:email:[0-9a-f]{12}\]")


def test_mask_mode_names_what_was_found() -> None:
    out = Redactor().redact_text("mail jane@example.com or call +44 20 7946 0958")
    assert out == "mail [REDACTED:email] or call [REDACTED:phone]"


def test_hash_mode_maps_equal_values_to_equal_tokens() -> None:
    redactor = Redactor(mode="hash", hash_key=b"k1")
    out = redactor.redact_text("from jane@example.com to bob@example.com cc jane@example.com")
    tokens = _HASHED.findall(out)
    assert len(tokens) == 3
    assert tokens[0] == tokens[2] != tokens[1]
    assert "jane" not in out and "bob" not in out


def test_hash_mode_depends_on_the_key() -> None:
    def token(key: bytes) -> str:
        return Redactor(mode="hash", hash_key=key).redact_text("jane@example.com")

    assert token(b"k1") == token(b"k1") != token(b"k2")


def test_hash_mode_without_a_key_agrees_within_the_process() -> None:
    text = "jane@example.com"
    assert Redactor(mode="hash").redact_text(text) == Redactor(mode="hash").redact_text(text)
    assert Redactor(mode="hash").redact_text(text) != Redactor(mode="hash", hash_key=b"k1").redact_text(text)


def test_hash_mode_covers_key_rules() -> None:
    redactor = Redactor(mode="hash", hash_key=b"k1")
    first = redactor.redact_value({"password": "hunter2", "token": {"a": 1}})
    second = redactor.redact_value({"password": "hunter2", "token": {"a": 1}})
    assert first == second
    assert re.fullmatch(r"\[REDACTED:key:[0-9a-f]{12}\]", first["password"])


def test_allowed_values_are_kept() -> None:
    redactor = Redactor(allow=[re.compile(r"support@example\.com")])
    out = redactor.redact_text("write to support@example.com, not jane@example.com")
    assert out == "write to support@example.com, not [REDACTED:email]"
    assert redactor.redact_value({"contact": "support@example.com"}) == {"contact": "support@example.com"}


def test_custom_patterns_with_names_and_groups() -> None:
    redactor = Redactor(
        extra_patterns=[
            CustomDetector("employee_id", re.compile(r"EMP-\d{6}")),
            CustomDetector("custom", re.compile(r"ticket (?P<ticket>T-\d+)")),
        ]
    )
    assert (
        redactor.redact_text("EMP-123456 filed ticket T-42")
        == "[REDACTED:employee_id] filed ticket [REDACTED:ticket]"
    )
    # User patterns may match very short text; the short-text shortcut must not skip them.
    assert (
        Redactor(extra_patterns=[CustomDetector("x", re.compile("ab"))]).redact_text("ab") == "[REDACTED:x]"
    )


def _png(size: int) -> str:
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * (size // 256)).decode()


def test_data_urls_become_placeholders() -> None:
    body = _png(3000)
    out = Redactor().redact_text(f"see data:image/png;base64,{body} above")
    assert out == f"see [image/png base64 {len(base64.b64decode(body))} bytes] above"


def test_bare_base64_images_become_placeholders() -> None:
    body = _png(3000)
    message = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": body}}
    out = Redactor().redact_value(message)
    assert out["source"]["data"] == f"[image/png base64 {len(base64.b64decode(body))} bytes]"


def test_unknown_base64_and_short_base64_runs() -> None:
    blob = base64.b64encode(bytes(range(256)) * 2).decode()
    assert Redactor().redact_text(f"x {blob} y") == f"x [base64 {512} bytes] y"
    short = base64.b64encode(b"hello world").decode()
    assert Redactor().redact_text(f"x {short} y") == f"x {short} y"


def test_clean_text_is_returned_as_is() -> None:
    text = "The parcel left the warehouse on 2024-05-01 and costs $1,234.56. " * 50
    assert Redactor().redact_text(text) is text


def test_redact_json_str_dumps_compactly_and_falls_back_to_text() -> None:
    redactor = Redactor()
    messages = [{"role": "user", "content": "I am jane@example.com, ünïcode"}]
    assert redactor.redact_json_str(json.dumps(messages, indent=2)) == (
        '[{"role":"user","content":"I am [REDACTED:email], ünïcode"}]'
    )
    assert redactor.redact_json_str("not json: jane@example.com") == "not json: [REDACTED:email]"


def test_redact_content_redacts_before_bounding() -> None:
    redactor = Redactor(max_content_length=60)
    out = redactor.redact_content(json.dumps([{"role": "user", "content": "key sk-" + "a1" * 100}]))
    assert len(out) <= 60
    assert "a1a1" not in out
    json.loads(out)


def test_redactor_is_immutable() -> None:
    redactor = Redactor()
    with pytest.raises(AttributeError):
        redactor.max_content_length = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del redactor.max_content_length


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        Redactor(mode="shout")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_content_length"):
        Redactor(max_content_length=0)


def test_one_redactor_serves_many_threads() -> None:
    redactor = Redactor(mode="hash", hash_key=b"k")
    texts = [
        f"user{i}@example.com paid with 4111 1111 1111 1111, key sk-proj-{'x1' * 20}{i}" for i in range(50)
    ]
    expected = [redactor.redact_text(text) for text in texts]
    results: list[list[str]] = []

    def work() -> None:
        results.append([redactor.redact_text(text) for text in texts])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 8


@pytest.mark.parametrize(
    "text",
    [
        "0" * 100_000,
        "1 " * 50_000,
        "-" * 100_000,
        "a@" * 50_000,
        "sk-" * 30_000,
        "password=" * 10_000,
        "-----BEGIN RSA PRIVATE KEY-----" + "A" * 100_000,
        "+1 " * 30_000,
        "GB82 " * 20_000,
        "eyJ" + "a" * 50_000 + ".eyJ" + "b" * 50_000,
        "A" * 100_000,
        "/" * 100_000,
    ],
    ids=lambda text: repr(text[:12]),
)
def test_adversarial_input_stays_linear(text: str) -> None:
    started = time.perf_counter()
    Redactor().redact_text(text)
    assert time.perf_counter() - started < 2.0


_NO_TRIGGERS = "".join(sorted(set(map(chr, range(32, 127))) - set(TRIGGERS.decode()))) + "éß漢🙂\n\t"
_WORDS = (
    "password",
    "token",
    "secret",
    "bearer",
    "Bearer",
    "basic",
    "apikey",
    "iban",
    "ssn",
    "Token",
    "PRIVATE KEY",
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet=_NO_TRIGGERS, max_size=20), st.sampled_from(_WORDS)), max_size=12))
def test_text_without_trigger_bytes_holds_no_finding(parts: list[str]) -> None:
    # The shortcut that returns such text unscanned is only sound if a full scan finds nothing in it.
    text = " ".join(parts)
    assert Redactor()._scan(text, scan_view(text)) == text


def test_every_corpus_secret_holds_a_trigger_byte() -> None:
    assert all(has_trigger(scan_view(secret.value)) for secret in SECRETS)


def test_user_patterns_see_each_value_on_its_own() -> None:
    redactor = Redactor(extra_patterns=[CustomDetector("employee", re.compile(r"^E\d{4}$"))])
    assert redactor.redact_value(["E1234", "id E1234", {"badge": "E9876"}]) == [
        "[REDACTED:employee]",
        "id E1234",
        {"badge": "[REDACTED:employee]"},
    ]


@pytest.mark.parametrize("odd", ["Ärger? 4111 1111 1111 1111", "abc\x00def"], ids=["batched", "holds a NUL"])
def test_a_structure_is_redacted_like_its_strings_one_by_one(odd: str) -> None:
    # All strings of a structure are scanned at once, joined by a NUL between blanks; a string holding a
    # NUL itself makes them go one by one.
    redactor = Redactor()
    values = ["jane@example.com", "-----BEGIN RSA PRIVATE KEY-----\nMIIE", odd, "sk-" + "a1" * 20, "4111"]
    assert redactor.redact_value(values) == [redactor.redact_text(value) for value in values]


def test_a_card_number_written_as_a_json_number_is_masked() -> None:
    redactor = Redactor()
    call = {
        "type": "tool_call",
        "name": "charge",
        "arguments": '{"card_number": 4111111111111111, "amount": 25}',
    }
    assert redactor.content_json([call]) == (
        '[{"type":"tool_call","name":"charge",'
        '"arguments":"{\\"card_number\\":\\"[REDACTED:payment_card]\\",\\"amount\\":25}"}]'
    )
    assert redactor.redact_value({"card": 4111111111111111, "n": [5105105105105100]}) == {
        "card": "[REDACTED:payment_card]",
        "n": ["[REDACTED:payment_card]"],
    }
    assert redactor.redact_value(4111111111111111) == "[REDACTED:payment_card]"
    # Numbers that are no card stay numbers, the very same value.
    numbers = {
        "ms": 1732406400000,
        "tokens": 1532,
        "flag": True,
        "luhn": 4111111111111112,
        "id": 381494618426368128,
    }
    assert redactor.redact_value(numbers) is numbers


def test_name_value_records_and_header_pairs_mask_the_value_a_secret_name_names() -> None:
    redactor = Redactor()
    env = {"env": [{"name": "DB_PASSWORD", "value": "hunter2pass"}, {"name": "LOG_LEVEL", "value": "debug"}]}
    assert redactor.redact_value(env) == {
        "env": [{"name": "DB_PASSWORD", "value": "[REDACTED:key]"}, {"name": "LOG_LEVEL", "value": "debug"}]
    }
    headers = {"headers": [["X-Api-Key", "abcd1234efgh5678"], ("Accept", "application/json")]}
    assert redactor.redact_value(headers) == {
        "headers": [["X-Api-Key", "[REDACTED:key]"], ("Accept", "application/json")]
    }
    assert redactor.redact_value([("authorization", "Digest abc")]) == [("authorization", "[REDACTED:key]")]
    # A schema's enum lists words, not pairs.
    schema = {"type": "string", "enum": ["password", "email"]}
    assert redactor.redact_value(schema) is schema


def test_embedded_json_with_duplicate_keys_is_scanned_as_text() -> None:
    # json.loads keeps the last "note": redacting only what it parsed would hand the first one on.
    arguments = '{"note": "sk-proj-jmPo2veLYT8V5ry5l3nkxJY3NtVGo30FpvFH7juVT3BlbkFJ", "note": "hi"}'
    assert Redactor().redact_value({"arguments": arguments}) == {
        "arguments": '{"note": "[REDACTED:openai_api_key]", "note": "hi"}'
    }


def test_values_under_secret_keys_are_masked_unless_a_whole_mask_or_a_flag() -> None:
    redactor = Redactor()
    assert redactor.redact_value({"password": "[REDACTED:x] hunter2"}) == {"password": "[REDACTED:key]"}
    assert redactor.redact_value({"password": "[REDACTED:key]"}) == {"password": "[REDACTED:key]"}
    flags = {"password_required": True, "has_token": False}
    assert redactor.redact_value(flags) == {"password_required": True, "has_token": False}
    assert redactor.redact_text("has_password: false, password: hunter2") == (
        "has_password: false, password: [REDACTED:key]"
    )


def test_a_cookie_header_loses_all_its_pairs_and_nothing_after_them() -> None:
    redactor = Redactor()
    assert (
        redactor.redact_text("x, Cookie: lang=en; JSESSIONID=8F3A2B9C1D4E5F60, y")
        == "x, Cookie: [REDACTED:key], y"
    )
    assert redactor.redact_text("Cookie: a=1;b=2 and more.") == "Cookie: [REDACTED:key] and more."
    assert redactor.redact_text("cookies=sid=abc; t=1.\nnext") == "cookies=[REDACTED:key].\nnext"
