"""The agent on AWS Bedrock through boto3 (``bedrock-runtime``: Converse with toolConfig, ConverseStream).

Embeddings are not called: Bedrock serves them only through InvokeModel with a model-specific body (Titan,
Cohere), which neither the instrumentation's chat spans nor the fake provider cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from support_agent.backends.base import (
    AssistantMessage,
    HistoryItem,
    ToolCall,
    ToolResult,
    ToolSpec,
    Turn,
    UserMessage,
)

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
MAX_TOKENS = 512


class BedrockBackend:
    def __init__(self, client: Any, model: str = MODEL) -> None:
        self.client = client
        self.model = model

    def embed(self, text: str) -> None:
        """No embeddings on Bedrock's Converse API (see the module docstring): nothing to call."""

    def chat(self, system: str, history: Sequence[HistoryItem], tools: Sequence[ToolSpec]) -> Turn:
        request: dict[str, Any] = {
            "modelId": self.model,
            "system": [{"text": system}],
            "messages": _messages(history),
            "inferenceConfig": {"maxTokens": MAX_TOKENS},
        }
        if tools:
            request["toolConfig"] = {
                "tools": [
                    {
                        "toolSpec": {
                            "name": t.name,
                            "description": t.description,
                            "inputSchema": {"json": t.parameters},
                        }
                    }
                    for t in tools
                ]
            }
        content = self.client.converse(**request)["output"]["message"]["content"]
        text = "".join(block.get("text", "") for block in content)
        calls = tuple(
            ToolCall(use["toolUseId"], use["name"], dict(use.get("input") or {}))
            for use in (block["toolUse"] for block in content if "toolUse" in block)
        )
        return Turn(text, calls)

    def stream(self, prompt: str) -> str:
        response = self.client.converse_stream(
            modelId=self.model,
            messages=[{"role": "user", "content": [{"text": prompt}]}],
            inferenceConfig={"maxTokens": MAX_TOKENS},
        )
        return "".join(
            event["contentBlockDelta"]["delta"].get("text", "")
            for event in response["stream"]
            if "contentBlockDelta" in event
        )


def _messages(history: Sequence[HistoryItem]) -> list[dict[str, Any]]:
    """Converse wants tool results as user turns (consecutive results share one) and no empty blocks."""
    messages: list[dict[str, Any]] = []
    for item in history:
        if isinstance(item, UserMessage):
            messages.append({"role": "user", "content": [{"text": item.text}]})
        elif isinstance(item, AssistantMessage):
            blocks: list[dict[str, Any]] = [{"text": item.text}] if item.text else []
            blocks += [
                {"toolUse": {"toolUseId": c.id, "name": c.name, "input": c.arguments}}
                for c in item.tool_calls
            ]
            messages.append({"role": "assistant", "content": blocks})
        else:
            assert isinstance(item, ToolResult)
            block = {"toolResult": {"toolUseId": item.call_id, "content": [{"text": item.content}]}}
            previous = messages[-1] if messages else None
            if (
                previous is not None
                and previous["role"] == "user"
                and "toolResult" in previous["content"][-1]
            ):
                previous["content"].append(block)
            else:
                messages.append({"role": "user", "content": [block]})
    return messages


def create(base_url: str) -> BedrockBackend:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=base_url,
        # The embedded fake provider checks no signature; real use takes the usual AWS credential chain.
        aws_access_key_id="AKIAFAKEEXAMPLE00000",
        aws_secret_access_key="fake-secret",
        config=Config(retries={"total_max_attempts": 1}),
    )
    return BedrockBackend(client)
