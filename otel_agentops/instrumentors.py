"""The instrumentors this package registers, by entry-point name (group `opentelemetry_instrumentor`).

The same names as in pyproject.toml (a test keeps them equal), so OTEL_PYTHON_DISABLED_INSTRUMENTATIONS
means the same for `otel_agentops.instrument()` as for `opentelemetry-instrument`.
"""

from __future__ import annotations

import importlib
from typing import Any

INSTRUMENTORS: dict[str, str] = {
    "agentops_openai": "otel_agentops.providers.openai:OpenAIInstrumentor",
    "agentops_anthropic": "otel_agentops.providers.anthropic:AnthropicInstrumentor",
    "agentops_groq": "otel_agentops.providers.groq:GroqInstrumentor",
    "agentops_ollama": "otel_agentops.providers.ollama:OllamaInstrumentor",
    "agentops_google_genai": "otel_agentops.providers.google_genai:GoogleGenAIInstrumentor",
    "agentops_bedrock": "otel_agentops.providers.bedrock:BedrockInstrumentor",
    "agentops_mistral": "otel_agentops.providers.mistral:MistralInstrumentor",
    "agentops_cohere": "otel_agentops.providers.cohere:CohereInstrumentor",
    "agentops_litellm": "otel_agentops.providers.litellm:LiteLLMInstrumentor",
    "agentops_agents": "otel_agentops.agents.instrumentor:AgentFunctionsInstrumentor",
    "agentops_threads": "otel_agentops.agents.threads:ThreadContextInstrumentor",
    "agentops_mcp": "otel_agentops.frameworks.mcp:MCPInstrumentor",
    "agentops_langchain": "otel_agentops.frameworks.langchain:LangChainInstrumentor",
}


def load(name: str) -> Any:
    module, _, cls = INSTRUMENTORS[name].partition(":")
    return getattr(importlib.import_module(module), cls)
