"""The tail sampler's decisions on deterministic traces: exactly which traces are kept, and why."""

from __future__ import annotations

import multiprocessing
import threading

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from support.tail_sampling_harness import SECOND, T0, harness, trace_id_at, wait_until

from otel_agentops.config.sampling import SamplingSettings

RULES = SamplingSettings(slow=2.0, cost=0.05)
NORMAL = (0.05, 0.15, 0.35, 0.55, 0.75, 0.95)


def build_trace_set(h) -> dict[str, int]:
    """Every rule once, on trace ids the ratio would never keep (0.9+), plus normal traces."""
    traces = {
        "error": h.trace(0.99, error=True),
        "slow": h.trace(0.98, seconds=3.0),
        "slow-edge": h.trace(0.97, seconds=2.0),
        "costly": h.trace(0.96, costs=(0.03, 0.03)),
        "cheap": h.trace(0.965, costs=(0.02, 0.02)),
    }
    for fraction in NORMAL:
        traces[f"normal-{fraction}"] = h.trace(fraction)
    return traces


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.5, 1.0])
def test_exactly_the_expected_traces_are_kept(ratio):
    with harness(SamplingSettings(ratio=ratio, slow=2.0, cost=0.05)) as h:
        traces = build_trace_set(h)
        expected = {"error", "slow", "slow-edge", "costly"}
        expected |= {f"normal-{f}" for f in NORMAL if f < ratio}
        if ratio == 1.0:
            expected.add("cheap")
        assert h.kept() == {traces[name] for name in expected}
        # Whole traces go on: root and both children of each kept trace.
        assert len(h.exported()) == 3 * len(expected)


def test_reasons_on_the_kept_roots_and_in_the_decision_counter():
    with harness(SamplingSettings(ratio=0.5, slow=2.0, cost=0.05)) as h:
        traces = build_trace_set(h)
        reasons = {
            span.context.trace_id: span.attributes.get("agentops.sampling.reason")
            for span in h.exported()
            if span.parent is None
        }
        assert reasons == {
            traces["error"]: "error",
            traces["slow"]: "slow",
            traces["slow-edge"]: "slow",
            traces["costly"]: "cost",
            traces["normal-0.05"]: "ratio",
            traces["normal-0.15"]: "ratio",
            traces["normal-0.35"]: "ratio",
        }
        # Only the root carries it, and only on the copy handed to the exporter.
        assert not any("agentops.sampling.reason" in s.attributes for s in h.exported() if s.parent)
        assert not any("agentops.sampling.reason" in s.attributes for s in h.originals.get_finished_spans())
        assert h.decisions() == {
            ("kept", "error", "root_ended"): 1,
            ("kept", "slow", "root_ended"): 2,
            ("kept", "cost", "root_ended"): 1,
            ("kept", "ratio", "root_ended"): 3,
            ("dropped", "ratio", "root_ended"): 4,  # cheap, 0.55, 0.75, 0.95
        }


def test_the_copy_of_the_root_keeps_everything_else():
    with harness(SamplingSettings(slow=0)) as h:
        root = h.root(0.5)
        root.set_attribute("gen_ai.agent.name", "support")
        root.add_event("step", {"n": 1})
        root.end(end_time=T0 + SECOND)
        [original] = h.originals.get_finished_spans()
        [exported] = h.exported()
        assert exported.attributes == {**original.attributes, "agentops.sampling.reason": "slow"}
        for field in ("name", "context", "parent", "kind", "status", "start_time", "end_time", "resource"):
            assert getattr(exported, field) == getattr(original, field), field
        assert exported.events == original.events
        assert exported.instrumentation_scope == original.instrumentation_scope
        assert exported.dropped_attributes == original.dropped_attributes


def test_keep_errors_off():
    with harness(SamplingSettings(ratio=0.0, keep_errors=False)) as h:
        h.trace(0.5, error=True)
        assert h.kept() == set()
        assert h.decisions() == {("dropped", "ratio", "root_ended"): 1}


