"""A loopback OTLP receiver on the official protobuf definitions: gRPC and HTTP/protobuf, traces and metrics.

Records every ExportTraceServiceRequest (and ExportMetricsServiceRequest) as it arrived, so a test can
assert exactly what an exporter shipped without a Collector. Bodies that do not parse are counted in
`corrupt` (answered 400), which is how interleaved writes on a shared connection show up.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

TraceRequest = trace_service_pb2.ExportTraceServiceRequest
MetricsRequest = metrics_service_pb2.ExportMetricsServiceRequest


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    attributes: dict[str, Any]
    status_code: int
    start_ns: int
    end_ns: int
    resource: dict[str, Any]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def flatten(request: TraceRequest) -> list[ReceivedSpan]:
    spans = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        name=span.name,
                        attributes={kv.key: _value(kv.value) for kv in span.attributes},
                        status_code=span.status.code,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        resource=resource,
                    )
                )
    return spans


class _TraceServicer(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, record: Callable[[str, Message], None]) -> None:
        self._record = record

    def Export(self, request: TraceRequest, context: Any) -> Any:
        self._record("grpc", request)
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsServicer(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, record: Callable[[str, Message], None]) -> None:
        self._record = record

    def Export(self, request: MetricsRequest, context: Any) -> Any:
        self._record("grpc", request)
        return metrics_service_pb2.ExportMetricsServiceResponse()


# HTTP path → (request type, empty response)
_HTTP_ROUTES: dict[str, tuple[type[Message], Message]] = {
    "/v1/traces": (TraceRequest, trace_service_pb2.ExportTraceServiceResponse()),
    "/v1/metrics": (MetricsRequest, metrics_service_pb2.ExportMetricsServiceResponse()),
}


class OtlpReceiver:
    """`with OtlpReceiver() as receiver:` then point an exporter at `grpc_endpoint` or `http_endpoint`."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, TraceRequest]] = []
        self.metric_requests: list[MetricsRequest] = []
        self.corrupt = 0
        self._changed = threading.Condition()
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceServicer(self._record), self._grpc)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
            _MetricsServicer(self._record), self._grpc
        )
        self.grpc_port = self._grpc.add_insecure_port("127.0.0.1:0")
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._http_handler())
        self._http.daemon_threads = True
        self.http_port = self._http.server_address[1]
        self._http_thread = threading.Thread(target=self._http.serve_forever, name="otlp-http", daemon=True)

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        """The base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT); exporters append /v1/traces, /v1/metrics."""
        return f"http://127.0.0.1:{self.http_port}"

    def endpoint(self, protocol: str) -> str:
        """For OTEL_EXPORTER_OTLP_PROTOCOL = grpc or http/protobuf."""
        return self.grpc_endpoint if protocol == "grpc" else self.http_endpoint

    def __enter__(self) -> OtlpReceiver:
        self._grpc.start()
        self._http_thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._grpc.stop(grace=None)
        self._http.shutdown()
        self._http.server_close()

    def _record(self, protocol: str, request: Message) -> None:
        with self._changed:
            if isinstance(request, TraceRequest):
                self.requests.append((protocol, request))
            else:
                self.metric_requests.append(request)  # type: ignore[arg-type]
            self._changed.notify_all()

    def _record_corrupt(self) -> None:
        with self._changed:
            self.corrupt += 1

    def spans(self, protocol: str | None = None) -> list[ReceivedSpan]:
        with self._changed:
            requests = list(self.requests)
        return [span for proto, req in requests if protocol in (None, proto) for span in flatten(req)]

    def wait_for_spans(self, count: int, timeout: float = 10.0) -> list[ReceivedSpan]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(len(flatten(req)) for _, req in self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
        return self.spans()

    def counter_values(self, name: str) -> dict[frozenset[tuple[str, Any]], float]:
        """The last value reported for each attribute set of a cumulative counter."""
        with self._changed:
            requests = list(self.metric_requests)
        values: dict[frozenset[tuple[str, Any]], float] = {}
        for request in requests:
            for resource_metrics in request.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        if metric.name != name:
                            continue
                        for point in metric.sum.data_points:
                            key = frozenset((kv.key, _value(kv.value)) for kv in point.attributes)
                            values[key] = point.as_int or point.as_double
        return values

    def _http_handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                route = _HTTP_ROUTES.get(self.path)
                if route is None:
                    self._reply(404, b"")
                    return
                request_type, response = route
                try:
                    if encoding == "gzip":
                        body = gzip.decompress(body)
                    elif encoding == "deflate":
                        body = zlib.decompress(body)
                    request = request_type.FromString(body)
                except (DecodeError, OSError, zlib.error):
                    receiver._record_corrupt()
                    self._reply(400, b"")
                    self.close_connection = True
                    return
                receiver._record("http", request)
                self._reply(200, response.SerializeToString())

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
