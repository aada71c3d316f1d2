"""What content capture and its redaction cost per call, in CPU time, measured in one process.

``run.py`` times each configuration in its own process; for a difference of some tens of µs on calls of
~900 µs, its spreads (hundreds of µs between rounds on a shared 2-core machine) leave the figure loose.
Here one process with content capture on (``span_only``), its spans exported as our configurator sets it
up (batch processor → redaction safety net → a no-op exporter), runs the same scenario in three modes,
switched between blocks of calls, in a different order in each round:

* ``off``: no content recorded (the telemetry objects' capture flags cleared): the defaults;
* ``in_call``: content redacted in the call, as otel-agentops does where a span may reach a processor
  that does not redact on export (``otel_agentops.sdk.deferred_content``);
* ``redacted``: as shipped behind our exporter: the call copies its content's containers and the export
  worker redacts and encodes a batch's content back to back.

``--floor`` swaps ``in_call`` for ``raw``: content recorded in the call as plain compact JSON, *not
redacted*, and passed over by the safety net as our own content is: what capture costs without any
redaction, a floor that exists only here (otel-agentops never records content unredacted); then
``redacted - raw`` is what redaction adds, as shipped.

Every timed block ends with a flush of the batch processor, inside its time: each block pays for its own
export, in every mode. A round's differences (``redacted - off``, ``in_call - off``, ``in_call -
redacted``) are paired within the round, so slow phases of the machine cancel; the report gives their
median over the rounds with a bootstrap 95 % interval. CPU time is the process's (all threads, the batch
worker pinned on the same CPU, as in ``run.py``).

Carry-over: a block leaves the CPU caches, the allocator and the memos in its mode's state, which the next
block starts in. The rounds go through all six orders of the three modes (``ORDERS``), chained so that
each mode follows each mode, itself included, equally often over six rounds, rounds included; and each
timed block starts after a few untimed calls in its own mode and a full garbage collection.

Scenarios: ``chat_4k`` repeats one 4 KB prompt (a system prompt or a conversation's history: redaction's
memo answers); ``chat_4k_fresh`` sends a 4 KB prompt never sent before on every call, in every mode,
untimed calls included: no prompt reaches the redactor twice (``FreshPrompts`` raises if one would).

    .venv/bin/python benchmarks/content_cost.py [--rounds 84] [--calls 100] [--floor] [--out DIR]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import itertools
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SCENARIOS = ("chat_4k_fresh", "chat_4k")
MODES = ("off", "in_call", "redacted")
# The six orders of MODES, chained so that each round starts with the mode the previous one ended with
# (the sixth ends with what the first starts with): within the rounds each mode precedes each other mode
# twice per cycle, across them each follows itself twice, so over a cycle of six rounds every mode has the
# same predecessors and first-order carry-over weighs on every mode alike.
ORDERS = (
    ("off", "in_call", "redacted"),
    ("redacted", "off", "in_call"),
    ("in_call", "redacted", "off"),
    ("off", "redacted", "in_call"),
    ("in_call", "off", "redacted"),
    ("redacted", "in_call", "off"),
)
SETTLE_CALLS = 5  # untimed calls before each timed block, in the block's mode
DIFFERENCES = {
    "capture + redaction as shipped (export worker)": ("redacted", "off"),
    "capture + redaction in the call": ("in_call", "off"),
    "saved by the export worker": ("in_call", "redacted"),
}
# With --floor, "raw" takes the place of "in_call" in MODES and ORDERS.
FLOOR_DIFFERENCES = {
    "capture + redaction as shipped (export worker)": ("redacted", "off"),
    "capture alone (unredacted floor)": ("raw", "off"),
    "redaction as shipped": ("redacted", "raw"),
}


def _switches(pipeline: Any) -> Callable[[str], None]:
    """A function that puts the instrumentation in one of ``MODES``."""
    from otel_agentops.genai.telemetry import Telemetry
    from otel_agentops.sdk import deferred_content

    # The instrumentors keep their Telemetry objects to themselves; the benchmark finds them all.
    telemetries = [o for o in gc.get_objects() if isinstance(o, Telemetry)]
    if not telemetries:
        raise RuntimeError("no otel-agentops Telemetry object: was the instrumentation set up?")
    exports_redacted = deferred_content.exports_redacted
    probe = pipeline.tracer_provider.get_tracer("content_cost").start_span("probe")
    if not exports_redacted(probe):
        raise RuntimeError("the benchmark's pipeline does not let content be redacted on export")
    probe.end()

    def never(span: Any) -> bool:
        return False

    redacted = Telemetry.content_json
    plain = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode

    def raw(self: Telemetry, value: object) -> str:
        encoded = plain(value)
        # Known to the safety net as ours, as redacted content is: it is not scanned on export either.
        self.redactor._outputs.put(encoded)
        return encoded

    def switch(mode: str) -> None:
        for telemetry in telemetries:
            telemetry.capture_on_span = telemetry.capture_content = mode != "off"
        deferred_content.exports_redacted = exports_redacted if mode in ("off", "redacted") else never
        Telemetry.content_json = raw if mode == "raw" else redacted  # type: ignore[method-assign]

    return switch


def _check_orders() -> None:
    """ORDERS is what its comment says (cheap; run at import, so an edit that breaks it fails at once)."""
    if sorted(ORDERS) != sorted(itertools.permutations(MODES)):
        raise RuntimeError("ORDERS: not the six orders of MODES")
    blocks = [mode for order in ORDERS for mode in order]
    follows = Counter(zip(blocks[-1:] + blocks[:-1], blocks, strict=True))  # cyclic: round 6 → round 1
    if set(follows.values()) != {2} or len(follows) != len(MODES) ** 2:
        raise RuntimeError(f"ORDERS: some mode follows some mode more often than others: {follows}")


_check_orders()


class FreshPrompts:
    """The 4 KB prompts of ``chat_4k_fresh``: a new one for every call of the run, from a counter that only
    goes up, whatever the mode and whether the call is timed.

    ``workload.scenario("chat_4k_fresh")`` cycles through ``FRESH_PROMPTS`` prompts, which is right for
    ``run.py``'s processes (one mode each, the cycle is longer than the memo holds) but not here: the
    prompts the blocks of other modes skipped came back in a later ``redacted`` block while the memo
    still held them from an earlier one, and such blocks timed memo hits, not redaction.

    Every prompt's digest is kept (16 bytes a call) and a repeat raises: a change that made prompts repeat
    would stop the run rather than bias it. The digest is not ``hash()``, which a ``str`` caches: the
    redactor would then hash the prompt for free.
    """

    def __init__(self) -> None:
        self._next = 0
        self._seen: set[bytes] = set()

    def take(self, n: int) -> list[list[dict[str, str]]]:
        """The ``messages`` of the next n calls."""
        import workload

        batch = []
        for _ in range(n):
            text = f"Ticket {self._next}: {workload.PROMPT_4K}"  # the same text as workload's chat_4k_fresh
            self._next += 1
            digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
            if digest in self._seen:
                raise RuntimeError(f"chat_4k_fresh: prompt {self._next - 1} was sent before")
            self._seen.add(digest)
            batch.append([{"role": "user", "content": text}])
        return batch

    @property
    def sent(self) -> int:
        return len(self._seen)


# block(n) prepares n calls (untimed) and returns what makes them (timed).
Block = Callable[[int], Callable[[], None]]


def _blocks(scenario: str) -> tuple[Block, FreshPrompts | None]:
    import workload

    if scenario != "chat_4k_fresh":
        run, _ = workload.scenario(scenario)
        return (lambda n: lambda: run(n)), None
    create = workload._openai_client(json.dumps(workload.CHAT).encode()).chat.completions.create
    prompts = FreshPrompts()

    def block(n: int) -> Callable[[], None]:
        batch = prompts.take(n)  # made before the timer starts: only the calls are timed

        def calls() -> None:
            for messages in batch:
                create(model="gpt-4o-mini", messages=messages, temperature=0.1)

        return calls

    return block, prompts


def _median_interval(values: list[float], rng: random.Random, resamples: int = 2000) -> tuple[float, float]:
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def _timed(
    block: Block, mode: str, calls: int, switch: Callable[[str], None], flush: Callable[[], Any]
) -> float:
    """CPU µs per call of one block of ``calls`` calls in ``mode``, after an untimed settling block, the
    block's spans exported before the time is read."""
    switch(mode)
    block(SETTLE_CALLS)()
    flush()
    run = block(calls)
    # Starts every block with the same (empty) young generations, whatever the previous block left.
    gc.collect()
    start = time.process_time()
    run()
    flush()
    return (time.process_time() - start) / calls * 1e6


