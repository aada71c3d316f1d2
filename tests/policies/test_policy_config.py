"""Policy configuration: env vars, the TOML file, precedence, and one clear message per bad value."""

from __future__ import annotations

import logging

import openai
import pytest

from otel_agentops.config import policies
from otel_agentops.fake_provider import Fault
from otel_agentops.genai import semconv

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def fresh_cache():
    policies._load.cache_clear()
    yield
    policies._load.cache_clear()


def messages(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "otel_agentops.config"]


def test_nothing_configured_means_no_chain():
    settings = policies.load({})
    assert settings.enabled is False
    resolved = settings.resolve("openai", "gpt-4o")
    assert (resolved.retry.enabled, resolved.circuit_breaker.enabled, resolved.rate_limit.enabled) == (
        False,
        False,
        False,
    )


@pytest.mark.parametrize(
    ("variable", "value", "accepted"),
    [
        ("OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS", "three", "a whole number >= 1"),
        ("OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS", "0", "a whole number >= 1"),
        ("OTEL_AGENTOPS_RETRY_BASE_DELAY", "-1", "a number of seconds >= 0"),
        ("OTEL_AGENTOPS_RETRY_MAX_DELAY", "nan", "a number of seconds >= 0"),
        ("OTEL_AGENTOPS_RETRY_JITTER", "maybe", "true or false"),
        ("OTEL_AGENTOPS_CIRCUIT_BREAKER_FAILURE_THRESHOLD", "2.5", "a whole number >= 1"),
        ("OTEL_AGENTOPS_CIRCUIT_BREAKER_RESET_TIMEOUT", "soon", "a number of seconds >= 0"),
        ("OTEL_AGENTOPS_RATE_LIMIT_RPM", "0", "a number > 0"),
        ("OTEL_AGENTOPS_RATE_LIMIT_TPM", "lots", "a number > 0"),
        ("OTEL_AGENTOPS_RATE_LIMIT_MODE", "block", "wait or raise"),
        ("OTEL_AGENTOPS_FALLBACK_MODELS", "gpt-4o", "chains of two or more different models"),
    ],
)
def test_bad_env_value_is_named_with_value_and_accepted_form(variable, value, accepted, caplog):
    caplog.set_level(logging.WARNING, logger="otel_agentops.config")
    settings = policies.load({variable: value})
    [message] = messages(caplog)
    assert variable in message
    assert repr(value) in message
    assert accepted in message
    assert settings.enabled is False  # that setting kept its default (off)


def test_one_bad_value_keeps_the_others(caplog):
    settings = policies.load({"OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS": "4", "OTEL_AGENTOPS_RETRY_MAX_DELAY": "x"})
    retry = settings.resolve("openai", "m").retry
    assert (retry.max_attempts, retry.max_delay) == (4, 8.0)


def test_reported_once_per_environment(caplog):
    caplog.set_level(logging.WARNING, logger="otel_agentops.config")
    env = {"OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS": "x"}
    policies.load(env)
    policies.load(env)
    assert len(messages(caplog)) == 1


def test_policy_file_layers_and_env_override(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(
        """
[retry]
max_attempts = 3
base_delay = 0.25
[circuit_breaker]
failure_threshold = 5
[rate_limit]
rpm = 600
[fallback]
models = ["gpt-4o>gpt-4o-mini"]
[providers.openai.retry]
max_attempts = 5
[models."gpt-4o".rate_limit]
tpm = 30000
mode = "raise"
"""
    )
    settings = policies.load({"OTEL_AGENTOPS_POLICY_FILE": str(path)})
    other = settings.resolve("anthropic", "claude")
    assert (other.retry.max_attempts, other.retry.base_delay) == (3, 0.25)
    assert other.circuit_breaker.failure_threshold == 5
    assert (other.rate_limit.rpm, other.rate_limit.tpm) == (600, None)
    openai_default = settings.resolve("openai", "gpt-4o-mini")
    assert openai_default.retry.max_attempts == 5
    gpt4o = settings.resolve("openai", "gpt-4o")
    assert (gpt4o.rate_limit.rpm, gpt4o.rate_limit.tpm, gpt4o.rate_limit.mode) == (600, 30000, "raise")
    assert settings.fallbacks == {"gpt-4o": ("gpt-4o-mini",)}

    overridden = policies.load(
        {"OTEL_AGENTOPS_POLICY_FILE": str(path), "OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS": "2"}
    )
    assert overridden.resolve("openai", "gpt-4o").retry.max_attempts == 2  # env wins at every level


@pytest.mark.parametrize(
    ("content", "where", "accepted"),
    [
        ("[retry]\nmax_attempt = 3\n", "[retry] max_attempt", "one of the keys max_attempts"),
        ("[retry]\nmax_attempts = 'four'\n", "[retry] max_attempts", "a whole number >= 1"),
        ("[retry]\nmax_attempts = true\n", "[retry] max_attempts", "a whole number >= 1"),
        ("[rate_limit]\nrpm = -5\n", "[rate_limit] rpm", "a number > 0"),
        ("[retries]\nmax_attempts = 3\n", "[retries]", "one of the sections retry"),
        ('[models."gpt-4o".retyr]\nmax_attempts = 3\n', '[models."gpt-4o".retyr]', "one of retry"),
        ("[fallback]\nmodels = 5\n", "[fallback] models", "a list of chains"),
    ],
)
def test_bad_policy_file_entries(content, where, accepted, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="otel_agentops.config")
    path = tmp_path / "policy.toml"
    path.write_text(content)
    policies.load({"OTEL_AGENTOPS_POLICY_FILE": str(path)})
    [message] = messages(caplog)
    assert f"policy file {path}: {where}" in message
    assert accepted in message


def test_unreadable_and_invalid_policy_files(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="otel_agentops.config")
    missing = tmp_path / "missing.toml"
    assert policies.load({"OTEL_AGENTOPS_POLICY_FILE": str(missing)}).enabled is False
    broken = tmp_path / "broken.toml"
    broken.write_text("[retry\nmax_attempts = 3")
    policies.load({"OTEL_AGENTOPS_POLICY_FILE": str(broken), "OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS": "3"})
    first, second = messages(caplog)
    assert "OTEL_AGENTOPS_POLICY_FILE" in first and str(missing) in first and "a readable TOML file" in first
    assert "OTEL_AGENTOPS_POLICY_FILE" in second and str(broken) in second and "valid TOML" in second


async def test_policy_file_drives_the_real_call(fake_provider, instrument, tmp_path, clock):
    path = tmp_path / "policy.toml"
    path.write_text('[models."gpt-4o-mini".retry]\nmax_attempts = 3\n')
    telemetry = instrument(OTEL_AGENTOPS_POLICY_FILE=str(path))
    fake_provider.add_fault(Fault(status=500), times=2)
    llm = openai.OpenAI(api_key="sk-test", base_url=fake_provider.openai_base_url)
    llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert fake_provider.request_count() == 3
    assert telemetry.span().attributes[semconv.RETRY_ATTEMPTS] == 3
