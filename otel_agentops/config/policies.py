"""Resilience-policy settings: environment variables and the optional TOML policy file.

Layers, lowest first: built-in defaults (every policy off), the file's top-level sections, its
``[providers.<name>]`` sections, its ``[models."<name>"]`` sections, and finally the environment variables,
which override the file at every level (so an operator can force a value without editing the file)::

    [retry]                      # OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS, ..._BASE_DELAY, ..._MAX_DELAY, ..._JITTER
    max_attempts = 4
    [circuit_breaker]            # OTEL_AGENTOPS_CIRCUIT_BREAKER_FAILURE_THRESHOLD, ..._RESET_TIMEOUT, ...
    failure_threshold = 5
    [rate_limit]                 # OTEL_AGENTOPS_RATE_LIMIT_RPM, ..._TPM, ..._MODE, ..._MAX_WAIT
    rpm = 600
    [fallback]                   # OTEL_AGENTOPS_FALLBACK_MODELS="gpt-4o>gpt-4o-mini,o3>o4-mini"
    models = ["gpt-4o>gpt-4o-mini"]
    [providers.openai.retry]
    max_attempts = 3
    [models."gpt-4o".rate_limit]
    tpm = 30000

Every bad value (not a number, out of range, unknown key or section, unreadable file) is reported once with
where it came from, the value and the accepted form; that one setting keeps its default.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from otel_agentops.config.env import report_invalid

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

POLICY_FILE = "OTEL_AGENTOPS_POLICY_FILE"
FALLBACK_MODELS = "OTEL_AGENTOPS_FALLBACK_MODELS"
ENV_PREFIX = "OTEL_AGENTOPS_"

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


@dataclass(frozen=True, slots=True)
class _Field:
    kind: type
    accepted: str
    minimum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] = ()

    def coerce(self, raw: Any) -> Any:
        """The typed value, or raise ValueError; accepts strings (env) and TOML's own types."""
        if self.kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise ValueError(raw)
        if self.kind is str:
            text = str(raw).strip().lower()
            if text not in self.choices:
                raise ValueError(raw)
            return text
        if isinstance(raw, bool):  # TOML true is not a number
            raise ValueError(raw)
        value: float = self.kind(raw.strip() if isinstance(raw, str) else raw)
        if self.kind is int and isinstance(raw, float) and raw != int(raw):
            raise ValueError(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
        if self.minimum is not None and (
            value < self.minimum or (self.exclusive_minimum and value == self.minimum)
        ):
            raise ValueError(raw)
        return value


_SECONDS = "a number of seconds >= 0"
SCHEMA: dict[str, dict[str, _Field]] = {
    "retry": {
        "max_attempts": _Field(int, "a whole number >= 1 (attempts including the first; 1 = no retry)", 1),
        "base_delay": _Field(float, _SECONDS, 0),
        "max_delay": _Field(float, _SECONDS, 0),
        "jitter": _Field(bool, "true or false"),
    },
    "circuit_breaker": {
        "failure_threshold": _Field(int, "a whole number >= 1 (consecutive transient failures)", 1),
        "reset_timeout": _Field(float, _SECONDS, 0),
        "success_threshold": _Field(int, "a whole number >= 1", 1),
    },
    "rate_limit": {
        "rpm": _Field(float, "a number > 0 (requests per minute)", 0, exclusive_minimum=True),
        "tpm": _Field(float, "a number > 0 (tokens per minute)", 0, exclusive_minimum=True),
        "mode": _Field(str, "wait or raise", choices=("wait", "raise")),
        "max_wait": _Field(float, _SECONDS, 0),
    },
}


@dataclass(frozen=True, slots=True)
class RetrySettings:
    max_attempts: int = 1
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: bool = True

    @property
    def enabled(self) -> bool:
        return self.max_attempts > 1


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    failure_threshold: int | None = None
    reset_timeout: float = 30.0
    success_threshold: int = 1

    @property
    def enabled(self) -> bool:
        return self.failure_threshold is not None


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    rpm: float | None = None
    tpm: float | None = None
    mode: str = "wait"
    max_wait: float = 30.0

    @property
    def enabled(self) -> bool:
        return self.rpm is not None or self.tpm is not None


@dataclass(frozen=True, slots=True)
class PolicySet:
    """The policies in force for one (provider, model)."""

    retry: RetrySettings = field(default_factory=RetrySettings)
    circuit_breaker: BreakerSettings = field(default_factory=BreakerSettings)
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)

    @property
    def enabled(self) -> bool:
        return self.retry.enabled or self.circuit_breaker.enabled or self.rate_limit.enabled


