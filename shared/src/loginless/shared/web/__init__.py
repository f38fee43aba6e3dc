"""Web plumbing every service shares: the app factory, health, problem details, logging and metrics."""

from loginless.shared.web.app import ServiceRuntime, create_service_app
from loginless.shared.web.logging import configure_logging

__all__ = ["ServiceRuntime", "configure_logging", "create_service_app"]
