"""OTEL_AGENTOPS_SAMPLING*: parsed and validated; each bad value is named with its accepted form."""

from __future__ import annotations

import logging

import pytest

from otel_agentops.config.sampling import SamplingSettings, load_sampling, tail_sampling_enabled


def test_unset_means_no_tail_sampler():
    assert load_sampling({}) is None
    assert load_sampling({"OTEL_AGENTOPS_SAMPLING_RATIO": "0.5"}) is None
    assert load_sampling({"OTEL_AGENTOPS_SAMPLING": "off"}) is None


def test_defaults_when_switched_on():
    assert load_sampling({"OTEL_AGENTOPS_SAMPLING": "tail"}) == SamplingSettings(
        ratio=0.1,
        slow=None,
        cost=None,
        keep_errors=True,
        decision_wait=30.0,
        max_traces=1000,
        max_spans=10_000,
    )


def test_every_variable():
    settings = load_sampling(
        {
            "OTEL_AGENTOPS_SAMPLING": " Tail ",
            "OTEL_AGENTOPS_SAMPLING_RATIO": "0.25",
            "OTEL_AGENTOPS_SAMPLING_SLOW": "2.5",
            "OTEL_AGENTOPS_SAMPLING_COST": "0.05",
            "OTEL_AGENTOPS_SAMPLING_KEEP_ERRORS": "false",
            "OTEL_AGENTOPS_SAMPLING_DECISION_WAIT": "120",
            "OTEL_AGENTOPS_SAMPLING_MAX_TRACES": "50",
            "OTEL_AGENTOPS_SAMPLING_MAX_SPANS": "500",
        }
    )
    assert settings == SamplingSettings(
        ratio=0.25, slow=2.5, cost=0.05, keep_errors=False, decision_wait=120.0, max_traces=50, max_spans=500
    )


@pytest.mark.parametrize(
    ("variable", "value", "accepted", "field", "default"),
    [
        ("OTEL_AGENTOPS_SAMPLING_RATIO", "1.5", "a number from 0 to 1", "ratio", 0.1),
        ("OTEL_AGENTOPS_SAMPLING_RATIO", "-0.1", "a number from 0 to 1", "ratio", 0.1),
        ("OTEL_AGENTOPS_SAMPLING_RATIO", "half", "a number from 0 to 1", "ratio", 0.1),
        ("OTEL_AGENTOPS_SAMPLING_RATIO", "nan", "a number from 0 to 1", "ratio", 0.1),
        ("OTEL_AGENTOPS_SAMPLING_SLOW", "-1", "a finite number >= 0", "slow", None),
        ("OTEL_AGENTOPS_SAMPLING_SLOW", "5s", "a number >= 0", "slow", None),
        ("OTEL_AGENTOPS_SAMPLING_COST", "$1", "a number >= 0", "cost", None),
        ("OTEL_AGENTOPS_SAMPLING_COST", "inf", "a finite number >= 0", "cost", None),
        ("OTEL_AGENTOPS_SAMPLING_KEEP_ERRORS", "maybe", "true or false", "keep_errors", True),
        ("OTEL_AGENTOPS_SAMPLING_DECISION_WAIT", "0", "a number of seconds > 0", "decision_wait", 30.0),
        ("OTEL_AGENTOPS_SAMPLING_DECISION_WAIT", "soon", "a number of seconds > 0", "decision_wait", 30.0),
        ("OTEL_AGENTOPS_SAMPLING_MAX_TRACES", "0", "a whole number >= 1", "max_traces", 1000),
        ("OTEL_AGENTOPS_SAMPLING_MAX_TRACES", "1e3", "a whole number >= 1", "max_traces", 1000),
        ("OTEL_AGENTOPS_SAMPLING_MAX_SPANS", "-5", "a whole number >= 1", "max_spans", 10_000),
    ],
)
def test_bad_values_are_reported_and_keep_their_default(caplog, variable, value, accepted, field, default):
    with caplog.at_level(logging.WARNING, logger="otel_agentops.config"):
        settings = load_sampling({"OTEL_AGENTOPS_SAMPLING": "tail", variable: value})
    assert settings is not None
    assert getattr(settings, field) == default
    [record] = caplog.records
    assert record.getMessage() == (
        f"otel-agentops: ignoring {variable}={value!r}: expected {accepted}; using the default ({default})"
    )


def test_an_unknown_mode_is_reported_and_means_off(caplog):
    with caplog.at_level(logging.WARNING, logger="otel_agentops.config"):
        assert not tail_sampling_enabled({"OTEL_AGENTOPS_SAMPLING": "head"})
    [record] = caplog.records
    assert record.getMessage() == (
        "otel-agentops: ignoring OTEL_AGENTOPS_SAMPLING='head': expected tail or off; using the default (off)"
    )


def test_settings_built_in_code_are_checked():
    for bad in (
        {"ratio": 2.0},
        {"slow": -1.0},
        {"cost": float("nan")},
        {"decision_wait": 0.0},
        {"max_traces": 0},
        {"max_spans": 0},
    ):
        with pytest.raises(ValueError):
            SamplingSettings(**bad)
