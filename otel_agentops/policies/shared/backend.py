"""One Redis server as seen from this process: the client, the Lua scripts, and what happens when it is down.

Every shared operation goes through `Backend.run`. When Redis cannot answer (not running, unreachable,
timing out, refusing our password, redis-py not installed), `run` raises `StateUnavailable` and the caller
does that one operation on its process-local state instead; the app never sees the error. The first
failure of an outage is logged at WARNING (URL with the password masked, and the error); every operation
done locally instead is counted in ``agentops.state.fallbacks`` (by ``agentops.state.operation``). During an
outage Redis is tried again after a back-off (1 s, doubling up to 30 s; meanwhile operations go local at
once); when it answers, the state is shared again and that is logged at INFO.

Socket timeouts are short (0.5 s, override with ``?socket_timeout=...`` in the URL) because the policies run
on the call path, and redis-py's own retries are off: the back-off above is the only retry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from opentelemetry import metrics

from otel_agentops.config.state import mask_password
from otel_agentops.genai.semconv import METRIC_STATE_FALLBACKS, STATE_OPERATION
from otel_agentops.policies import clock as _clock
from otel_agentops.version import __version__

logger = logging.getLogger("otel_agentops.policies")

CONNECT_TIMEOUT = 0.5
SOCKET_TIMEOUT = 0.5
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0

T = TypeVar("T")


class StateUnavailable(Exception):
    """Redis did not answer this operation: do it on local state (already logged and counted)."""


class _Fallbacks:
    """The ``agentops.state.fallbacks`` counter, on the meter the instrumentation was given when bound."""

    def __init__(self) -> None:
        self._counter: Any = None

    def bind(self, meter: metrics.Meter) -> None:
        self._counter = meter.create_counter(
            METRIC_STATE_FALLBACKS,
            unit="{operation}",
            description="Shared-state operations done on process-local state because Redis did not answer",
        )

    def add(self, operation: str) -> None:
        if self._counter is None:  # not bound: the global meter provider (opentelemetry-instrument's)
            self.bind(metrics.get_meter("otel_agentops", __version__))
        self._counter.add(1, {STATE_OPERATION: operation})


FALLBACKS = _Fallbacks()


class Backend:
    """The connection to one Redis URL, shared by every limiter, breaker and store of this process."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self.shown_url = mask_password(url)
        self._lock = threading.Lock()
        self._client: Any = None
        self._scripts: dict[str, Any] = {}
        self._retry_at = 0.0
        self._backoff = FIRST_BACKOFF
        self._down = False
        self._permanent: str | None = None  # redis-py is missing: no point retrying

    def key(self, kind: str, name: str, part: str) -> str:
        """``agentops:rl:{openai|gpt-4o}:requests``: the braces keep one object's keys in one cluster slot."""
        return f"{self.prefix}{kind}:{{{name}}}:{part}"

    def run(self, operation: str, action: Callable[[Any], T]) -> T:
        """`action(client)`, or StateUnavailable after logging (once per outage) and counting."""
        if self._permanent is not None or (self._down and _clock.CLOCK.monotonic() < self._retry_at):
            FALLBACKS.add(operation)
            raise StateUnavailable(operation)
        try:
            result = action(self._connect())
        except Exception as error:  # any failure of the shared path must leave the app running
            self._failed(error)
            FALLBACKS.add(operation)
            raise StateUnavailable(operation) from error
        if self._down:
            self._recovered()
        return result

    def script(
        self,
        operation: str,
        source: str,
        keys: Sequence[str],
        args: Sequence[Any],
        parse: Callable[[Any], T] | None = None,
    ) -> Any:
        """Run a Lua script atomically (EVALSHA, loading it on first use on each server); `parse` reads the
        reply inside the guard, so even a reply we did not expect means "unavailable", not an app error."""

        def action(client: Any) -> Any:
            reply = self._script(client, source)(keys=keys, args=args)
            return reply if parse is None else parse(reply)

        return self.run(operation, action)

    def _script(self, client: Any, source: str) -> Any:
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = client.register_script(source)
        return script

    def _connect(self) -> Any:
        client = self._client
        if client is None:
            with self._lock:
                client = self._client
                if client is None:
                    client = self._client = _client(self.url)
        return client

    def _failed(self, error: Exception) -> None:
        now = _clock.CLOCK.monotonic()
        with self._lock:
            first = not self._down
            self._down = True
            # Calls in flight when Redis went away fail together: one failure per attempt moves the back-off.
            if now >= self._retry_at:
                self._retry_at = now + self._backoff
                self._backoff = min(self._backoff * 2, MAX_BACKOFF)
            if isinstance(error, ImportError):
                self._permanent = str(error)
        if first:
            logger.warning(
                "otel-agentops: shared policy state at %s unavailable (%s); using this process's own state%s",
                self.shown_url,
                self._describe(error),
                "" if self._permanent else f", retrying Redis in {FIRST_BACKOFF:g} s and less often after",
            )

    def _recovered(self) -> None:
        with self._lock:
            was_down, self._down = self._down, False
            self._backoff = FIRST_BACKOFF
        if was_down:
            logger.info("otel-agentops: shared policy state at %s available again", self.shown_url)

    def _describe(self, error: Exception) -> str:
        text = f"{type(error).__name__}: {error}"
        # Belt and braces: no client error we know of echoes the password, but never print it.
        try:
            password = urlsplit(self.url).password
        except ValueError:
            password = None
        for secret in (password, unquote(password) if password else None):
            if secret:
                text = text.replace(secret, "***")
        return text


def _client(url: str) -> Any:
    try:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
    except ImportError as error:
        message = f"redis-py is not installed: pip install 'otel-agentops[redis]' ({error})"
        raise ImportError(message) from None
    # Options in the URL's query string (e.g. ?socket_timeout=2) override these.
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
    )


_backends: dict[tuple[str, str], Backend] = {}
_backends_lock = threading.Lock()


def backend(url: str, prefix: str) -> Backend:
    """One backend (connection pool, back-off, outage log) per URL and prefix in this process."""
    with _backends_lock:
        found = _backends.get((url, prefix))
        if found is None:
            found = _backends[url, prefix] = Backend(url, prefix)
        return found
