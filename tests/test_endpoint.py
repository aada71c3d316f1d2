"""Server attributes and provider name per client (``genai.endpoint``), cached without trusting id()."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx

from otel_agentops.genai.endpoint import Endpoints


class _Direct:
    def __init__(self, base_url: httpx.URL) -> None:
        self.base_url = base_url


class _OnBedrock(_Direct):
    pass


def _provider_of(client: Any, host: str | None, port: int | None) -> str:
    return "aws.bedrock" if isinstance(client, _OnBedrock) else "anthropic"


def test_the_provider_follows_the_client_class_behind_a_reused_id() -> None:
    endpoints = Endpoints(_provider_of)
    url = httpx.URL("https://llm.internal:8443/v1/")
    resource = SimpleNamespace(_client=_Direct(url))
    client, provider, attrs = endpoints(resource)
    assert (client, provider, attrs) == (
        resource._client,
        "anthropic",
        {"server.address": "llm.internal", "server.port": 8443},
    )
    # The same object, hence the same id() and base URL, now of another class: what a freed client's id
    # handed to a new one with a shared URL looks like to the cache.
    resource._client.__class__ = _OnBedrock
    assert endpoints(resource)[1] == "aws.bedrock"
    resource._client.base_url = httpx.URL("http://localhost/")
    assert endpoints(resource)[1:] == ("aws.bedrock", {"server.address": "localhost", "server.port": 80})
