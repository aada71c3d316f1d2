"""Bounding content attributes: valid JSON, within the bound, longest strings cut first."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from otel_agentops.redaction import Redactor
from otel_agentops.redaction.truncation import truncate_messages_json

_MARKER = re.compile(r"…\[truncated (\d+) chars\]$")


def test_content_within_the_bound_is_untouched() -> None:
    s = json.dumps([{"role": "user", "content": "hi"}], indent=2)
    assert truncate_messages_json(s, len(s)) is s


def test_compacting_alone_may_be_enough() -> None:
    document = [{"role": "user", "content": "hello there"}]
    s = json.dumps(document, indent=4)
    compact = json.dumps(document, separators=(",", ":"))
    assert truncate_messages_json(s, len(compact)) == compact


def test_longest_strings_are_cut_first_and_marked() -> None:
    question = "What is in this file?"
    tool_result = "x" * 5000
    s = json.dumps([{"role": "user", "content": question}, {"role": "tool", "content": tool_result}])
    out = truncate_messages_json(s, 300)
    assert len(out) <= 300
    user, tool = json.loads(out)
    assert user["content"] == question
    marker = _MARKER.search(tool["content"])
    assert marker is not None
    kept = len(tool["content"]) - len(marker.group(0))
    assert kept + int(marker.group(1)) == len(tool_result)


def test_escaped_characters_count_as_they_are_written() -> None:
    s = json.dumps({"content": '"quoted"\n\\' * 300, "emoji": "🙂" * 300}, ensure_ascii=False)
    out = truncate_messages_json(s, 200)
    assert len(out) <= 200
    json.loads(out)


def test_too_many_messages_drop_the_latest() -> None:
    messages = [{"role": "user", "content": f"m{i}"} for i in range(500)]
    out = truncate_messages_json(json.dumps(messages), 400)
    assert len(out) <= 400
    kept = json.loads(out)
    assert kept[0] == {"role": "user", "content": "m0"}
    assert re.fullmatch(r"…\[truncated \d+ items\]", kept[-1])


def test_hopeless_bounds_still_give_json() -> None:
    s = json.dumps({f"key{i}": i for i in range(100)})
    assert json.loads(truncate_messages_json(s, 30)) is not None
    assert truncate_messages_json(s, 2) == '""'
    assert truncate_messages_json(s, 1) == ""


def test_plain_text_is_cut_with_a_marker() -> None:
    out = truncate_messages_json("plain words " * 100, 50)
    assert len(out) == 50
    assert _MARKER.search(out)


def test_redactor_uses_its_configured_bound() -> None:
    s = json.dumps({"content": "y" * 1000})
    assert len(Redactor(max_content_length=100).truncate_messages_json(s)) <= 100
    assert Redactor(max_content_length=None).truncate_messages_json(s) == s
    assert len(Redactor(max_content_length=None).truncate_messages_json(s, 50)) <= 50


_json = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=6), st.dictionaries(st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(document=_json, max_len=st.integers(2, 400))
def test_output_is_valid_json_within_the_bound(document: Any, max_len: int) -> None:
    out = truncate_messages_json(json.dumps(document), max_len)
    assert len(out) <= max_len
    json.loads(out)
