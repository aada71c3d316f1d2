"""Redaction runs on every recorded prompt: the cost of a 4 KB prompt, printed and loosely bounded.

The target is well under 50 µs for a clean 4 KB prompt never seen before (about 9 µs on the development
machine; a text seen before comes from the memo in well under 1 µs);
the bounds here are several times that so that a loaded CI machine does not fail the build, while a
pattern that starts scanning character by character (hundreds of µs) still does.
"""

from __future__ import annotations

import timeit

from otel_agentops.redaction import Redactor

_PROSE = (
    "I am writing because my order has not arrived and I would like to know what is going on with it. "
    "The tracking page says the parcel left the warehouse three days ago, but nothing has changed since. "
    "Could you please check with the courier and let me know when I can expect the delivery? "
    "I also noticed that the invoice lists a different shipping address than the one I entered. "
)
_LOOKALIKES = (
    "Order ORD-2024-000123 placed 2024-05-01T10:22:33Z for $1,234.56 (v1.2.3); model gpt-4o-mini-2024-07-18 "
    "used 1,532 tokens, trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7, "
    "id 550e8400-e29b-41d4-a716-446655440000. "
)
_SECRETS = (
    " Contact jane.doe@example.com, key sk-proj-abcDEF1234567890abcdefGHIJKLmnop, card 4111 1111 1111 1111. "
)

CLEAN = (_PROSE * 12)[:4096]
DENSE = ((_PROSE + _LOOKALIKES) * 8)[:4096]
WITH_SECRETS = (CLEAN[:1500] + _SECRETS + CLEAN[1500:])[:4096]


def _microseconds(redactor: Redactor, text: str) -> float:
    """A scan of text never seen before: distinct variants, more than the memo holds."""
    variants = [f"{i:04d} {text}"[: len(text)] for i in range(1000)]
    turn = iter(range(1 << 30))
    return (
        min(timeit.repeat(lambda: redactor.redact_text(variants[next(turn) % 1000]), number=200, repeat=5))
        / 200
        * 1e6
    )


def test_a_4kb_prompt_is_cheap() -> None:
    redactor = Redactor()
    assert redactor.redact_text(CLEAN) is CLEAN
    assert redactor.redact_text(DENSE) is DENSE
    assert "jane" not in redactor.redact_text(WITH_SECRETS)
    clean, dense, secrets = (_microseconds(redactor, text) for text in (CLEAN, DENSE, WITH_SECRETS))
    again = min(timeit.repeat(lambda: redactor.redact_text(WITH_SECRETS), number=200, repeat=5)) / 200 * 1e6
    print(f"\nredact_text, 4 KB: clean {clean:.1f} µs, dense look-alikes {dense:.1f} µs, ", end="")
    print(f"3 secrets {secrets:.1f} µs; the same text again (memo) {again:.1f} µs")
    assert clean < 150
    assert dense < 300
    assert secrets < 300
