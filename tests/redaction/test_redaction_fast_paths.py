"""The shortcuts that make content capture cheap give exactly what the plain way gives.

Gates and literal starts (detectors), the memo of redacted texts, the keys of message shapes that are
not checked, the faster JSON escaping and the joined scan of many texts are each compared with the
result without the shortcut, on the corpus and on generated text.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redaction_helpers import LOOKALIKES, SECRETS, TEMPLATES, Secret, leaked_anywhere

from otel_agentops.redaction import Redactor
from otel_agentops.redaction.detectors import BUILTIN_DETECTORS, CustomDetector, literal_start
from otel_agentops.redaction.encoding import FAST_MIN_CHARS, compact_dumps, encode_string
from otel_agentops.redaction.memo import CLEAN, MIN_CHARS, LiteralMemo, ShortMemo, TextMemo
from otel_agentops.redaction.scan import fold, scan_view

_PROSE = "The parcel left the warehouse three days ago and nothing has changed since then. " * 8


def _without_shortcuts(redactor: Redactor) -> Redactor:
    """The same redactor with every detector searched from the start of the text, ungated."""
    plain = Redactor()
    searches = tuple((b"", None, search, find_from) for _, _, search, find_from in redactor._searches)
    object.__setattr__(plain, "_searches", searches)
    return plain


_PLAIN = _without_shortcuts(Redactor())

corpus_values = st.sampled_from(
    [secret.value for secret in SECRETS] + [value for _, value in LOOKALIKES]
).flatmap(lambda value: st.sampled_from([template.format(value) for template in TEMPLATES]))
texts = st.one_of(
    corpus_values,
    st.text(max_size=80),
    st.lists(st.one_of(corpus_values, st.text(max_size=30)), max_size=6).map(" ".join),
)


# --- detectors: gates and literal starts ---------------------------------------------------------


def test_gates_and_literal_starts_change_nothing_on_the_corpus() -> None:
    redactor = Redactor()
    for text in [template.format(s.value) for s in SECRETS for template in TEMPLATES] + [
        template.format(value) for _, value in LOOKALIKES for template in TEMPLATES
    ]:
        view = scan_view(text)
        assert redactor._find(text, view, fold(view)) == _PLAIN._find(text, view, fold(view)), text


@settings(max_examples=300, deadline=None)
@given(texts)
def test_gates_and_literal_starts_change_nothing(text: str) -> None:
    view = scan_view(text)
    assert Redactor()._find(text, view, fold(view)) == _PLAIN._find(text, view, fold(view))


def test_every_gate_byte_is_in_every_match_of_the_corpus() -> None:
    for secret in SECRETS:
        view = scan_view(secret.value)
        for detector in BUILTIN_DETECTORS:
            match = detector.pattern.search(view)
            if match is not None and detector.find(secret.value, view):
                assert all(gate in view for gate in detector.gates), (detector.name, secret.value)


def test_literal_start_only_for_patterns_that_start_with_one_byte() -> None:
    assert literal_start(re.compile(rb"@[a-z]+")) == ord("@")
    assert literal_start(re.compile(rb"\+\d")) == ord("+")
    assert literal_start(re.compile(rb"ab*")) == ord("a")
    assert literal_start(re.compile(rb"a|b")) is None
    assert literal_start(re.compile(rb"a?b")) is None
    assert literal_start(re.compile(rb"[ab]c")) is None
    assert {d.name for d in BUILTIN_DETECTORS if literal_start(d.pattern) is not None} >= {
        "openai_api_key",
        "email",
        "jwt",
        "bearer_token",
    }


def test_a_search_started_at_the_literal_still_sees_what_precedes_it() -> None:
    # "sk-" glued to an identifier is not a key: the look-behind must see the "risk" before it.
    assert Redactor().redact_text("risk-assessment-2024-quarterly-report-final") == (
        "risk-assessment-2024-quarterly-report-final"
    )
    assert Redactor().redact_text("x sk-proj-abcDEF1234567890abcdefGHIJ y") == "x [REDACTED:openai_api_key] y"


def test_assignments_are_found_at_every_separator() -> None:
    redactor = Redactor()
    assert redactor.redact_text("at 10:30 password=a=b=c and token: xyz, ok") == (
        "at 10:30 password=[REDACTED:key] and token: [REDACTED:key], ok"
    )
    assert redactor.redact_text("x==y, a:b, https://h/p?api_key=k1&q=2") == (
        "x==y, a:b, https://h/p?api_key=[REDACTED:key]&q=2"
    )


# --- the memo ------------------------------------------------------------------------------------


def test_memo_gives_the_same_result_as_a_scan() -> None:
    redactor = Redactor()
    text = _PROSE + " Mail jane.doe@example.com now."
    first = redactor.redact_text(text)
    again = redactor.redact_text("".join(list(text)))  # an equal string, not the same object
    assert first == again == _PROSE + " Mail [REDACTED:email] now."
    assert redactor._memo.get(text) == first


def test_memo_returns_clean_text_itself() -> None:
    redactor = Redactor()
    assert redactor.redact_text(_PROSE) is _PROSE
    equal = "".join(list(_PROSE))
    assert redactor._memo.get(equal) is CLEAN
    assert redactor.redact_text(equal) is equal


def test_memo_is_per_redactor() -> None:
    text = _PROSE + " Mail jane.doe@example.com now."
    one = Redactor(mode="hash", hash_key=b"one").redact_text(text)
    two = Redactor(mode="hash", hash_key=b"two").redact_text(text)
    assert one != two
    assert one.startswith(_PROSE + " Mail [REDACTED:email:")


def test_memo_keeps_long_texts_only() -> None:
    memo = TextMemo(max_chars=10_000)
    memo.put("short", "short")
    assert len(memo) == 0
    memo.put("a" * MIN_CHARS, "a" * MIN_CHARS)
    assert memo.get("a" * MIN_CHARS) is CLEAN
    assert memo.held_chars == MIN_CHARS


def test_memo_is_bounded_and_forgets_the_least_recently_used() -> None:
    memo = TextMemo(max_chars=3 * 300)
    a, b, c, d = ("a" * 300, "b" * 300, "c" * 300, "d" * 300)
    for text in (a, b, c):
        memo.put(text, text)
    assert memo.get(a) is CLEAN  # a is now the most recently used
    memo.put(d, d)
    assert memo.get(b) is None
    assert [memo.get(text) for text in (a, c, d)] == [CLEAN, CLEAN, CLEAN]
    assert memo.held_chars == 900
    memo.put("e" * 300, "x" * 100)  # text and its redacted form both count: a and c must go
    assert memo.held_chars == 700
    assert [memo.get(text) for text in (a, c, d)] == [None, None, CLEAN]
    assert memo.get("e" * 300) == "x" * 100


def test_memo_skips_a_text_bigger_than_its_bound() -> None:
    memo = TextMemo(max_chars=500)
    memo.put("a" * 600, "a" * 600)
    assert len(memo) == 0
    assert memo.held_chars == 0


def test_memo_bound_holds_in_a_redactor() -> None:
    redactor = Redactor()
    for i in range(1500):
        redactor.redact_text(f"{i} {_PROSE * 2}")
    assert redactor._memo.held_chars <= redactor._memo.max_chars
    assert 0 < len(redactor._memo) < 1500


def test_short_texts_come_back_from_their_memo_as_scanned() -> None:
    redactor = Redactor()
    texts = [template.format(secret.value) for secret in SECRETS for template in TEMPLATES]
    texts += [value for _, value in LOOKALIKES]
    short = [text for text in texts if len(text) < MIN_CHARS]
    assert len(short) > 200
    first = [redactor.redact_text(text) for text in short]
    assert first == [_PLAIN._scan(text, scan_view(text)) for text in short]
    assert [redactor.redact_text(text) for text in short] == first
    assert all(
        redactor._short.get(text) in (CLEAN, redacted) for text, redacted in zip(short, first, strict=True)
    )
    # A structure's strings (scanned joined, JSON strings walked into) give what a redactor with an
    # empty memo gives.
    assert redactor.redact_value({"values": short}) == Redactor().redact_value({"values": short})


def test_short_memo_is_per_redactor() -> None:
    one, two = Redactor(mode="hash", hash_key=b"one"), Redactor(mode="hash", hash_key=b"two")
    text = "Mail jane.doe@example.com"
    assert one.redact_text(text) == one.redact_text(text) != two.redact_text(text)
    assert Redactor().redact_text(text) == "Mail [REDACTED:email]"


def test_short_memo_is_bounded_by_entries() -> None:
    memo = ShortMemo(max_entries=100)
    for i in range(250):
        memo.put(f"order {i}", f"order {i}")
    assert 0 < len(memo) <= 100
    assert memo.get("order 249") is CLEAN
    redactor = Redactor()
    for i in range(redactor._short.max_entries * 2 + 10):
        redactor.redact_text(f"request id req_{i:08d}")
    assert 0 < len(redactor._short) <= redactor._short.max_entries


# --- joined scans and message shapes -------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(texts, texts.map(lambda t: _PROSE + t)), max_size=8))
def test_texts_scanned_together_or_remembered_match_one_by_one(parts: list[str]) -> None:
    redactor = Redactor()
    expected = [Redactor().redact_text(part) for part in parts]
    assert redactor._redact_texts(parts) == expected
    assert redactor._redact_texts(list(parts)) == expected  # now partly from the memo


def _messages(secret: Secret) -> list[dict[str, Any]]:
    return [
        {"role": "user", "parts": [{"type": "text", "content": f"{_PROSE} {secret.value}"}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "c1", "name": "f", "arguments": {"note": secret.value}}],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": secret.value}]},
    ]


@pytest.mark.parametrize("secret", SECRETS[::7], ids=lambda s: s.category)
def test_no_secret_survives_content_json(secret: Secret) -> None:
    out = Redactor().content_json(_messages(secret))
    assert not leaked_anywhere(secret.secret, json.loads(out))


def test_keys_the_user_names_are_not_skipped() -> None:
    redactor = Redactor(extra_keys=["content"])
    out = redactor.content_json([{"role": "user", "parts": [{"type": "text", "content": "hello"}]}])
    assert json.loads(out) == [{"role": "user", "parts": [{"type": "text", "content": "[REDACTED:key]"}]}]


def test_keys_a_user_pattern_matches_are_not_skipped() -> None:
    redactor = Redactor(extra_patterns=[CustomDetector("word", re.compile(r"^role$"))])
    assert redactor.redact_value({"role": "user"}) == {"[REDACTED:word]": "user"}


def test_content_json_is_compact_json_of_the_redacted_value() -> None:
    redactor = Redactor()
    value = [
        {"role": "user", "parts": [{"type": "text", "content": 'Say "hi"\n\tto jane@example.com, café 🙂'}]},
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": _PROSE + "\\ \r\n"}],
            "finish_reason": "stop",
        },
    ]
    expected = json.dumps(redactor.redact_value(value), separators=(",", ":"), ensure_ascii=False)
    assert redactor.content_json(value) == expected
    assert '"Say \\"hi\\"\\n\\tto [REDACTED:email], café 🙂"' in expected


def test_objects_json_cannot_hold_are_redacted_as_text() -> None:
    class Note:
        def __str__(self) -> str:
            return "call jane.doe@example.com"

    assert Redactor().content_json([{"note": Note()}]) == '[{"note":"call [REDACTED:email]"}]'


# --- JSON escaping -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text(alphabet=st.sampled_from('\\"\n\r\t\x00\x1f\x7fé\u2028 ab'), max_size=20))
def test_encode_string_writes_what_json_writes(text: str, extra: str) -> None:
    for candidate in (text, _PROSE + text + extra, extra * 40 + text):
        assert encode_string(candidate) == json.dumps(candidate, ensure_ascii=False)


def test_encode_string_handles_lone_surrogates_and_long_clean_text() -> None:
    for candidate in ("\ud800" * FAST_MIN_CHARS, _PROSE, _PROSE + "\x01"):
        assert encode_string(candidate) == json.dumps(candidate, ensure_ascii=False)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.just(_PROSE + '"\n')),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_compact_dumps_writes_what_json_dumps_writes(value: Any) -> None:
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    assert compact_dumps(str, long_strings=True)(value) == expected
    assert compact_dumps(str, long_strings=False)(value) == expected


def test_compact_dumps_detects_circular_values() -> None:
    value: list[Any] = []
    value.append(value)
    with pytest.raises(ValueError, match="Circular"):
        compact_dumps(str, long_strings=True)(value)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from('\\"\n\r\t\x00\x1f\x7fé\u2028 ab@.'), max_size=40), corpus_values)
def test_literals_written_while_redacting_are_what_json_writes(noise: str, value: str) -> None:
    redactor = Redactor()
    text = f"{_PROSE}{noise} {value} {noise}"
    redacted = redactor.redact_text(text)
    literal = redactor._literals.get(redacted)
    if any(ord(char) < 32 and char not in "\t\n\r" for char in text):
        assert literal is None  # other control characters: left to the json module
    else:
        assert literal == json.dumps(redacted, ensure_ascii=False)
    assert redactor.content_json({"content": text}) == json.dumps(
        {"content": redacted}, separators=(",", ":"), ensure_ascii=False
    )


def test_literals_are_found_by_identity_and_bounded() -> None:
    memo = LiteralMemo(max_chars=2 * (300 + 302))
    a, b, c = ("a" * 300, "b" * 300, "c" * 300)
    for text in (a, b):
        memo.put(text, f'"{text}"')
    assert memo.get(a) == f'"{a}"'
    assert memo.get("".join(list(a))) is None  # an equal string, another object
    memo.put(c, f'"{c}"')  # b is the least recently used
    assert [memo.get(text) for text in (a, b, c)] == [f'"{a}"', None, f'"{c}"']
    assert memo.held_chars == 2 * 602
    memo.put("d" * 10, '"dddddddddd"')  # short texts are not kept
    assert len(memo) == 2


def test_texts_that_share_a_memo_key_are_told_apart() -> None:
    # Same length, same ends and middle: the key is shared, the text is not.
    first = "a" * 100 + "x" + "b" * 200 + "c" * 100
    second = "a" * 100 + "y" + "b" * 200 + "c" * 100
    memo = TextMemo()
    memo.put(first, "[REDACTED:first]")
    assert memo.get(second) is None
    assert memo.get("".join(list(first))) == "[REDACTED:first]"
    memo.put(second, second)
    assert memo.get(second) is CLEAN
    assert memo.get(first) is None  # took its place
    assert len(memo) == 1
    assert memo.held_chars == len(second)


def test_a_private_key_split_over_strings_is_masked_when_its_lines_were_seen_before() -> None:
    # A PEM file as a list of lines: the block is found only with its lines scanned together, so a header
    # line answered from the short-text memo (seen in an earlier call) must not be left out of the scan.
    redactor = Redactor()

    def pem(seed: str) -> list[str]:
        body = (seed * 400)[:320]
        lines = [body[i : i + 64] for i in range(0, 320, 64)]
        return ["-----BEGIN RSA PRIVATE KEY-----", *lines, "-----END RSA PRIVATE KEY-----"]

    first, second = pem("MIIEowIBAAKCAQEAx1"), pem("MIIEpAIBAAKCAQEAz9")
    redactor.redact_value({"x": first[0]})  # the header line alone: now in the short-text memo
    for lines in (first, second, second):
        message = [{"role": "tool", "parts": [{"type": "tool_call_response", "response": lines}]}]
        recorded = redactor.content_json(message)
        assert not any(line in recorded for line in lines[1:-1])
        assert "[REDACTED:private_key]" in recorded