def measure(
    scenario: str,
    rounds: int,
    calls: int,
    switch: Callable[[str], None],
    flush: Callable[[], Any],
    floor: bool = False,
) -> dict[str, Any]:
    rename = {"in_call": "raw"} if floor else {}
    modes = tuple(rename.get(mode, mode) for mode in MODES)
    block, fresh = _blocks(scenario)
    for mode in modes:  # warm-up: imports, memos, lazy SDK state
        switch(mode)
        block(calls * 3)()
    per_mode: dict[str, list[float]] = {mode: [] for mode in modes}
    for index in range(rounds):
        for slot in ORDERS[index % len(ORDERS)]:
            mode = rename.get(slot, slot)
            per_mode[mode].append(_timed(block, mode, calls, switch, flush))
    switch("redacted")
    rng = random.Random(0)
    result: dict[str, Any] = {
        "cpu_us_median": {mode: statistics.median(times) for mode, times in per_mode.items()},
        "rounds": rounds,
        "calls_per_block": calls,
        "settle_calls_per_block": SETTLE_CALLS,
    }
    if fresh is not None:
        result["distinct_prompts_sent"] = fresh.sent
    for label, (a, b) in (FLOOR_DIFFERENCES if floor else DIFFERENCES).items():
        paired = [x - y for x, y in zip(per_mode[a], per_mode[b], strict=True)]
        low, high = _median_interval(paired, rng)
        result[label] = {"median_us": statistics.median(paired), "ci95_us": [low, high]}
    return result


