"""Every environment variable (and, later, the policy file) the plugin reads, parsed and validated here.

Bad input never stops the host app: each malformed value is reported once, at WARNING level on the
``otel_agentops.config`` logger, with the variable, the value and the accepted form, and the setting
falls back to its default. One module per area; all of them use the parsers in `env`.
"""

from __future__ import annotations

from otel_agentops.config.env import (
    CAPTURE_MESSAGE_CONTENT,
    SUMMARY,
    ContentCapture,
    Settings,
    parse_bool,
    parse_content_capture,
    parse_float,
    parse_int,
    report_invalid,
)

__all__ = [
    "CAPTURE_MESSAGE_CONTENT",
    "SUMMARY",
    "ContentCapture",
    "Settings",
    "parse_bool",
    "parse_content_capture",
    "parse_float",
    "parse_int",
    "report_invalid",
]
