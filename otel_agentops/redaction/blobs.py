"""Inline binary content (data URLs, bare base64 such as images in chat messages) shrunk to a placeholder.

A screenshot sent to a model is megabytes of base64 that no one reads in a trace; the placeholder keeps
what matters, the media type and the size: ``[image/png base64 12345 bytes]``.
"""

from __future__ import annotations

import base64
import binascii
import re

# Patterns run on the scan view (see ``scan``).
_DATA_URL = re.compile(
    rb"data:(?P<mime>[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+)?(?:;[A-Za-z0-9.+=-]+)*?;base64,(?P<body>[A-Za-z0-9+/_-]+=*)"
)
BARE_MIN_LENGTH = 256
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]*")
_BLANK_REACH = BARE_MIN_LENGTH // 2
# Bytes looked for as ints: ``int in bytes`` is a memchr, where ``bytes in bytes`` first fails (and
# formats a TypeError) trying to read its argument as an int.
_BLANK = ord(" ")
_SEMICOLON = ord(";")
# Base64 of binary data holds a "/" or "+" every 32 characters on average (a run of 256 without one has
# odds of 3 in 10,000), and most text has few of them: looking for those two bytes (a memchr each)
# finds the runs without scanning text for base64 characters, which would cost ~40 µs per 4 KB.
_BASE64_MARKERS = (b"/", b"+")

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)

Blob = tuple[int, int, str]
"""start, end and the placeholder that replaces text[start:end]."""


def _decoded_size(body: str) -> int:
    return len(body.rstrip("=")) * 3 // 4


def _sniff(body: str) -> str | None:
    try:
        head = base64.b64decode(body[:16], validate=False)
    except (binascii.Error, ValueError):
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _MAGIC if head.startswith(magic)), None)


def placeholder(mime: str | None, body: str) -> str:
    size = _decoded_size(body)
    return f"[{mime} base64 {size} bytes]" if mime else f"[base64 {size} bytes]"


def _data_urls(text: str, view: bytes) -> list[Blob]:
    blobs = []
    for match in _DATA_URL.finditer(view):
        mime = text[match.start("mime") : match.end("mime")] if match.start("mime") >= 0 else None
        blobs.append((match.start(), match.end(), placeholder(mime, text[match.start("body") : match.end()])))
    return blobs


def _bare_run_around(view: bytes, at: int) -> tuple[int, int] | None:
    # A long enough run extends half its minimum length on one side at least; prose and URLs have
    # blanks on both sides, which two memchr calls tell before the run itself is read.
    if _BLANK in view[max(0, at - _BLANK_REACH) : at] and _BLANK in view[at : at + _BLANK_REACH]:
        return None
    back = _BASE64_RUN.match(view[max(0, at - BARE_MIN_LENGTH * 4) : at][::-1])
    ahead = _BASE64_RUN.match(view, at)
    start = at - (back.end() if back else 0)
    end = ahead.end() if ahead else at
    while end < len(view) and view[end] == 61:  # "=" padding
        end += 1
    return (start, end) if end - start >= BARE_MIN_LENGTH else None


def _bare_runs(text: str, view: bytes) -> list[Blob]:
    spans: list[tuple[int, int]] = []
    for marker in _BASE64_MARKERS:
        at = view.find(marker)
        while at >= 0:
            inside = next((end for start, end in spans if start <= at < end), None)
            if inside is not None:
                at = view.find(marker, inside)
                continue
            run = _bare_run_around(view, at)
            if run is not None:
                spans.append(run)
            at = view.find(marker, run[1] if run else at + 1)
    return [(start, end, placeholder(_sniff(text[start:end]), text[start:end])) for start, end in spans]


def find_blobs(text: str, view: bytes) -> list[Blob]:
    blobs = _data_urls(text, view) if _SEMICOLON in view else []
    if len(view) >= BARE_MIN_LENGTH:
        blobs.extend(_bare_runs(text, view))
    return blobs