_SETTINGS_CLASSES: dict[str, Callable[..., Any]] = {
    "retry": RetrySettings,
    "circuit_breaker": BreakerSettings,
    "rate_limit": RateLimitSettings,
}

Layer = dict[str, dict[str, Any]]


@dataclass(frozen=True, eq=False)  # identity hash: resolve() results are cached per settings object
class PolicySettings:
    top: Layer = field(default_factory=dict)
    providers: Mapping[str, Layer] = field(default_factory=dict)
    models: Mapping[str, Layer] = field(default_factory=dict)
    env: Layer = field(default_factory=dict)
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        """Whether any policy is configured anywhere: when not, the instrumentation skips the chain."""
        layers = [self.top, self.env, *self.providers.values(), *self.models.values()]
        return bool(self.fallbacks) or any(_merge(layer).enabled for layer in layers if layer)

    @property
    def retry_configured(self) -> bool:
        """Whether retry is on anywhere (any provider or model): else no call needs its SDK retries off."""
        layers = [self.top, self.env, *self.providers.values(), *self.models.values()]
        return any(_merge(layer).retry.enabled for layer in layers if layer)

    def resolve(self, provider: str, model: str | None) -> PolicySet:
        return _resolve(self, provider, model or "")


@lru_cache(maxsize=1024)
def _resolve(settings: PolicySettings, provider: str, model: str) -> PolicySet:
    return _merge(
        settings.top, settings.providers.get(provider, {}), settings.models.get(model, {}), settings.env
    )


def _merge(*layers: Layer) -> PolicySet:
    sections: dict[str, dict[str, Any]] = {name: {} for name in SCHEMA}
    for layer in layers:
        for section, values in layer.items():
            sections[section].update(values)
    return PolicySet(**{name: _SETTINGS_CLASSES[name](**values) for name, values in sections.items()})


# ---------------------------------------------------------------- loading


def load(environ: Mapping[str, str] | None = None) -> PolicySettings:
    """The policy settings for this environment; parsed (and any problem reported) once per environment."""
    env = os.environ if environ is None else environ
    relevant = tuple(sorted((k, v) for k, v in env.items() if k.startswith(ENV_PREFIX)))
    return _load(relevant)


@lru_cache(maxsize=8)
def _load(relevant: tuple[tuple[str, str], ...]) -> PolicySettings:
    env = dict(relevant)
    top: Layer = {}
    providers: dict[str, Layer] = {}
    models: dict[str, Layer] = {}
    fallbacks: dict[str, tuple[str, ...]] = {}
    path = env.get(POLICY_FILE, "").strip()
    if path:
        document = _read_file(path)
        if document is not None:
            _read_document(document, f"policy file {path}", top, providers, models, fallbacks)
    env_layer: Layer = {}
    for section, fields in SCHEMA.items():
        for key, spec in fields.items():
            variable = f"{ENV_PREFIX}{section.upper()}_{key.upper()}"
            if variable in env and env[variable].strip():
                _store(env_layer, section, key, spec, env[variable], variable)
    if FALLBACK_MODELS in env and env[FALLBACK_MODELS].strip():
        fallbacks.update(parse_fallbacks(env[FALLBACK_MODELS], FALLBACK_MODELS))
    return PolicySettings(top, providers, models, env_layer, fallbacks)


