"""Agent and tool spans (`invoke_agent`, `execute_tool`) around the app's own functions."""
