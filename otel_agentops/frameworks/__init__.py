"""Agent frameworks and tool protocols, instrumented zero-code into agent-level spans.

Each module is one entry point: `mcp` (tool calls through the MCP client) and `langchain` (LangChain /
LangGraph runs). They make `invoke_agent` / `execute_tool` / `invoke_workflow` spans through
`otel_agentops.agents.spans` only, and never spans for model calls: those belong to the provider
instrumentations (`otel_agentops.providers`), so each model call stays exactly one LLM span.
"""