def _read_file(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        report_invalid(POLICY_FILE, path, f"a readable TOML file ({exc.strerror})", "no policy file")
    except tomllib.TOMLDecodeError as exc:
        report_invalid(POLICY_FILE, path, f"valid TOML ({exc})", "no policy file")
    return None


def _read_document(
    document: Mapping[str, Any],
    where: str,
    top: Layer,
    providers: dict[str, Layer],
    models: dict[str, Layer],
    fallbacks: dict[str, tuple[str, ...]],
) -> None:
    for name, value in document.items():
        if name in SCHEMA:
            _read_section(top, name, value, f"{where}: [{name}]")
        elif name == "fallback":
            _read_fallback(value, f"{where}: [fallback]", fallbacks)
        elif name in ("providers", "models") and isinstance(value, dict):
            target = providers if name == "providers" else models
            for scope, sections in value.items():
                layer = target.setdefault(scope, {})
                _read_scoped(layer, sections, f'{where}: [{name}."{scope}"]')
        else:
            report_invalid(
                f"{where}: [{name}]",
                _short(value),
                "one of the sections " + ", ".join([*SCHEMA, "fallback", "providers", "models"]),
                "ignored",
            )


def _read_scoped(layer: Layer, sections: Any, where: str) -> None:
    if not isinstance(sections, dict):
        report_invalid(where, _short(sections), "a table of policy sections", "ignored")
        return
    for name, values in sections.items():
        if name in SCHEMA:
            _read_section(layer, name, values, f"{where[:-1]}.{name}]")
        else:
            report_invalid(f"{where[:-1]}.{name}]", _short(values), "one of " + ", ".join(SCHEMA), "ignored")


def _read_section(layer: Layer, section: str, values: Any, where: str) -> None:
    if not isinstance(values, dict):
        report_invalid(where, _short(values), "a table of settings", "ignored")
        return
    fields = SCHEMA[section]
    for key, raw in values.items():
        spec = fields.get(key)
        if spec is None:
            report_invalid(f"{where} {key}", _short(raw), "one of the keys " + ", ".join(fields), "ignored")
            continue
        _store(layer, section, key, spec, raw, f"{where} {key}")


def _store(layer: Layer, section: str, key: str, spec: _Field, raw: Any, where: str) -> None:
    try:
        layer.setdefault(section, {})[key] = spec.coerce(raw)
    except (ValueError, TypeError):
        default = getattr(_SETTINGS_CLASSES[section](), key)
        report_invalid(where, _short(raw), spec.accepted, default)


def _read_fallback(value: Any, where: str, fallbacks: dict[str, tuple[str, ...]]) -> None:
    chains = value.get("models") if isinstance(value, dict) else None
    if isinstance(chains, str):
        chains = [chains]
    if not isinstance(chains, list) or not all(isinstance(chain, str) for chain in chains):
        report_invalid(f"{where} models", _short(value), 'a list of chains like "gpt-4o>gpt-4o-mini"', "none")
        return
    for chain in chains:
        fallbacks.update(parse_fallbacks(chain, f"{where} models"))


def parse_fallbacks(raw: str, where: str) -> dict[str, tuple[str, ...]]:
    """``a>b>c, x>y`` -> {a: (b, c), b: (c,), x: (y,)}: every model falls back to those after it."""
    result: dict[str, tuple[str, ...]] = {}
    for chain in raw.split(","):
        models = [model.strip() for model in chain.split(">")]
        if len(models) < 2 or not all(models) or len(set(models)) != len(models):
            report_invalid(
                where,
                chain.strip(),
                'chains of two or more different models like "gpt-4o>gpt-4o-mini"',
                "none",
            )
            continue
        for index, model in enumerate(models[:-1]):
            result.setdefault(model, tuple(models[index + 1 :]))
    return result


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
