"""A tiny boto3 Bedrock app for subprocess tests: the four model APIs on the fake provider, unchanged code.

    opentelemetry-instrument python tests/apps/bedrock_app.py

One client is created before any other boto3 work and one after, and an S3 call is made in between (not an LLM
call: no span). It prints one line of JSON, ``{"bedrock_app": {"requests": [...], "answers": [...]}}``.
"""

from __future__ import annotations

import json
import sys

import boto3
from botocore.config import Config

from otel_agentops.fake_provider import FakeProvider

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
PROMPT = "Where is order ORD-1042?"
BODY = json.dumps(
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": PROMPT}],
    }
)


def _client(service: str, endpoint_url: str) -> object:
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="AKIAFAKEAPPTEST00001",
        aws_secret_access_key="fake-app-secret",
        config=Config(retries={"total_max_attempts": 1}),
    )


def _calls(endpoint_url: str) -> list[str]:
    first = _client("bedrock-runtime", endpoint_url)
    answers = []
    reply = first.converse(
        modelId=MODEL,
        messages=[{"role": "user", "content": [{"text": PROMPT}]}],
        inferenceConfig={"maxTokens": 256},
    )
    answers.append(reply["output"]["message"]["content"][0]["text"])
    try:  # another AWS service through the same botocore: never an LLM span
        _client("s3", endpoint_url).list_buckets()
    except Exception as exc:
        answers.append(f"s3: {type(exc).__name__}")
    second = _client("bedrock-runtime", endpoint_url)
    stream = second.converse_stream(
        modelId=MODEL,
        messages=[{"role": "user", "content": [{"text": PROMPT}]}],
        inferenceConfig={"maxTokens": 256},
    )["stream"]
    answers.append(
        "".join(e["contentBlockDelta"]["delta"].get("text", "") for e in stream if "contentBlockDelta" in e)
    )
    answers.append(
        json.loads(second.invoke_model(modelId=MODEL, body=BODY)["body"].read())["content"][0]["text"]
    )
    chunks = [
        json.loads(e["chunk"]["bytes"])
        for e in first.invoke_model_with_response_stream(modelId=MODEL, body=BODY)["body"]
    ]
    answers.append("".join(c["delta"]["text"] for c in chunks if c["type"] == "content_block_delta"))
    return answers


def main() -> int:
    with FakeProvider() as fake:
        answers = _calls(fake.bedrock_endpoint_url)
        requests = [{"path": r.path, "authorization": "Authorization" in r.headers} for r in fake.requests]
    print(json.dumps({"bedrock_app": {"requests": requests, "answers": answers}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
