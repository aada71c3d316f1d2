"""Property tests: a corpus secret placed anywhere in text, JSON or chat messages never survives redaction,
and the benign content around it does."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from redaction_helpers import LOOKALIKES, SECRETS, Secret, leaked, leaked_anywhere

from otel_agentops.redaction import Redactor

MASK = Redactor()
HASH = Redactor(mode="hash", hash_key=b"property-tests")
REDACTORS = st.sampled_from([MASK, HASH])

_WORDS = (
    "the",
    "order",
    "arrived",
    "please",
    "check",
    "invoice",
    "thanks",
    "because",
    "tomorrow",
    "café",
    "naïve",
    "日本語",
    "Привет",
    "🙂",
)
# Benign text: words and look-alikes (which must survive too), separated by blanks.
benign_text = st.lists(
    st.one_of(
        st.sampled_from(_WORDS + tuple(value for _, value in LOOKALIKES)),
        st.text(alphabet=st.characters(categories=("L",)), min_size=1, max_size=10),
    ),
    max_size=12,
).map(" ".join)
secrets = st.sampled_from(SECRETS)


def _embed(prefix: str, secret: Secret, suffix: str) -> str:
    return f"{prefix}, {secret.value}, {suffix}"


@settings(max_examples=200, deadline=None)
@given(prefix=benign_text, secret=secrets, suffix=benign_text, redactor=REDACTORS)
def test_secret_in_random_text_never_survives(
    prefix: str, secret: Secret, suffix: str, redactor: Redactor
) -> None:
    out = redactor.redact_text(_embed(prefix, secret, suffix))
    assert not leaked(secret.secret, out)
    assert out.startswith(f"{prefix}, ")
    assert out.endswith(f", {suffix}")


@settings(max_examples=200, deadline=None)
@given(text=benign_text, redactor=REDACTORS)
def test_benign_text_is_returned_unchanged(text: str, redactor: Redactor) -> None:
    assert redactor.redact_text(text) == text


@settings(max_examples=200, deadline=None)
@given(prefix=benign_text, secret=secrets, suffix=benign_text, redactor=REDACTORS)
def test_redaction_is_idempotent(prefix: str, secret: Secret, suffix: str, redactor: Redactor) -> None:
    # A safety net may redact again what the instrumentation already redacted.
    once = redactor.redact_text(_embed(prefix, secret, suffix))
    assert redactor.redact_text(once) == once


_SAFE_KEYS = ("role", "content", "text", "type", "name", "id", "model", "index", "input_tokens", "max_tokens")
# Integers of a card's length are redacted when they pass its checks (as card numbers written as JSON
# numbers, see test_redactor): benign documents hold other integers.
benign_integers = st.one_of(st.integers(max_value=10**12 - 1), st.integers(min_value=10**16))
json_leaves = st.one_of(
    st.none(), st.booleans(), benign_integers, st.floats(allow_nan=False, allow_infinity=False), benign_text
)
json_documents = st.recursive(
    json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.sampled_from(_SAFE_KEYS), children, max_size=4)
    ),
    max_leaves=12,
)


def _insert(document: Any, leaf: str, data: st.DataObject) -> Any:
    """``document`` with ``leaf`` put at a random place (replacing a scalar, or added to a container)."""
    if isinstance(document, list):
        if document and data.draw(st.booleans()):
            index = data.draw(st.integers(0, len(document) - 1))
            return [*document[:index], _insert(document[index], leaf, data), *document[index + 1 :]]
        return [*document, leaf]
    if isinstance(document, dict):
        if document and data.draw(st.booleans()):
            key = data.draw(st.sampled_from(sorted(document)))
            return {**document, key: _insert(document[key], leaf, data)}
        return {**document, "note": leaf}
    return leaf


@settings(max_examples=200, deadline=None)
@given(document=json_documents, secret=secrets, data=st.data(), redactor=REDACTORS)
def test_secret_in_random_json_never_survives(
    document: Any, secret: Secret, data: st.DataObject, redactor: Redactor
) -> None:
    prefix, suffix = data.draw(benign_text), data.draw(benign_text)
    with_secret = _insert(document, _embed(prefix, secret, suffix), data)
    assert not leaked_anywhere(secret.secret, redactor.redact_value(with_secret))
    out = redactor.redact_json_str(json.dumps(with_secret))
    assert not leaked(secret.secret, out)
    assert not leaked_anywhere(secret.secret, json.loads(out))
    # The rest of the document is untouched.
    assert redactor.redact_value(document) == document
    compact = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    assert redactor.redact_json_str(json.dumps(document)) == compact


def _chat(slot: int, text: str, benign: str) -> list[dict[str, Any]]:
    """Chat history in the provider format and in the GenAI semconv "parts" format; ``text`` at ``slot``."""
    texts = [text if i == slot else benign for i in range(6)]
    return [
        {"role": "system", "content": texts[0]},
        {"role": "user", "content": [{"type": "text", "text": texts[1]}]},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": json.dumps({"query": texts[2], "limit": 5})},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": json.dumps({"result": texts[3], "tokens": 42})},
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": texts[4]},
                {"type": "tool_call", "id": "call_2", "name": "send", "arguments": {"body": texts[5]}},
            ],
            "finish_reason": "stop",
        },
    ]


@settings(max_examples=200, deadline=None)
@given(secret=secrets, slot=st.integers(0, 5), around=benign_text, benign=benign_text, redactor=REDACTORS)
def test_secret_in_chat_messages_never_survives(
    secret: Secret, slot: int, around: str, benign: str, redactor: Redactor
) -> None:
    messages = _chat(slot, _embed(around, secret, around), benign)
    out = redactor.redact_json_str(json.dumps(messages))
    assert not leaked(secret.secret, out)
    assert not leaked_anywhere(secret.secret, json.loads(out))
    assert not leaked_anywhere(secret.secret, redactor.redact_value(messages))
    clean = _chat(slot, around, benign)
    assert redactor.redact_value(clean) == clean
