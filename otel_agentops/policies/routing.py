"""Model routing by complexity: a request for a configured alias model goes to the tier's model.

Only requests whose model is a configured alias are routed; any other model name is sent as it is. The
complexity starts from the prompt length (estimated tokens, characters / 4) against two thresholds, then
uses two cheap signals that make a request harder than its length says:

* tools offered: the model must plan calls and fill schemas -> at least `moderate`;
* a long conversation (more than 8 messages): more state to keep track of -> one tier up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from otel_agentops.config.scaling import TIERS, RoutingSettings
from otel_agentops.policies.estimate import prompt_tokens

LONG_CONVERSATION = 8


@dataclass(frozen=True, slots=True)
class Route:
    model: str
    tier: str
    estimated_tokens: int


class Router:
    def __init__(self, settings: RoutingSettings) -> None:
        self.settings = settings

    def route(self, requested: Any, kwargs: Mapping[str, Any]) -> Route | None:
        tiers = self.settings.aliases.get(requested) if isinstance(requested, str) else None
        if tiers is None:
            return None
        tokens = prompt_tokens(kwargs)
        tier = complexity(tokens, kwargs, self.settings.thresholds)
        return Route(_model_for(tiers, tier), tier, tokens)


def complexity(tokens: int, kwargs: Mapping[str, Any], thresholds: tuple[float, float]) -> str:
    low, high = thresholds
    level = 0 if tokens < low else 1 if tokens < high else 2
    if kwargs.get("tools") and level == 0:
        level = 1
    messages = kwargs.get("messages") or kwargs.get("contents") or kwargs.get("input")
    if isinstance(messages, (list, tuple)) and len(messages) > LONG_CONVERSATION:
        level = min(level + 1, 2)
    return TIERS[level]


def _model_for(tiers: Mapping[str, str], tier: str) -> str:
    """The tier's model; a tier without one borrows the next tier up, else the next one down."""
    index = TIERS.index(tier)
    for candidate in (*TIERS[index:], *reversed(TIERS[:index])):
        if candidate in tiers:
            return tiers[candidate]
    raise AssertionError("a routing alias always names at least one tier")
