"""Errors raised by the local stack. Each message says what went wrong and what to do about it."""

from __future__ import annotations


class DevstackError(Exception):
    """Base class: the local stack could not do what was asked."""


class PortInUseError(DevstackError):
    """A port a component needs is already taken by another process."""

    def __init__(self, port: int, owner: str, env_var: str | None = None) -> None:
        self.port = port
        self.owner = owner
        self.env_var = env_var
        hint = f"set {env_var} or stop whatever holds it" if env_var else "stop whatever holds it"
        super().__init__(f"port {port} ({owner}) is already in use; {hint}")


class ComponentStartError(DevstackError):
    """A component exited or did not become ready in time; the message names its log file."""


class ProvisioningError(DevstackError):
    """Downloading or building a tool (Kafka/s3proxy jars, Mailpit) failed."""


class StackAlreadyRunningError(DevstackError):
    """Another live process already owns the stack in this var directory."""
