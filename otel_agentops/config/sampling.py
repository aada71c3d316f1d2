"""Tail-sampling settings: ``OTEL_AGENTOPS_SAMPLING=tail`` and the rules of the in-process tail sampler.

A trace is kept when any rule matches, in this order (the first match is the recorded reason):
an error span (``..._KEEP_ERRORS``), a local root that took at least ``..._SLOW`` seconds, a total
``gen_ai.usage.cost`` of at least ``..._COST`` USD, else the trace-id ratio ``..._RATIO``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from otel_agentops.config.env import parse_bool, parse_float, parse_int, report_invalid

SAMPLING = "OTEL_AGENTOPS_SAMPLING"
SAMPLING_RATIO = "OTEL_AGENTOPS_SAMPLING_RATIO"
SAMPLING_SLOW = "OTEL_AGENTOPS_SAMPLING_SLOW"
SAMPLING_COST = "OTEL_AGENTOPS_SAMPLING_COST"
SAMPLING_KEEP_ERRORS = "OTEL_AGENTOPS_SAMPLING_KEEP_ERRORS"
SAMPLING_DECISION_WAIT = "OTEL_AGENTOPS_SAMPLING_DECISION_WAIT"
SAMPLING_MAX_TRACES = "OTEL_AGENTOPS_SAMPLING_MAX_TRACES"
SAMPLING_MAX_SPANS = "OTEL_AGENTOPS_SAMPLING_MAX_SPANS"

_MODES = {"tail": True, "off": False, "none": False}

# A long agent run can outlive any wait; 30 s matches the Collector's tail_sampling decision_wait.
DEFAULT_DECISION_WAIT = 30.0
DEFAULT_RATIO = 0.1
DEFAULT_MAX_TRACES = 1000
# An SDK span with a handful of attributes holds ~3 KB (benchmarks/tail_sampling.py): ~30 MB at the bound.
DEFAULT_MAX_SPANS = 10_000


@dataclass(frozen=True, slots=True)
class SamplingSettings:
    """The tail sampler's rules and bounds; also the in-code way to configure it.

    ``slow`` (seconds) and ``cost`` (USD) are off when None; ``ratio`` is the fraction of the remaining
    traces kept, chosen from the trace id so every process keeping a trace agrees on it.
    """

    ratio: float = DEFAULT_RATIO
    slow: float | None = None
    cost: float | None = None
    keep_errors: bool = True
    decision_wait: float = DEFAULT_DECISION_WAIT
    max_traces: int = DEFAULT_MAX_TRACES
    max_spans: int = DEFAULT_MAX_SPANS

    def __post_init__(self) -> None:
        # Code that builds settings by hand gets an exception, not a warning: it is a programming error.
        if not 0.0 <= self.ratio <= 1.0:
            raise ValueError(f"ratio must be from 0 to 1, not {self.ratio!r}")
        for name in ("slow", "cost"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0 or None, not {value!r}")
        if not (math.isfinite(self.decision_wait) and self.decision_wait > 0):
            raise ValueError(f"decision_wait must be a number of seconds > 0, not {self.decision_wait!r}")
        if self.max_traces < 1 or self.max_spans < 1:
            raise ValueError("max_traces and max_spans must be at least 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SamplingSettings:
        """The rule variables, each validated on its own (a bad one keeps its default)."""
        env = os.environ if environ is None else environ
        return cls(
            ratio=cast(
                float,
                parse_float(env, SAMPLING_RATIO, DEFAULT_RATIO, maximum=1.0, accepted="a number from 0 to 1"),
            ),
            slow=parse_float(env, SAMPLING_SLOW, None),
            cost=parse_float(env, SAMPLING_COST, None),
            keep_errors=parse_bool(env, SAMPLING_KEEP_ERRORS, True),
            decision_wait=cast(
                float,
                parse_float(
                    env,
                    SAMPLING_DECISION_WAIT,
                    DEFAULT_DECISION_WAIT,
                    exclusive_minimum=True,
                    accepted="a number of seconds > 0",
                ),
            ),
            # With an int default the parser returns an int.
            max_traces=cast(int, parse_int(env, SAMPLING_MAX_TRACES, DEFAULT_MAX_TRACES, minimum=1)),
            max_spans=cast(int, parse_int(env, SAMPLING_MAX_SPANS, DEFAULT_MAX_SPANS, minimum=1)),
        )


def tail_sampling_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``OTEL_AGENTOPS_SAMPLING`` asks for the tail sampler (unset: no)."""
    env = os.environ if environ is None else environ
    raw = env.get(SAMPLING)
    if raw is None or raw.strip() == "":
        return False
    enabled = _MODES.get(raw.strip().lower())
    if enabled is None:
        report_invalid(SAMPLING, raw, "tail or off", "off")
        return False
    return enabled


def load_sampling(environ: Mapping[str, str] | None = None) -> SamplingSettings | None:
    """The tail sampler's settings when it is switched on, else None."""
    return SamplingSettings.from_env(environ) if tail_sampling_enabled(environ) else None
