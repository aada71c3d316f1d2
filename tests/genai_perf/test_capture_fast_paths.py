"""The per-call shortcuts of content capture and cost, through the real openai SDK on the fake provider.

A long system prompt sent again comes from redaction's memo and its JSON literal from the literal memo:
the attribute must be exactly what the first call recorded, redacted, valid JSON. The price rates are kept
per UTC day.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from otel_agentops.fake_provider.scenario import Reply
from otel_agentops.genai import cost, semconv
from otel_agentops.redaction import get_redactor

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
SYSTEM = (
    "You are the support agent of a parcel company. Answer in two sentences at most, name the order, "
    'quote the "tracking page" when it helps, and never promise a date.\n\tEscalations go to '
    "escalations@example.com; the on-call desk is +44 20 7946 0958. "
) * 3


def _chat(fake: Any, system: str) -> None:
    llm = openai.OpenAI(api_key="sk-test-key", base_url=fake.openai_base_url, max_retries=0)
    fake.script(Reply(text="It shipped on Monday.", input_tokens=30, output_tokens=5))
    llm.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": system}, {"role": "user", "content": "Where is ORD-1042?"}],
    )


def _expected_system(system: str) -> str:
    redacted = system.replace("escalations@example.com", "[REDACTED:email]").replace(
        "+44 20 7946 0958", "[REDACTED:phone]"
    )
    return json.dumps([{"type": "text", "content": redacted}], separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("system", [SYSTEM, SYSTEM + "\x01 a control character JSON writes as \\u0001"])
def test_a_repeated_system_prompt_is_recorded_the_same_each_call(system, fake_provider, instrument) -> None:
    telemetry = instrument(**{CAPTURE: "span_only"})
    for _ in range(3):
        _chat(fake_provider, system)
    recorded = [span.attributes[semconv.SYSTEM_INSTRUCTIONS] for span in telemetry.spans()]
    assert recorded == [_expected_system(system)] * 3
    assert json.loads(recorded[0])[0]["content"].count("[REDACTED:") == 6


def test_an_equal_prompt_in_a_new_string_is_recorded_the_same(fake_provider, instrument) -> None:
    telemetry = instrument(**{CAPTURE: "span_only"})
    _chat(fake_provider, SYSTEM)
    _chat(fake_provider, "".join(list(SYSTEM)))  # equal text, another object: the memo by value
    first, second = (span.attributes[semconv.SYSTEM_INSTRUCTIONS] for span in telemetry.spans())
    assert first == second == _expected_system(SYSTEM)
    assert get_redactor()._memo.get(SYSTEM) is not None


def test_rates_are_resolved_once_per_utc_day(monkeypatch: pytest.MonkeyPatch) -> None:
    resolved: list[tuple[str, str]] = []
    real_resolve = cost._resolve

    def counting(provider: str, model: str) -> object:
        resolved.append((provider, model))
        return real_resolve(provider, model)

    now = [1_800_000_000.0]  # 2027-01-15 08:00 UTC
    monkeypatch.setattr(cost, "_resolve", counting)
    monkeypatch.setattr(cost, "time", lambda: now[0])
    monkeypatch.setattr(cost, "_rates", {})
    first = cost.call_cost("openai", "gpt-4o-mini", 1000, 100)
    now[0] += 3600  # same day
    assert cost.call_cost("openai", "gpt-4o-mini", 1000, 100) == first
    assert resolved == [("openai", "gpt-4o-mini")]
    now[0] += 86_400  # the next day
    assert cost.call_cost("openai", "gpt-4o-mini", 1000, 100) == first
    assert resolved == [("openai", "gpt-4o-mini")] * 2
    assert first == pytest.approx((1000 * 0.15 + 100 * 0.6) / 1_000_000)