def test_slow_and_cost_thresholds_of_zero_keep_everything():
    for settings in (SamplingSettings(ratio=0.0, slow=0.0), SamplingSettings(ratio=0.0, cost=0.0)):
        with harness(settings) as h:
            ids = {h.trace(fraction) for fraction in NORMAL}
            assert h.kept() == ids


def test_ratio_agrees_with_the_sdk_head_sampler():
    """Composed with OTEL_TRACES_SAMPLER=traceidratio the two pick the same traces (same trace-id bits)."""
    with harness(SamplingSettings(ratio=0.25), head_sampler=TraceIdRatioBased(0.5)) as h:
        ids = {fraction: h.trace(fraction) for fraction in NORMAL}
        failed_but_not_head_sampled = h.trace(0.9, error=True)
        assert h.kept() == {ids[0.05], ids[0.15]}
        # The tail sampler only sees what the head sampler recorded.
        assert failed_but_not_head_sampled not in h.kept()
        assert sum(h.decisions().values()) == 3 + 0  # 0.05, 0.15, 0.35 were head-sampled


def test_late_spans_follow_the_decision():
    with harness(SamplingSettings(ratio=0.5)) as h:
        kept_root = h.root(0.1)
        dropped_root = h.root(0.9)
        h.child(kept_root, "early")
        kept_root.end(end_time=T0 + SECOND)
        dropped_root.end(end_time=T0 + SECOND)
        # Children that end after their root (fire-and-forget work) arrive after the decision.
        h.child(kept_root, "late", start=T0 + 2 * SECOND)
        h.child(dropped_root, "late", start=T0 + 2 * SECOND)
        exported = h.exported()
        assert [(s.name, s.context.trace_id) for s in exported] == [
            ("early", trace_id_at(0.1)),
            ("root", trace_id_at(0.1)),
            ("late", trace_id_at(0.1)),
        ]
        assert h.sampler.buffered_spans == 0
        assert sum(h.decisions().values()) == 2


def test_a_trace_whose_root_does_not_end_is_decided_after_the_decision_wait():
    with harness(SamplingSettings(ratio=0.0, slow=2.0, decision_wait=0.05)) as h:
        stuck = h.root(0.5)
        h.child(stuck, "first", start=T0, seconds=0.5)
        h.child(stuck, "second", start=T0 + 2 * SECOND, seconds=0.5)  # the spans seen span 2.5 s
        quick = h.root(0.6)
        h.child(quick, "only")
        assert wait_until(lambda: h.sampler.pending_traces == 0)
        assert [s.name for s in h.exported()] == ["first", "second"]
        assert h.decisions() == {
            ("kept", "slow", "decision_wait"): 1,
            ("dropped", "ratio", "decision_wait"): 1,
        }
        # The root ends at last: a late span of a kept trace, and it still carries the reason.
        stuck.end(end_time=T0 + 3 * SECOND)
        quick.end(end_time=T0 + SECOND)
        exported = h.exported()
        assert [s.name for s in exported] == ["first", "second", "root"]
        assert exported[-1].attributes["agentops.sampling.reason"] == "slow"


def test_overflow_of_traces_decides_the_oldest_early():
    with harness(SamplingSettings(ratio=0.0, max_traces=2)) as h:
        failing, normal, third = h.root(0.5), h.root(0.6), h.root(0.7)
        h.child(failing, "failed", error=True)
        h.child(normal, "ok")
        assert h.sampler.pending_traces == 2
        h.child(third, "ok")  # a third trace: the oldest (failing) is decided now, and kept
        assert h.sampler.pending_traces == 2
        assert h.decisions() == {("kept", "error", "overflow"): 1}
        for root in (failing, normal, third):
            root.end(end_time=T0 + SECOND)
        assert [(s.name, s.context.trace_id) for s in h.exported()] == [
            ("failed", trace_id_at(0.5)),
            ("root", trace_id_at(0.5)),  # late, following the overflow decision
        ]
        assert h.decisions() == {
            ("kept", "error", "overflow"): 1,
            ("dropped", "ratio", "root_ended"): 2,
        }


