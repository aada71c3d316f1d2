"""What every provider instrumentor shares: patching its patch points and restoring them."""

from __future__ import annotations

import importlib
from abc import abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap

from otel_agentops.config import Settings
from otel_agentops.genai.failsafe import report_internal_error
from otel_agentops.genai.telemetry import Telemetry
from otel_agentops.genai.wrapping import Operation, async_wrapper, sync_wrapper
from otel_agentops.on_import import PatchOnImport


@dataclass(frozen=True, slots=True)
class PatchPoint:
    """`module.cls.method`; an empty `cls` names a module-level function (e.g. `litellm.completion`)."""

    module: str
    cls: str
    method: str
    operation: Operation
    is_async: bool


class ProviderInstrumentor(PatchOnImport, BaseInstrumentor):  # type: ignore[misc]
    """Subclasses list their patch points; this class applies and removes them.

    A patch point whose module, class or method does not exist in the installed SDK version is skipped
    (feature detection instead of version parsing), so one instrumentor serves several SDK majors.
    """

    _patched: list[tuple[Any, str]]

    @abstractmethod
    def patch_points(self) -> Sequence[PatchPoint]: ...

    @abstractmethod
    def instrumentation_dependencies(self) -> Collection[str]: ...

    def _patch_now(self, **kwargs: Any) -> None:
        self._patched = []
        telemetry = Telemetry(
            Settings.from_env(),
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            logger_provider=kwargs.get("logger_provider"),
        )
        for point in self.patch_points():
            owner = _resolve_class(point.module, point.cls)
            if owner is None or not hasattr(owner, point.method):
                continue
            make = async_wrapper if point.is_async else sync_wrapper
            wrapt.wrap_function_wrapper(owner, point.method, make(telemetry, point.operation))
            self._patched.append((owner, point.method))

    def _unpatch_now(self, **kwargs: Any) -> None:
        for owner, method in getattr(self, "_patched", ()):
            unwrap(owner, method)
        self._patched = []


def _resolve_class(module_name: str, qualname: str) -> Any:
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split(".") if qualname else ():
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    except Exception as exc:
        report_internal_error(f"importing {module_name}", exc)
        return None
    return obj
