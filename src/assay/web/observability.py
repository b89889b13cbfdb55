"""Per-request observability: a request id on every log line and response, and the
HTTP metrics of this process.

Pure ASGI (not ``BaseHTTPMiddleware``) so streamed responses (server-sent events)
pass through untouched. The route label is the matched path template
(``/api/v1/submissions/{submission_id}``), never the raw path, so the number of
series stays bounded; unmatched paths share ``unmatched``.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, GCCollector, Histogram, ProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay.logs import log_context
from assay.services import Platform
from assay.web.metrics import DatabaseCollector

log = logging.getLogger("assay.web.access")

REQUEST_ID_HEADER = "x-request-id"
# A request id a proxy sent along is kept if it looks like one (no log injection).
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "assay_http_requests",
            "HTTP requests this process answered.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "assay_http_request_duration_seconds",
            "Time to answer an HTTP request (a stream: until it ends).",
            ["method", "route"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )


def build_registry(
    platform: Platform,
) -> tuple[CollectorRegistry, HttpMetrics, DatabaseCollector]:
    """A registry of this app's metrics (one per app, so test servers do not collide)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    collector = DatabaseCollector(platform)
    registry.register(collector)
    return registry, HttpMetrics(registry), collector


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            sent: str = value.decode("latin-1")
            if _CLIENT_REQUEST_ID.match(sent):
                return sent
    return uuid.uuid4().hex


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id  # errors name it (web.errors)
        status = 500  # if the app fails before it starts a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        started = time.perf_counter()
        with log_context(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                route, method = _route_of(scope), scope["method"]
                self.metrics.requests.labels(method, route, str(status)).inc()
                self.metrics.latency.labels(method, route).observe(elapsed)
                log.info(
                    "%s %s %d %.1f ms",
                    method,
                    scope["path"],
                    status,
                    elapsed * 1000,
                    extra={"status": status, "duration_ms": round(elapsed * 1000, 1)},
                )


def install(app: FastAPI, platform: Platform) -> None:
    """Add the middleware and keep the registry on ``app.state.metrics_registry`` (and
    the database collector on ``app.state.metrics_collector``: closed with the app)."""
    registry, metrics, collector = build_registry(platform)
    app.state.metrics_registry = registry
    app.state.metrics_collector = collector
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
