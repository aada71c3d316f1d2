"""Patching a client library when the app imports it, not when we are instrumented.

`opentelemetry-instrument` instruments before the app runs; importing every supported library at that moment
would load anthropic, langchain and mcp into an app that only uses openai (measured: 5.4 s start-up and
+100 MB). Each instrumentor instead registers an import hook for its library: it patches at once if the
library is already imported, otherwise right after the app's own import of it. Uninstrumenting turns a
pending hook into a no-op (wrapt's hooks cannot be unregistered) and removes the patches.
"""

from __future__ import annotations

from typing import Any, ClassVar

import wrapt

from otel_agentops.genai.failsafe import logger, report_internal_error


class PatchOnImport:
    """Mixin for our instrumentors: implement `_patch_now` / `_unpatch_now` and name the `library`."""

    library: ClassVar[str]
    _generation = 0
    _pending = False

    def _patch_now(self, **kwargs: Any) -> None:
        raise NotImplementedError

    def _unpatch_now(self, **kwargs: Any) -> None:
        raise NotImplementedError

    def _instrument(self, **kwargs: Any) -> None:
        # opentelemetry-instrument skips BaseInstrumentor's dependency check for plugins whose
        # distribution has no `instruments` extra (ours serves several libraries), so check here; it reads
        # package metadata only, without importing the library.
        conflict = self._check_dependency_conflicts()  # type: ignore[attr-defined]
        if conflict is not None:
            logger.debug("otel-agentops: %s not instrumented: %s", type(self).__name__, conflict)
            return
        self._generation += 1
        generation = self._generation
        self._pending = True

        def on_import(_module: Any) -> None:
            if self._generation != generation:
                return  # uninstrumented (or instrumented again) since this hook was registered
            self._pending = False
            try:
                self._patch_now(**kwargs)
            except Exception as exc:
                report_internal_error(f"instrumenting {self.library}", exc)

        wrapt.register_post_import_hook(on_import, self.library)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._generation += 1
        self._pending = False
        self._unpatch_now(**kwargs)

    @property
    def patched_anything(self) -> bool:
        """Patched, or waiting for the app to import the library."""
        return self._pending or bool(getattr(self, "_patched", None))
