"""Model routing by complexity with the real openai SDK against the fake provider."""

from __future__ import annotations

import logging

import openai
import pytest

from otel_agentops.config.scaling import RoutingSettings
from otel_agentops.genai import semconv
from otel_agentops.policies.routing import Router

ROUTING = {
    "OTEL_AGENTOPS_MODEL_ROUTING": "auto:simple=gpt-4o-mini,moderate=gpt-4o,complex=o3",
    "OTEL_AGENTOPS_MODEL_ROUTING_THRESHOLDS": "50,500",
}
TOOLS = [{"type": "function", "function": {"name": "lookup_order", "parameters": {"type": "object"}}}]


def sdk(fake):
    return openai.OpenAI(api_key="sk-test", base_url=fake.openai_base_url, max_retries=0)


def user(chars):
    return [{"role": "user", "content": "x" * chars}]


@pytest.mark.parametrize(
    ("messages", "extra", "tier", "model", "tokens"),
    [
        (user(40), {}, "simple", "gpt-4o-mini", 10),
        (user(400), {}, "moderate", "gpt-4o", 100),
        (user(4000), {}, "complex", "o3", 1000),
        (user(40), {"tools": TOOLS}, "moderate", "gpt-4o", 10),  # tools: at least moderate
        (user(4) * 9, {}, "moderate", "gpt-4o", 9),  # a long conversation: one tier up
        (user(400) * 9, {}, "complex", "o3", 900),
    ],
)
def test_alias_requests_go_to_the_tier_model(fake_provider, instrument, messages, extra, tier, model, tokens):
    telemetry = instrument(**ROUTING)
    result = sdk(fake_provider).chat.completions.create(model="auto", messages=messages, **extra)

    [request] = fake_provider.requests
    assert request.body["model"] == model
    assert result.model.startswith(model)
    span = telemetry.span()
    assert span.name == "chat auto"
    assert span.attributes[semconv.REQUEST_MODEL] == "auto"
    assert span.attributes[semconv.ROUTING_REQUESTED_MODEL] == "auto"
    assert span.attributes[semconv.ROUTING_MODEL] == model
    assert span.attributes[semconv.ROUTING_TIER] == tier
    assert span.attributes[semconv.ROUTING_ESTIMATED_TOKENS] == tokens
    [routed] = telemetry.metric_points(semconv.METRIC_ROUTED_CALLS)
    assert dict(routed.attributes) == {
        semconv.PROVIDER_NAME: "openai",
        semconv.ROUTING_REQUESTED_MODEL: "auto",
        semconv.ROUTING_MODEL: model,
        semconv.ROUTING_TIER: tier,
    }


def test_other_models_are_never_routed(fake_provider, instrument):
    telemetry = instrument(**ROUTING)
    sdk(fake_provider).chat.completions.create(model="gpt-4o", messages=user(4000))
    [request] = fake_provider.requests
    assert request.body["model"] == "gpt-4o"
    assert not any(key.startswith("agentops.routing") for key in telemetry.span().attributes)
    assert telemetry.metric_points(semconv.METRIC_ROUTED_CALLS) == []


async def test_async_and_fallback_apply_to_the_routed_model(fake_provider, instrument):
    from otel_agentops.fake_provider import Fault

    telemetry = instrument(**ROUTING, OTEL_AGENTOPS_FALLBACK_MODELS="gpt-4o-mini>gpt-4o")
    fake_provider.add_fault(Fault(status=503))
    llm = openai.AsyncOpenAI(api_key="sk-test", base_url=fake_provider.openai_base_url, max_retries=0)
    await llm.chat.completions.create(model="auto", messages=user(8))
    assert [r.body["model"] for r in fake_provider.requests] == ["gpt-4o-mini", "gpt-4o"]
    span = telemetry.span()
    assert span.attributes[semconv.ROUTING_MODEL] == "gpt-4o-mini"
    assert span.attributes[semconv.FALLBACK_MODEL] == "gpt-4o"


def test_a_missing_tier_borrows_the_next_one_up():
    router = Router(RoutingSettings({"auto": {"moderate": "m", "complex": "c"}}, (10, 100)))
    assert router.route("auto", {"messages": user(4)}).model == "m"
    router = Router(RoutingSettings({"auto": {"simple": "s"}}, (10, 100)))
    assert router.route("auto", {"messages": user(4000)}).model == "s"
    assert router.route("other", {"messages": user(4)}) is None
    assert router.route(None, {}) is None


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "OTEL_AGENTOPS_MODEL_ROUTING",
            "auto:easy=gpt-4o-mini",
            "otel-agentops: ignoring OTEL_AGENTOPS_MODEL_ROUTING='auto:easy=gpt-4o-mini': expected aliases"
            ' like "auto:simple=gpt-4o-mini,moderate=gpt-4o,complex=o3" separated by ;; '
            "using the default (this alias is not routed)",
        ),
        (
            "OTEL_AGENTOPS_MODEL_ROUTING_THRESHOLDS",
            "500,50",
            "otel-agentops: ignoring OTEL_AGENTOPS_MODEL_ROUTING_THRESHOLDS='500,50': expected two"
            " increasing token counts > 0 like 400,2000; using the default (400,2000)",
        ),
    ],
)
def test_bad_routing_settings_are_named(fake_provider, instrument, caplog, variable, value, message):
    caplog.set_level(logging.WARNING, logger="otel_agentops.config")
    instrument(**{**ROUTING, variable: value})
    sdk(fake_provider).chat.completions.create(model="gpt-4o-mini", messages=user(4))
    assert message in [record.getMessage() for record in caplog.records]


def test_sdk_retries_follow_the_routed_model(fake_provider, instrument, tmp_path):
    """Retry configured for the routed model only: its budget is ours alone (3 requests, not 3 x 3)."""
    from otel_agentops.fake_provider import Fault

    policy = tmp_path / "policies.toml"
    policy.write_text('[models."gpt-4o-mini".retry]\nmax_attempts = 3\nbase_delay = 0\n')
    instrument(**ROUTING, OTEL_AGENTOPS_POLICY_FILE=str(policy))
    fake_provider.add_fault(Fault(status=429, retry_after="0"), times=None)
    llm = openai.OpenAI(api_key="sk-test", base_url=fake_provider.openai_base_url, max_retries=2)
    with pytest.raises(openai.RateLimitError):
        llm.chat.completions.create(model="auto", messages=user(8))
    assert fake_provider.request_count() == 3
