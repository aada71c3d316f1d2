"""An openai app full of secrets and personal data, for the end-to-end redaction test (no telemetry code).

Reads the secrets from SECRETS_JSON so the test owns the values; talks to OPENAI_BASE_URL.
"""

from __future__ import annotations

import json
import os

import openai

secrets = json.loads(os.environ["SECRETS_JSON"])
client = openai.OpenAI(
    api_key=secrets["api_key"],
    base_url=os.environ["OPENAI_BASE_URL"],
    max_retries=0,
    default_headers={"x-api-key": secrets["header_key"], "Cookie": f"session={secrets['cookie']}"},
)
messages = [
    {"role": "system", "content": f"You are a support agent. Internal key: {secrets['anthropic_key']}."},
    {"role": "user", "content": f"What is the status of ORD-1042? Mail me at {secrets['email']}."},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "lookup_order", "arguments": json.dumps({"order_id": "ORD-1042"})},
            }
        ],
    },
    {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": json.dumps(
            {"status": "shipped", "aws_secret_access_key": secrets["aws_secret"], "card": secrets["card"]}
        ),
    },
]
client.chat.completions.create(
    model="gpt-4o-mini",
    messages=messages,
    user=secrets["email"],
    extra_headers={"Authorization": f"Bearer {secrets['bearer']}"},
)
stream = client.chat.completions.create(
    model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
)
for _chunk in stream:
    pass
