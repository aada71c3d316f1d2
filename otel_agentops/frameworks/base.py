"""What every framework instrumentor shares: dependency check, agent telemetry, patching, undoing."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Collection
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap

from otel_agentops.agents.spans import AgentTelemetry
from otel_agentops.genai.failsafe import report_internal_error
from otel_agentops.on_import import PatchOnImport

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


class FrameworkInstrumentor(PatchOnImport, BaseInstrumentor):  # type: ignore[misc]
    """Subclasses patch in `_patch` through `_wrap`; this class removes every wrapper again.

    A target that does not exist in the installed framework version is skipped (feature detection instead
    of version parsing), so one instrumentor serves several majors.
    """

    telemetry: AgentTelemetry
    _patched: list[tuple[Any, str]]

    @abstractmethod
    def instrumentation_dependencies(self) -> Collection[str]: ...

    @abstractmethod
    def _patch(self) -> None: ...

    def _patch_now(self, **kwargs: Any) -> None:
        self._patched = []
        # Its own telemetry rather than the decorators' current one, so these spans use the providers
        # given here whether or not `agentops_agents` is enabled.
        self.telemetry = AgentTelemetry(kwargs.get("tracer_provider"), kwargs.get("meter_provider"))
        self._patch()

    def _unpatch_now(self, **kwargs: Any) -> None:
        for owner, attribute in reversed(getattr(self, "_patched", ())):
            unwrap(owner, attribute)
        self._patched = []

    def _wrap(self, module: str, path: str, wrapper: Wrapper) -> bool:
        """Wrap `module`'s `path` (e.g. "Class.method") if the installed version has it."""
        target = resolve(module, path)
        if target is None:
            return False
        self._wrap_attribute(target[0], target[1], wrapper)
        return True

    def _wrap_attribute(self, owner: Any, attribute: str, wrapper: Wrapper) -> None:
        wrapt.wrap_function_wrapper(owner, attribute, wrapper)
        self._patched.append((owner, attribute))


def resolve(module: str, path: str) -> tuple[Any, str, Any] | None:
    """(owner, attribute, current value) of `path` in `module`, importing it; None if either is missing."""
    try:
        return wrapt.resolve_path(module, path)  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        return None
    except Exception as exc:
        report_internal_error(f"importing {module}", exc)
        return None
