"""Bedrock test helpers: real boto3 clients on the fake provider, the four APIs, expected attributes."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config
from genai_prices import Usage, calc_price

from otel_agentops.fake_provider import FakeProvider
from otel_agentops.genai import semconv

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"  # priced by genai-prices as provider "aws"
# What Anthropic's body on Bedrock names as the model (InvokeModel only; Converse reports no model).
ANTHROPIC_MODEL = "claude-3-5-haiku-20241022"
ACCESS_KEY = "AKIAFAKEBEDROCKTEST1"
SECRET_KEY = "fake-secret-key-do-not-leak"
PROMPT = "Where is order ORD-1042?"
APIS = ["converse", "converse_stream", "invoke_model", "invoke_model_with_response_stream"]
STREAMING = {"converse_stream", "invoke_model_with_response_stream"}
INVOKE = {"invoke_model", "invoke_model_with_response_stream"}
ANTHROPIC_VERSION = "bedrock-2023-05-31"
TOOL_SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}}
TOOL_NAMES = ("lookup_order", "search_docs")


def client(fake: FakeProvider, service: str = "bedrock-runtime", **retries: Any) -> Any:
    """A real boto3 client. botocore's own retries are off unless `retries` says otherwise (``max_attempts``
    counts retries in botocore's default legacy mode, so ``total_max_attempts`` is used)."""
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=fake.bedrock_endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries=retries or {"total_max_attempts": 1}),
    )


def anthropic_body(max_tokens: int = 256, tools: bool = False, **extra: Any) -> str:
    body: dict[str, Any] = {
        "anthropic_version": ANTHROPIC_VERSION,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": PROMPT}],
        **extra,
    }
    if tools:
        body["tools"] = [
            {"name": name, "description": f"{name} tool", "input_schema": TOOL_SCHEMA} for name in TOOL_NAMES
        ]
    return json.dumps(body)


def converse_kwargs(max_tokens: int = 256, tools: bool = False, **extra: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "messages": [{"role": "user", "content": [{"text": PROMPT}]}],
        "inferenceConfig": {"maxTokens": max_tokens},
        **extra,
    }
    if tools:
        kwargs["toolConfig"] = {
            "tools": [
                {
                    "toolSpec": {
                        "name": name,
                        "description": f"{name} tool",
                        "inputSchema": {"json": TOOL_SCHEMA},
                    }
                }
                for name in TOOL_NAMES
            ]
        }
    return kwargs


def request(api: str, max_tokens: int = 256, tools: bool = False) -> dict[str, Any]:
    """Keyword arguments for `api` asking the same question."""
    if api in INVOKE:
        return {"body": anthropic_body(max_tokens, tools)}
    return converse_kwargs(max_tokens, tools)


def call(llm: Any, api: str, model: str = MODEL, max_tokens: int = 256, tools: bool = False) -> Any:
    return getattr(llm, api)(modelId=model, **request(api, max_tokens, tools))


def stream_of(api: str, response: dict[str, Any]) -> Any:
    return response["body" if api in INVOKE else "stream"]


def invoke_events(stream: Any) -> list[dict[str, Any]]:
    return [json.loads(event["chunk"]["bytes"]) for event in stream]


def text_of(api: str, response: dict[str, Any]) -> str:
    """The answer's text, read the way an app reads it (this drains a stream)."""
    if api == "converse":
        return "".join(b.get("text", "") for b in response["output"]["message"]["content"])
    if api == "converse_stream":
        return "".join(
            e["contentBlockDelta"]["delta"].get("text", "")
            for e in response["stream"]
            if "contentBlockDelta" in e
        )
    if api == "invoke_model":
        body = json.loads(response["body"].read())
        return "".join(b.get("text", "") for b in body["content"])
    return "".join(
        e["delta"].get("text", "")
        for e in invoke_events(response["body"])
        if e["type"] == "content_block_delta"
    )


def base_attributes(
    fake: FakeProvider, api: str, model: str = MODEL, max_tokens: int = 256
) -> dict[str, Any]:
    attributes = {
        semconv.OPERATION_NAME: "chat",
        semconv.PROVIDER_NAME: "aws.bedrock",
        semconv.REQUEST_MODEL: model,
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.SERVER_PORT: fake.port,
        semconv.REQUEST_MAX_TOKENS: max_tokens,
    }
    if api in STREAMING:
        attributes[semconv.REQUEST_STREAM] = True
    return attributes


def pop_base(
    attributes: dict[str, Any], fake: FakeProvider, api: str, model: str = MODEL, max_tokens: int = 256
) -> None:
    for key, value in base_attributes(fake, api, model, max_tokens).items():
        assert attributes.pop(key) == value, key


def response_model(api: str, model: str = MODEL) -> str:
    """Anthropic's bodies name their model; Converse replies do not, so the model id that answered stands."""
    return ANTHROPIC_MODEL if api in INVOKE else model


def pop_response(attributes: dict[str, Any], api: str) -> None:
    """The response model; InvokeModel answers also carry Anthropic's message id."""
    assert attributes.pop(semconv.RESPONSE_MODEL) == response_model(api)
    if api in INVOKE:
        assert attributes.pop(semconv.RESPONSE_ID).startswith("msg_fake")
    if api in STREAMING:
        ttfc = attributes.pop(semconv.RESPONSE_TIME_TO_FIRST_CHUNK)
        assert isinstance(ttfc, float)
        assert ttfc > 0


def price(
    total_input: int, output: int, cache_read: int = 0, cache_write: int = 0, model: str = MODEL
) -> float:
    """genai-prices' own price (provider "aws"), the reference: input tokens are the whole prompt."""
    usage = Usage(
        input_tokens=total_input,
        output_tokens=output,
        cache_read_tokens=cache_read or None,
        cache_write_tokens=cache_write or None,
    )
    return float(calc_price(usage, model, provider_id="aws").total_price)