def render(results: dict[str, Any]) -> str:
    differences = FLOOR_DIFFERENCES if results.get("floor") else DIFFERENCES
    lines = [
        "## Content capture and redaction per call (CPU time, one process, paired rounds)",
        "",
        "| scenario | CPU µs/call, defaults | " + " | ".join(differences) + " |",
        "|---|---:|---:|---:|---:|",
    ]
    for scenario, result in results["scenarios"].items():
        cells = [f"{result['cpu_us_median']['off']:.0f}"]
        for label in differences:
            low, high = result[label]["ci95_us"]
            cells.append(f"{result[label]['median_us']:+.1f} [{low:+.1f}…{high:+.1f}]")
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    first = next(iter(results["scenarios"].values()))
    lines += [
        "",
        f"Median over {first['rounds']} rounds of {first['calls_per_block']} calls per mode (rounds in "
        f"the six orders of the modes, each block after {first['settle_calls_per_block']} untimed calls), "
        "[bootstrap 95 % interval of the median]. The modes are described in `benchmarks/content_cost.py`.",
        f"Spans: {results['spans']['spans_ended']} ended, {results['spans']['spans_dropped']} dropped by the "
        "batch processor's full queue (its worker shares the one CPU).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=84, help="a multiple of 6: the orders' cycle")
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--cpu", type=int, default=0)
    parser.add_argument("--floor", action="store_true", help="the unredacted floor in place of in_call")
    parser.add_argument("--out", type=Path, default=None, help="write content_cost.json and .md here")
    args = parser.parse_args()
    if args.rounds <= 0 or args.rounds % len(ORDERS):
        parser.error(f"--rounds must be a positive multiple of {len(ORDERS)} (carry-over balances per cycle)")

    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "span_only"
    import workload

    pipeline = workload.setup("agentops", redacting=True)
    assert pipeline is not None
    workload._pin(args.cpu)
    names = args.scenarios.split(",")
    workload.scenario(names[0])  # imports openai, which is when the instrumentation patches it
    switch = _switches(pipeline)
    flush = pipeline.batch.force_flush
    results = {
        "scenarios": {
            name: measure(name, args.rounds, args.calls, switch, flush, args.floor) for name in names
        },
        "floor": args.floor,
        "versions": workload.versions(),
    }
    done = pipeline.finish()
    results["spans"] = {key: done[key] for key in ("spans_ended", "spans_exported", "spans_dropped")}
    text = render(results)
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = "content_cost_floor" if args.floor else "content_cost"
        (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
        (args.out / f"{stem}.md").write_text(text)


if __name__ == "__main__":
    main()
