"""Web plumbing every service shares: the app factory, health, problem details, logging and metrics."""

from loginless.shared.web.app import ContextFactory, ServiceContext, ServiceRuntime, create_service_app
from loginless.shared.web.logging import configure_logging

__all__ = ["ContextFactory", "ServiceContext", "ServiceRuntime", "configure_logging", "create_service_app"]
