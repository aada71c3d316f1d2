"""Zero-code agent and tool spans: functions named in environment variables are wrapped on import.

    OTEL_AGENTOPS_AGENT_FUNCTIONS=support_agent.agent:run_agent
    OTEL_AGENTOPS_TOOL_FUNCTIONS=support_agent.tools:lookup_order,support_agent.tools:get_weather=weather

Each entry is `module:qualname`, optionally `=name` for the span's agent or tool name (default: the
function's own name). The module is wrapped when it is imported (or at once if it already is), so the
app's code stays unchanged; a module that never gets imported costs nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import wrapt

from otel_agentops.agents.api import wrap
from otel_agentops.agents.spans import AGENT, TOOL
from otel_agentops.config import report_invalid
from otel_agentops.genai.failsafe import report_internal_error

AGENT_FUNCTIONS = "OTEL_AGENTOPS_AGENT_FUNCTIONS"
TOOL_FUNCTIONS = "OTEL_AGENTOPS_TOOL_FUNCTIONS"

_ENTRY = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<qualname>[A-Za-z_][\w.]*)(?:=(?P<name>[^,=]+))?$")


@dataclass(frozen=True, slots=True)
class FunctionTarget:
    operation: str
    module: str
    qualname: str
    name: str


def parse_targets(environ: Mapping[str, str]) -> list[FunctionTarget]:
    targets = []
    for variable, operation in ((AGENT_FUNCTIONS, AGENT), (TOOL_FUNCTIONS, TOOL)):
        raw = environ.get(variable, "")
        for entry in filter(None, (part.strip() for part in raw.split(","))):
            match = _ENTRY.match(entry)
            if match is None:
                report_invalid(
                    variable, entry, "module:qualname or module:qualname=name, comma-separated", "skipped"
                )
                continue
            qualname = match["qualname"]
            name = (match["name"] or qualname.rpartition(".")[2]).strip()
            targets.append(FunctionTarget(operation, match["module"], qualname, name))
    return targets


def install(environ: Mapping[str, str] | None = None) -> list[Callable[[], None]]:
    """Register the import hooks; returns the undo functions for the ones applied so far."""
    undo: list[Callable[[], None]] = []
    for target in parse_targets(os.environ if environ is None else environ):
        wrapt.register_post_import_hook(_hook(target, undo), target.module)
    return undo


def _hook(target: FunctionTarget, undo: list[Callable[[], None]]) -> Any:
    def on_import(module: Any) -> None:
        try:
            parent_path, _, attribute = target.qualname.rpartition(".")
            parent: Any = module
            for part in filter(None, parent_path.split(".")):
                parent = getattr(parent, part)
            original = getattr(parent, attribute)
        except AttributeError:
            report_invalid(
                AGENT_FUNCTIONS if target.operation == AGENT else TOOL_FUNCTIONS,
                f"{target.module}:{target.qualname}",
                f"a function that exists in module {target.module}",
                "skipped",
            )
            return
        try:
            setattr(parent, attribute, wrap(target.operation, target.name, original))
            undo.append(lambda: setattr(parent, attribute, original))
        except Exception as exc:
            report_internal_error(f"wrapping {target.module}:{target.qualname}", exc)

    return on_import
