"""OpenTelemetry traces across processes: off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

One guest request is one trace, however many processes it crosses: an HTTP request carries the W3C
``traceparent`` header (the links client adds it to its calls), an event carries it as the CloudEvents extension
``traceparent`` (the event store writes the one current when the event is appended), and the relay's publish and a
consumer's handling continue the trace it names. Spans go to an OTLP/HTTP collector through the SDK's batch
processor (``OTEL_*`` variables configure it as usual). Log lines carry ``trace_id`` and ``span_id`` while a span
is current.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import Span, SpanKind

TRACER = trace.get_tracer("loginless")
_enabled = False


def configure_tracing(service_name: str, role: str) -> bool:
    """Send this process's spans to ``OTEL_EXPORTER_OTLP_ENDPOINT``, if set; returns whether tracing is on."""
    global _enabled
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or _enabled:
        return _enabled
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"loginless-{service_name}",
                                                        "service.namespace": "loginless",
                                                        "loginless.role": role}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _enabled = True
    return True


def flush_traces() -> None:
    """Export what is buffered (a process about to end)."""
    provider = trace.get_tracer_provider()
    if hasattr(provider, "force_flush"):
        provider.force_flush()


def enabled() -> bool:
    return _enabled


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, or None outside a trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def inject_trace_headers(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """``headers`` with the current trace's ``traceparent`` (and ``tracestate``) added, for an outgoing request."""
    propagate.inject(headers)
    return headers


@contextmanager
def span(name: str, *, kind: SpanKind = SpanKind.INTERNAL, parent: Mapping[str, str] | None = None,
         attributes: dict[str, Any] | None = None) -> Iterator[Span]:
    """A span made current for the block; ``parent`` (headers, or ``{"traceparent": …}`` from an event) continues
    another process's trace. Outside tracing it costs a no-op span."""
    token = context.attach(propagate.extract(parent)) if parent else None
    try:
        with TRACER.start_as_current_span(name, kind=kind, attributes=attributes) as current:
            yield current
    finally:
        if token is not None:
            context.detach(token)


@contextmanager
def publish_span(topic: str, message: bytes) -> Iterator[None]:
    """The relay's publish of one stored CloudEvent, in the trace of the request that appended it."""
    if not _enabled:
        yield
        return
    try:
        traceparent = json.loads(message).get("traceparent")
    except ValueError:
        traceparent = None
    with span(f"publish {topic}", kind=SpanKind.PRODUCER, parent={"traceparent": traceparent} if traceparent else None,
              attributes={"messaging.system": "kafka", "messaging.destination.name": topic}):
        yield


def add_trace_ids(_: object, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the current span's ids on every log line written inside it."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event_dict["trace_id"] = format(span_context.trace_id, "032x")
        event_dict["span_id"] = format(span_context.span_id, "016x")
    return event_dict
