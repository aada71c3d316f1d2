"""Where shared policy state lives: ``OTEL_AGENTOPS_STATE_URL`` (a Redis server) and its key prefix.

    OTEL_AGENTOPS_STATE_URL=redis://[[user]:password@]host[:port][/db]   # or rediss:// (TLS)
    OTEL_AGENTOPS_STATE_PREFIX=agentops:                                  # the default

Unset: every process keeps its own state. A malformed URL is reported once (variable, value with the
password masked, accepted form) and the process runs on local state. Query parameters are handed to
redis-py (e.g. ``?socket_timeout=2``) and override our short defaults.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from otel_agentops.config.env import report_invalid

STATE_URL = "OTEL_AGENTOPS_STATE_URL"
STATE_PREFIX = "OTEL_AGENTOPS_STATE_PREFIX"
DEFAULT_PREFIX = "agentops:"
ACCEPTED_URL = "redis://[[user]:password@]host[:port][/db] or rediss://... (TLS)"
LOCAL = "local state (this process only)"

_SCHEMES = frozenset({"redis", "rediss"})
_PASSWORD_PARAMETER = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class StateSettings:
    url: str | None = None
    prefix: str = DEFAULT_PREFIX

    @property
    def shared(self) -> bool:
        return self.url is not None


def load(environ: Mapping[str, str] | None = None) -> StateSettings:
    """Parsed (and any problem reported) once per environment, like the other settings."""
    env = os.environ if environ is None else environ
    return _load(env.get(STATE_URL), env.get(STATE_PREFIX))


@lru_cache(maxsize=8)
def _load(url: str | None, prefix: str | None) -> StateSettings:
    checked = check_url(url, STATE_URL) if url is not None and url.strip() else None
    if prefix is None or not prefix.strip():
        return StateSettings(checked)
    return StateSettings(checked, prefix.strip())


def check_url(raw: str, variable: str, instead: str = LOCAL) -> str | None:
    """The URL when redis-py can use it, else None after reporting it under `variable` (password masked)
    with what is done `instead`."""
    url = raw.strip()
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when not a number in range
        valid = (
            parts.scheme in _SCHEMES
            and bool(parts.hostname)
            and (port is None or port > 0)
            and _valid_db(parts.path)
        )
    except ValueError:
        valid = False
    if not valid:
        report_invalid(variable, mask_password(url), ACCEPTED_URL, instead)
        return None
    return url


def _valid_db(path: str) -> bool:
    db = path.strip("/")
    return db == "" or db.isdigit()


def mask_password(url: str) -> str:
    """The URL to show in logs: the password (if any) replaced by ``***``."""
    url = _PASSWORD_PARAMETER.sub(r"\1***", url)  # redis-py also reads ?password=...
    head, at, host = url.rpartition("@")
    scheme, sep, userinfo = head.partition("://")
    if not at or not sep or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"
