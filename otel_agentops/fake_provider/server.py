"""The loopback HTTP server: routing, recording, fault application and HTTP framing.

What a provider's replies look like lives in its wire module (`wire.WireFormat`); what the fake model says
lives in `scenario`. Per request the order is: record it, apply a fault (header fault first, else the first
matching queued one: delay, then drop or error status), else call the route, whose stream the fault may slow
down or cut.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from otel_agentops.fake_provider import anthropic as anthropic_wire
from otel_agentops.fake_provider import bedrock as bedrock_wire
from otel_agentops.fake_provider import cohere as cohere_wire
from otel_agentops.fake_provider import control
from otel_agentops.fake_provider import gemini as gemini_wire
from otel_agentops.fake_provider import mistral as mistral_wire
from otel_agentops.fake_provider import ollama as ollama_wire
from otel_agentops.fake_provider import openai as openai_wire
from otel_agentops.fake_provider.faults import FAULT_HEADER, Fault
from otel_agentops.fake_provider.matching import MatchQueue
from otel_agentops.fake_provider.recording import Headers, RecordedRequest, RequestLog
from otel_agentops.fake_provider.scenario import Reply
from otel_agentops.fake_provider.wire import Exchange, JsonReply, Route, StreamReply, WireError, WireFormat

logger = logging.getLogger(__name__)

# Groq serves OpenAI's wire format under /openai/v1/...
_GROQ_WIRE = WireFormat(
    name="groq",
    routes=tuple(Route(r.method, "/openai" + r.path, r.handler, r.header) for r in openai_wire.WIRE.routes),
    error_body=openai_wire.error_body,
)
DEFAULT_WIRE_FORMATS: tuple[WireFormat, ...] = (
    openai_wire.WIRE,
    anthropic_wire.WIRE,
    _GROQ_WIRE,
    ollama_wire.WIRE,
    gemini_wire.WIRE,
    bedrock_wire.WIRE,
    mistral_wire.WIRE,
    cohere_wire.WIRE,
)
_LOOPBACK_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1", "::1": "::1"}
_POLL_INTERVAL = 0.05
_STOP_JOIN_TIMEOUT = 5.0
# Bounds how long an idle keep-alive connection holds a handler thread.
_IDLE_CONNECTION_TIMEOUT = 120.0
_EXTRA_REASONS = {529: "Overloaded"}
# The client went away mid-answer: nothing to report, the connection is finished either way.
_CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


@dataclass(frozen=True)
class _Match:
    route: Route
    wire: WireFormat
    params: dict[str, str]


class _Router:
    def __init__(self, wire_formats: Iterable[WireFormat]) -> None:
        routes = [(route, wire) for wire in wire_formats for route in wire.routes]
        # Routes that require a header (same method and path as another provider's) are tried first.
        self._routes = sorted(routes, key=lambda item: item[0].header is None)

    def match(self, method: str, path: str, headers: Mapping[str, str] | None = None) -> _Match | None:
        for route, wire in self._routes:
            params = route.match(method, path, headers)
            if params is not None:
                return _Match(route, wire, params)
        return None


class FakeProvider:
    """A fake LLM provider on a loopback port, serving every registered wire format at once.

    Use it as a context manager (``with FakeProvider() as fp:``) or call `start` / `stop`.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, wire_formats: Sequence[WireFormat] | None = None
    ) -> None:
        if host not in _LOOPBACK_HOSTS:
            raise ValueError(
                f"the fake provider only binds loopback addresses (127.0.0.1, ::1), not {host!r}"
            )
        self._host = _LOOPBACK_HOSTS[host]
        self._requested_port = port
        self._router = _Router(DEFAULT_WIRE_FORMATS if wire_formats is None else wire_formats)
        self._log = RequestLog()
        self._faults: MatchQueue[Fault] = MatchQueue()
        self._scripts: MatchQueue[Reply] = MatchQueue()
        self._sequence_lock = threading.Lock()
        self._sequence = 0
        self._stopping = threading.Event()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> FakeProvider:
        if self._server is not None:
            raise RuntimeError("the fake provider is already running")
        self._stopping.clear()
        server = _HTTPServer((self._host, self._requested_port), self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name="fake-provider",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; in-flight delays and streams are abandoned so this returns promptly."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(_STOP_JOIN_TIMEOUT)
        self._server = self._thread = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake provider is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def groq_base_url(self) -> str:
        """The Groq SDK's `base_url` (it adds ``/openai/v1/...`` itself)."""
        return self.base_url

    @property
    def ollama_host(self) -> str:
        """The ollama client's `host` (it adds ``/api/...`` itself)."""
        return self.base_url

    @property
    def anthropic_base_url(self) -> str:
        """The Anthropic SDK's `base_url` (it adds ``/v1/...`` itself)."""
        return self.base_url

    @property
    def gemini_base_url(self) -> str:
        """google-genai's `HttpOptions(base_url=...)` (it adds ``/v1beta/models/...`` itself)."""
        return self.base_url

    @property
    def bedrock_endpoint_url(self) -> str:
        """boto3's `endpoint_url` for the ``bedrock-runtime`` client (it adds ``/model/...`` itself)."""
        return self.base_url

    @property
    def mistral_server_url(self) -> str:
        """mistralai's `server_url` (it adds ``/v1/...`` itself; served under ``/mistral``)."""
        return f"{self.base_url}/mistral"

    @property
    def cohere_base_url(self) -> str:
        """cohere's `base_url` (it adds ``/v2/...`` itself)."""
        return self.base_url

    # --- test API ----------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the provider requests received so far (control requests excluded)."""
        return self._log.snapshot()

    def request_count(self, path: str | None = None) -> int:
        return self._log.count(path)

    def add_fault(
        self, fault: Fault, times: int | None = 1, model: str | None = None, path: str | None = None
    ) -> None:
        """Apply `fault` to the next `times` requests (None: forever) for `model` / `path` (None: any)."""
        self._faults.add(fault, times=times, model=model, path=path)

    def script(
        self, reply: Reply | str, times: int | None = 1, model: str | None = None, path: str | None = None
    ) -> None:
        """Force the answer of the next `times` matching model calls; a string is a plain text reply."""
        self._scripts.add(
            Reply(text=reply) if isinstance(reply, str) else reply, times=times, model=model, path=path
        )

    def reset(self) -> None:
        """Forget recorded requests, queued faults and scripts (between tests sharing one server)."""
        self._log.clear()
        self._faults.clear()
        self._scripts.clear()

    # --- used by the request handler ---------------------------------------------------------------------

    def _next_sequence(self) -> int:
        with self._sequence_lock:
            self._sequence += 1
            return self._sequence

    def _pause(self, seconds: float) -> bool:
        """Wait `seconds`; False when the server is stopping meanwhile and the request should be abandoned."""
        return seconds <= 0 or not self._stopping.wait(seconds)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Handler threads may be parked in a delay or on an idle keep-alive socket; stop() must not wait for them.
    block_on_close = False

    def __init__(self, address: tuple[str, int], provider: FakeProvider) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.provider = provider
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, a DNS round trip that can stall in sandboxes.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        with self._connections_lock:
            self._connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads blocked on their sockets so they end with the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], _CLIENT_GONE) or self.provider._stopping.is_set():
            logger.debug("fake provider: connection from %s ended abruptly", client_address, exc_info=True)
        else:
            logger.exception("fake provider: error while handling a request from %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "otel-agentops-fake-provider"
    timeout = _IDLE_CONNECTION_TIMEOUT
    # Headers and body go out in separate writes; with Nagle on, the body waits for the client's delayed
    # ACK and every keep-alive request takes ~40 ms on loopback.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake provider: " + format, *args)

    # --- dispatch ----------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        try:
            self._respond()
        except _CLIENT_GONE:
            self.close_connection = True

    def _respond(self) -> None:
        provider = self.server.provider
        target = urlsplit(self.path)
        raw_body = self._read_body()
        if target.path.startswith(control.PREFIX):
            self._send_json(control.handle(provider, self.command, target.path, _parse_json(raw_body)))
            return
        match = provider._router.match(self.command, target.path, self.headers)
        request = self._record(target.path, target.query, raw_body, match)
        path, wire = request.path, match.wire if match else None
        request_id = {"x-request-id": f"req_fake{request.sequence:06d}"}
        try:
            fault = self._fault_for(request)
        except ValueError as exc:
            self._send_error(wire, WireError(400, f"invalid {FAULT_HEADER} header: {exc}"), request_id)
            return
        if fault is not None:
            if not provider._pause(fault.delay) or fault.drop_connection:
                self._abort()
                return
            if fault.status is not None:
                self._send_fault(wire, fault, request_id)
                return
        if match is None:
            error = WireError(404, f"Unknown request URL: {self.command} {path}.", code="unknown_url")
            self._send_error(wire, error, request_id)
            return
        exchange = Exchange(request, lambda: provider._scripts.take(model=request.model, path=path))
        try:
            reply = match.route.handler(exchange)
        except WireError as error:
            self._send_error(wire, error, request_id)
            return
        except Exception as exc:
            # A bug in a wire module: say so in the response rather than as an anonymous dropped connection.
            logger.exception("fake provider: %s %s failed", self.command, path)
            self._send_error(wire, WireError(500, f"fake provider bug: {exc!r}"), request_id)
            return
        if isinstance(reply, StreamReply):
            self._send_stream(reply, fault, request_id)
        else:
            self._send_json(reply, request_id)

    def _record(self, path: str, query: str, raw_body: bytes, match: _Match | None) -> RecordedRequest:
        provider = self.server.provider
        request = RecordedRequest(
            method=self.command,
            path=path,
            query=query,
            headers=Headers(self.headers.items()),
            body=_parse_json(raw_body),
            raw_body=raw_body,
            time=time.monotonic(),
            sequence=provider._next_sequence(),
            path_params=match.params if match else {},
        )
        provider._log.append(request)
        return request

    def _fault_for(self, request: RecordedRequest) -> Fault | None:
        header = request.headers.get(FAULT_HEADER)
        if header is not None:
            return Fault.from_header(header)
        return self.server.provider._faults.take(model=request.model, path=request.path)

    # --- reading -----------------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked_body(self) -> bytes:
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # Skip optional trailers up to the blank line that ends the body.
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    # --- writing -----------------------------------------------------------------------------------------

    def _start_response(self, status: int, headers: Mapping[str, str]) -> None:
        self.send_response(status, _reason(status))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_json(self, reply: JsonReply, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(reply.body).encode()
        framing = {"Content-Type": "application/json", "Content-Length": str(len(data))}
        self._start_response(reply.status, {**framing, **(headers or {}), **reply.headers})
        self.wfile.write(data)

    def _send_error(self, wire: WireFormat | None, error: WireError, headers: Mapping[str, str]) -> None:
        body = wire.error_body(error) if wire else _generic_error_body(error)
        self._send_json(JsonReply(body, status=error.status), headers)

    def _send_fault(self, wire: WireFormat | None, fault: Fault, headers: Mapping[str, str]) -> None:
        assert fault.status is not None
        error = WireError(fault.status, f"Injected fault: HTTP {fault.status} {_reason(fault.status)}.")
        if fault.body is None:
            self._send_error(wire, error, {**headers, **fault.error_headers})
        else:
            self._send_json(JsonReply(fault.body, status=fault.status), {**headers, **fault.error_headers})

    def _send_stream(self, reply: StreamReply, fault: Fault | None, headers: Mapping[str, str]) -> None:
        # Chunked framing makes a cut stream a protocol error on the client, not a clean end of body.
        framing = {
            "Content-Type": reply.content_type,
            "Transfer-Encoding": "chunked",
            "Cache-Control": "no-cache",
        }
        self._start_response(200, {**framing, **headers, **reply.headers})
        cut_after = fault.cut_stream_after if fault else None
        gap = fault.chunk_delay if fault else 0.0
        provider = self.server.provider
        for index, event in enumerate(e for e in reply.events if e):
            if (cut_after is not None and index >= cut_after) or (index and not provider._pause(gap)):
                self._abort()
                return
            self.wfile.write(b"%X\r\n%s\r\n" % (len(event), event))
        self.wfile.write(b"0\r\n\r\n")

    def _abort(self) -> None:
        """Close the connection now, without a response or in the middle of one."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return _EXTRA_REASONS.get(status, "")


def _generic_error_body(error: WireError) -> dict[str, Any]:
    return {"error": {"message": error.message, "type": "fake_provider_error", "code": error.code}}
