"""Fork safety for the span pipeline's processors (gunicorn ``--preload``, multiprocessing's fork method).

``os.fork`` copies a process with only the forking thread: locks another thread held stay locked, worker
threads are gone, sockets are shared with the parent. Each processor re-creates what it needs in the
child (`register_fork_hooks`). A process that forks from a multiprocessing worker then leaves through
``os._exit``, which skips atexit and with it the TracerProvider's shutdown, so whatever the child
buffered would be lost; `shutdown_when_worker_exits` has multiprocessing's own exit finalizers shut the
processor down (deciding, flushing) instead. Other forked children (gunicorn workers) exit normally and
atexit does it.
"""

from __future__ import annotations

import functools
import os
import sys
import weakref
from collections.abc import Callable

from opentelemetry.sdk.trace import SpanProcessor

# multiprocessing runs exit finalizers highest priority first: the tail sampler hands its decided spans
# to the batch processor, so it must shut down before the batch processor does.
TAIL_SAMPLER_EXIT_PRIORITY = 20
BATCH_PROCESSOR_EXIT_PRIORITY = 10


def register_fork_hooks(
    *,
    before: Callable[[], None] | None = None,
    after_in_parent: Callable[[], None] | None = None,
    after_in_child: Callable[[], None] | None = None,
) -> None:
    """``os.register_at_fork`` for bound methods, held weakly.

    A fork hook can never be unregistered, and must not keep a discarded processor alive.
    """
    if not hasattr(os, "register_at_fork"):
        return
    hooks = {
        name: _weakly(method)
        for name, method in (
            ("before", before),
            ("after_in_parent", after_in_parent),
            ("after_in_child", after_in_child),
        )
        if method is not None
    }
    os.register_at_fork(**hooks)


def _weakly(method: Callable[[], None]) -> Callable[[], None]:
    method_ref = weakref.WeakMethod(method)  # type: ignore[arg-type]

    def hook() -> None:
        if (bound := method_ref()) is not None:
            bound()

    return hook


def shutdown_when_worker_exits(processor: SpanProcessor, priority: int) -> None:
    """In a forked child: if it turns out to be a multiprocessing worker, shut ``processor`` down at its exit.

    multiprocessing clears the exit finalizers it inherited when a worker starts, after the fork hooks
    ran, then runs its after-fork callbacks; so the finalizer is registered from one of those. Looked up
    in ``sys.modules`` rather than imported: a process that never imported multiprocessing has no workers.
    """
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.register_after_fork(processor, functools.partial(_finalize_at_exit, priority=priority))


def _finalize_at_exit(processor: SpanProcessor, priority: int) -> None:
    util = sys.modules["multiprocessing.util"]
    util.Finalize(processor, processor.shutdown, exitpriority=priority)
