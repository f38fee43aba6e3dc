"""The apis' HTTP metrics (``loginless_http_*``, docs/operations.md): Litestar's Prometheus middleware, cheaper.

The metrics, their names, labels, buckets and registry are Litestar's (``PrometheusMiddleware`` makes them, and
``PrometheusController`` serves them); only the per-request path is ours. Litestar's builds a ``Request``, a label
dict and the label tuple's series (``Metric.labels``: a lock and a few lookups) four times per request; this one
looks each series up once per route, method and status, and keeps nothing else. Measured: about a fifth of the
plumbing's CPU per request, against a few microseconds here (docs/gateway-performance.md, "The service plumbing").
"""

from __future__ import annotations

import time
from typing import Any

from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send


class RequestMetrics(PrometheusMiddleware):
    """Counts, times and gauges each routed request under its route's template, as Litestar's middleware does; a
    request refused by a middleware after it (the input guard) is counted with the refusal's status."""

    def __init__(self, app: ASGIApp, config: PrometheusConfig) -> None:
        super().__init__(app, config)
        self._in_progress: dict[tuple[str, str], Any] = {}
        self._answered: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path_template"]
        in_progress = self._in_progress.get((method, path))
        if in_progress is None:
            labels = self._labels(method, path, 200)  # Litestar's gauge carries a status of 200
            in_progress = self._in_progress[(method, path)] = self.requests_in_progress(labels).labels(
                *labels.values())
        started = time.perf_counter()
        status, duration = 200, 0.0

        async def send_noting_status(message: Message) -> None:
            nonlocal status, duration
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                duration = time.perf_counter() - started
            await send(message)

        in_progress.inc()
        try:
            await self.app(scope, receive, send_noting_status)
        except Exception as error:  # answered outside (problem details): count it with the status it gets
            status = getattr(error, "status_code", 500)
            duration = time.perf_counter() - started
            raise
        finally:
            in_progress.dec()
            count, seconds, errors = self._series(method, path, status)
            if errors is not None:
                errors.inc()
            count.inc()
            seconds.observe(duration)

    def _series(self, method: str, path: str, status: int) -> tuple[Any, Any, Any]:
        series = self._answered.get((method, path, status))
        if series is None:
            labels = self._labels(method, path, status)
            values = labels.values()
            errors = self.requests_error_count(labels).labels(*values) if status >= 500 else None
            series = self._answered[(method, path, status)] = (
                self.request_count(labels).labels(*values), self.request_time(labels).labels(*values), errors)
        return series

    def _labels(self, method: str, path: str, status: int) -> dict[str, Any]:
        return {"method": method, "path": path, "status_code": status, "app_name": self._config.app_name}


def request_metrics(app_name: str) -> PrometheusConfig:
    return PrometheusConfig(app_name=app_name, prefix="loginless_http", group_path=True,
                            exclude=["^/health", "^/metrics"], middleware_class=RequestMetrics)