def test_overflow_of_spans_bounds_even_one_huge_trace():
    with harness(SamplingSettings(ratio=1.0, max_spans=5)) as h:
        root = h.root(0.5)
        for index in range(12):
            h.child(root, f"step-{index}")
            assert h.sampler.buffered_spans <= 5
            h.flush()  # the queue to the next processor is bounded by max_spans as well: let it drain
        root.end(end_time=T0 + SECOND)
        assert [s.name for s in h.exported()] == [f"step-{i}" for i in range(12)] + ["root"]
        # Decided with the 6th span; the later spans and the root followed the decision.
        assert h.decisions() == {("kept", "ratio", "overflow"): 1}


def test_shutdown_decides_what_is_buffered_and_hands_it_on():
    h_ctx = harness(SamplingSettings(ratio=0.0))
    h = h_ctx.__enter__()
    failing = h.root(0.5)
    h.child(failing, "failed", error=True)
    normal = h.root(0.6)
    h.child(normal, "ok")
    h_ctx.__exit__(None, None, None)  # provider.shutdown()
    assert [s.name for s in h.exporter.get_finished_spans()] == ["failed"]
    assert h.decisions() == {("kept", "error", "shutdown"): 1, ("dropped", "ratio", "shutdown"): 1}
    assert h.sampler.pending_traces == 0


def test_spans_the_head_sampler_did_not_sample_are_ignored():
    with harness(SamplingSettings(ratio=1.0), head_sampler=TraceIdRatioBased(0.0)) as h:
        h.trace(0.5, error=True)
        assert h.kept() == set()
        assert h.sampler.buffered_spans == 0


class Blocking(SpanProcessor):
    """A next processor that hangs until released, like a synchronous export to a dead backend."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.received: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.entered.set()
        self.release.wait()
        self.received.append(span)


def test_the_callers_thread_never_waits_for_the_next_processor():
    blocking = Blocking()
    with harness(SamplingSettings(ratio=1.0, max_spans=100), downstream=blocking) as h:
        h.trace(0.5)
        assert blocking.entered.wait(5)  # the worker is now stuck in the next processor
        # The app carries on: 1000 more traces end while nothing is handed on.
        for _ in range(1000):
            h.trace(0.5)
        assert len(blocking.received) == 0
        assert h.sampler.buffered_spans == 0
        # The queue to the stuck processor is bounded too: what did not fit is counted as dropped.
        dropped = h.metric_total("agentops.export.dropped_spans")["queue_full"]
        assert dropped >= 3 * 1000 - 2 * 100
        blocking.release.set()
        h.flush()
        assert len(blocking.received) + dropped == 3 * 1001


def _child_run(sampler_harness, connection) -> None:
    # In the forked child: the lock held by a parent thread at fork time must not block, the parent's
    # buffered trace must not be exported twice, and a new trace goes through the child's own worker.
    h = sampler_harness
    assert h.sampler.pending_traces == 0
    h.trace(0.1)
    connection.send(sorted(s.name for s in h.exported()))
    connection.close()


def test_after_fork_the_child_has_its_own_lock_buffer_and_worker():
    with harness(SamplingSettings(ratio=1.0)) as h:
        parent_root = h.root(0.2)
        h.child(parent_root, "parent-child")  # buffered in the parent at fork time
        holding = threading.Event()
        release = threading.Event()

        def hold_the_lock() -> None:
            with h.sampler._lock:
                holding.set()
                release.wait()

        holder = threading.Thread(target=hold_the_lock)
        holder.start()
        assert holding.wait(5)
        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_child_run, args=(h, sender))
        child.start()
        release.set()
        holder.join()
        assert receiver.poll(20), "the child hung"
        assert receiver.recv() == ["child-0", "child-1", "root"]
        child.join(10)
        assert child.exitcode == 0
        # The parent still owns its buffered trace.
        parent_root.end(end_time=T0 + SECOND)
        assert [s.name for s in h.exported()] == ["parent-child", "root"]
