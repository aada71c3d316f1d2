"""Resilience policies around the real SDK call: retry > circuit breaker > rate limit, then fallback models.

All off unless configured (see `otel_agentops.config.policies`); each writes span events, attributes and
metrics on the LLM span of the call it acts on.
"""
