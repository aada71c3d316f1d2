"""USD cost of a call from the offline price data of `genai-prices`.

The library's own `calc_price` costs ~70 µs a call (model lookup, Decimal maths, unit registry), more than
our whole per-call budget. Most models have flat per-token prices, so the rates are resolved through the
library once per (provider, model, day) and applied with float maths; models with tiered or otherwise
non-linear prices go through the library every time. Tests check the fast path against the library.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from time import time

from otel_agentops.genai.failsafe import report_internal_error

# gen_ai.provider.name (semantic conventions) -> genai-prices provider id, where they differ.
_PRICE_PROVIDER = {
    "azure.ai.openai": "azure",
    "aws.bedrock": "aws",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "mistral_ai": "mistral",
    "x_ai": "x-ai",
    "together_ai": "together",
}

_TOKEN_PRICE_KEYS = frozenset({"input_mtok", "cache_read_mtok", "cache_write_mtok", "output_mtok"})
_MAX_CACHED_MODELS = 4096


@dataclass(frozen=True, slots=True)
class _LinearRates:
    input: float
    cache_read: float
    cache_write: float
    output: float

    def price(self, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int) -> float:
        uncached = max(input_tokens - cache_read - cache_write, 0)
        return (
            uncached * self.input
            + cache_read * self.cache_read
            + cache_write * self.cache_write
            + output_tokens * self.output
        ) / 1_000_000


class _Unpriced:
    """Marker for a model the price data does not know (cached so the miss stays cheap)."""


_UNPRICED = _Unpriced()
_NONLINEAR = object()
_SECONDS_PER_DAY = 86_400
_rates: dict[tuple[str, str, int], object] = {}
_lock = threading.Lock()


def price_provider_id(provider_name: str) -> str:
    return _PRICE_PROVIDER.get(provider_name, provider_name)


def call_cost(
    provider_name: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
) -> float | None:
    """USD for one call, or None when the model is not priced.

    `input_tokens` is the total prompt size including cached tokens (OpenAI's convention; providers that
    report cached tokens separately add them up before calling).
    """
    # The UTC day as a number: datetime.now(timezone.utc).date() costs more than the price maths.
    key = (provider_name, model, int(time() // _SECONDS_PER_DAY))
    rates = _rates.get(key)
    if rates is None:
        rates = _resolve(provider_name, model)
        with _lock:
            if len(_rates) >= _MAX_CACHED_MODELS:
                _rates.clear()
            _rates[key] = rates
    if isinstance(rates, _LinearRates):
        return rates.price(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)
    if rates is _NONLINEAR:
        return _library_price(
            provider_name, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens
        )
    return None


def _resolve(provider_name: str, model: str) -> object:
    from genai_prices import data_snapshot  # heavy import, deferred until the first priced call

    try:
        _provider, model_info = data_snapshot.get_snapshot().find_provider_model(
            model, None, price_provider_id(provider_name), None
        )
    except LookupError:
        return _UNPRICED
    except Exception as exc:  # unknown provider id or a data problem: unpriced, never a crash
        report_internal_error("price lookup", exc)
        return _UNPRICED
    prices = model_info.get_prices(datetime.now(timezone.utc))
    values = {key: value for key, value in vars(prices).items() if key in _TOKEN_PRICE_KEYS}
    if "input_mtok" not in values and "output_mtok" not in values:
        return _UNPRICED
    if not all(isinstance(value, Decimal) for value in values.values()):
        return _NONLINEAR
    input_rate = float(values.get("input_mtok", 0))
    return _LinearRates(
        input=input_rate,
        cache_read=float(values.get("cache_read_mtok", input_rate)),
        cache_write=float(values.get("cache_write_mtok", input_rate)),
        output=float(values.get("output_mtok", 0)),
    )


def _library_price(
    provider_name: str, model: str, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int
) -> float | None:
    from genai_prices import Usage, calc_price

    usage = Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read or None,
        cache_write_tokens=cache_write or None,
    )
    try:
        return float(calc_price(usage, model, provider_id=price_provider_id(provider_name)).total_price)
    except LookupError:
        return None
