"""The apis' HTTP metrics (``loginless_http_*``, docs/operations.md): Litestar's Prometheus middleware, cheaper.

The metrics, their names, labels, buckets and registry are Litestar's (``PrometheusMiddleware`` makes them, and
``PrometheusController`` serves them); only the per-request path is ours. Litestar's builds a ``Request``, label
dicts and looks the label tuple's series up (``Metric.labels``: a lock and a few lookups) four times per request;
this one looks each series up once per route, method and status. Measured in-process: Litestar's middleware about
60 µs of CPU per request, this one 10 to 13, most of it the four updates themselves (docs/gateway-performance.md,
"The service plumbing").
"""

from __future__ import annotations

import time
from typing import Any

from litestar.middleware import DefineMiddleware
from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

NOT_MEASURED = ("/health", "/metrics")  # probes and scrapes


class RequestMetrics:
    """Counts, times and gauges each routed request under its route's template, as Litestar's middleware does,
    with the metrics Litestar's middleware makes; a request refused by a middleware after it (the input guard) is
    counted with the refusal's status. A plain ASGI layer: Litestar's middleware base class would match the
    exclusions' regular expression on every request, where a prefix test of the route does."""

    def __init__(self, app: ASGIApp, config: PrometheusConfig) -> None:
        self.app = app
        self._litestar = PrometheusMiddleware(app, config)  # makes (once per process) and holds the metrics
        self._app_name = config.app_name
        self._in_progress: dict[tuple[str, str], Any] = {}
        self._answered: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path_template"]
        if path.startswith(NOT_MEASURED):
            await self.app(scope, receive, send)
            return
        in_progress = self._in_progress.get((method, path))
        if in_progress is None:
            labels = self._labels(method, path, 200)  # Litestar's gauge carries a status of 200
            in_progress = self._in_progress[(method, path)] = self._litestar.requests_in_progress(labels).labels(
                *labels.values())
        started = time.perf_counter()
        status = 200

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        in_progress.inc()
        try:
            await self.app(scope, receive, send_noting_status)
        except Exception as error:  # answered outside (problem details): count it with the status it gets
            status = getattr(error, "status_code", 500)
            raise
        finally:
            in_progress.dec()
            count, seconds, errors = self._series(method, path, status)
            if errors is not None:
                errors.inc()
            count.inc()
            seconds.observe(time.perf_counter() - started)  # to the last byte sent

    def _series(self, method: str, path: str, status: int) -> tuple[Any, Any, Any]:
        series = self._answered.get((method, path, status))
        if series is None:
            labels = self._labels(method, path, status)
            values = labels.values()
            errors = self._litestar.requests_error_count(labels).labels(*values) if status >= 500 else None
            series = self._answered[(method, path, status)] = (
                self._litestar.request_count(labels).labels(*values),
                self._litestar.request_time(labels).labels(*values), errors)
        return series

    def _labels(self, method: str, path: str, status: int) -> dict[str, Any]:
        return {"method": method, "path": path, "status_code": status, "app_name": self._app_name}


def request_metrics(app_name: str) -> DefineMiddleware:
    """The middleware, for routes only (it needs the route's template): an HTTP request's metrics."""
    return DefineMiddleware(RequestMetrics, config=PrometheusConfig(app_name=app_name, prefix="loginless_http",
                                                                    group_path=True))
