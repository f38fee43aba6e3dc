"""``loginless-stack`` (or ``python -m loginless.devstack``): run loginless and its infrastructure locally.

loginless-stack run [--infra-only]            start everything in var/, print the URLs, wait for Ctrl-C
loginless-stack stop [--var-dir DIR]          stop what a `run` (or a test run) in DIR started
loginless-stack provision [TOOL…]             download/build Kafka, s3proxy and Mailpit (or the tools named:
                                              kafka, s3proxy, mailpit, helm) into .cache/
loginless-stack test [--infra-only] -- CMD…   run CMD against a fresh, isolated stack; exit with its code
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from loginless.devstack.errors import DevstackError, ProvisioningError
from loginless.devstack.provision import STACK_TOOLS, TOOLS, Toolchain
from loginless.devstack.services import SERVICES
from loginless.devstack.stack import Stack, StackConfig, default_var_dir

log = logging.getLogger("loginless.devstack")


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        sys.exit(args.handler(args))
    except DevstackError as error:
        log.error("loginless-stack: %s", error)
        sys.exit(1)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loginless-stack", description="Run loginless and its real infrastructure on this machine."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="start everything and wait; Ctrl-C stops it")
    run.add_argument("--var-dir", type=Path, help="where data, logs and stack.env go (default: var/)")
    run.add_argument("--infra-only", action="store_true", help="start the infrastructure but no service")
    run.set_defaults(handler=run_command)

    stop = commands.add_parser("stop", help="stop what a running `run` started")
    stop.add_argument("--var-dir", type=Path, help="the stack's var directory (default: var/)")
    stop.add_argument("--test", action="store_true", help="stop the test stack (var/test-stack) instead")
    stop.set_defaults(handler=stop_command)

    provision = commands.add_parser("provision", help="download and build the tools, into .cache/")
    provision.add_argument("tools", nargs="*", metavar="TOOL",
                           help=f"some of {', '.join(TOOLS)} (default: the stack's, {', '.join(STACK_TOOLS)})")
    provision.set_defaults(handler=provision_command)

    services = commands.add_parser("services", help="print the names of the services, one per line")
    services.set_defaults(handler=services_command)

    test = commands.add_parser(
        "test",
        help="run a command against a fresh, isolated stack",
        description="Start a fresh stack in var/test-stack on its own ports, run the command with the "
        "stack.env values (plus LOGINLESS_STACK_ENV and LOGINLESS_VAR_DIR) in its environment, stop the "
        "stack whatever happens, and exit with the command's exit code.",
    )
    test.add_argument("--var-dir", type=Path, help="default: var/test-stack (wiped at start)")
    test.add_argument("--infra-only", action="store_true", help="start the infrastructure but no service")
    test.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    test.set_defaults(handler=test_command)
    return parser


# ---- commands -----------------------------------------------------------------------------------------


def run_command(args: argparse.Namespace) -> int:
    config = StackConfig.from_environment("development", var_dir=args.var_dir)
    stack = Stack(config, services=() if args.infra_only else None)
    with _stop_on_signals():
        try:
            started = time.monotonic()
            stack.start()
            log.info("[stack] ready in %.1f s", time.monotonic() - started)
            _print_summary(stack)
            _watch(stack)
        except KeyboardInterrupt:
            pass
        finally:
            _teardown(stack)
    return 0


def stop_command(args: argparse.Namespace) -> int:
    var_dir = args.var_dir or default_var_dir("test" if args.test else "development")
    stopped = Stack.stop_recorded(var_dir)
    if stopped:
        log.info("stopped: %s", ", ".join(stopped))
    else:
        log.info("nothing was running in %s", var_dir)
    return 0


def provision_command(args: argparse.Namespace) -> int:
    started = time.monotonic()
    unknown = sorted(set(args.tools) - set(TOOLS))
    if unknown:
        raise ProvisioningError(f"unknown tools {unknown}; expected some of {', '.join(TOOLS)}")
    toolchain = Toolchain.discover()
    toolchain.provision(args.tools or STACK_TOOLS)
    log.info("[provision] all tools ready in %s (%.0f s)", toolchain.cache_dir, time.monotonic() - started)
    return 0


def services_command(args: argparse.Namespace) -> int:
    print("\n".join(SERVICES))
    return 0


def test_command(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise DevstackError(
            "no command given; usage: loginless-stack test [--infra-only] -- COMMAND [ARGS...]"
        )
    config = StackConfig.from_environment("test", var_dir=args.var_dir)
    stack = Stack(config, services=() if args.infra_only else None, fresh=True)
    with _stop_on_signals():
        try:
            started = time.monotonic()
            stack.start()
            log.info(
                "[stack] test stack ready in %.1f s; running: %s",
                time.monotonic() - started,
                " ".join(command),
            )
            environment = {
                **os.environ,
                **stack.environment(),
                "LOGINLESS_STACK_ENV": str(stack.env_file),
                "LOGINLESS_VAR_DIR": str(stack.var_dir),
            }
            return _run_in_foreground(command, environment)
        except KeyboardInterrupt:
            return 128 + signal.SIGINT
        finally:
            _teardown(stack, quiet=True)  # the test runner's summary stays the last line of the run


# ---- helpers ------------------------------------------------------------------------------------------


def _print_summary(stack: Stack) -> None:
    rows = [(name, stack.service_url(name)) for name in stack.services]
    rows += [
        ("postgres", stack.database_url),
        ("kafka", stack.kafka_bootstrap_servers),
        (
            "s3",
            f"{stack.s3_endpoint}  (key {stack.config.s3_access_key}, secret {stack.config.s3_secret_key})",
        ),
        ("smtp", stack.smtp_url),
        ("mail inbox", stack.mail_ui_url),
        ("stack.env", str(stack.env_file)),
        ("logs", str(stack.var_dir / "log")),
    ]
    width = max(len(name) for name, _ in rows)
    print("\nloginless is running:")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print("Ctrl-C (or `loginless-stack stop`) stops everything.\n", flush=True)


def _watch(stack: Stack) -> None:
    """Wait until interrupted, reporting (once) any process that dies on its own."""
    reported: set[str] = set()
    while True:
        for component in stack.exited_unexpectedly():
            if component.name not in reported:
                reported.add(component.name)
                log.warning("[stack] %s exited unexpectedly; see %s", component.name, component.log_path)
        time.sleep(1)


def _run_in_foreground(command: Sequence[str], environment: dict[str, str]) -> int:
    """Run the command in our process group, so a Ctrl-C in the terminal reaches it directly; we wait for
    it to finish (pytest prints its summary), and pass a SIGTERM on."""
    try:
        child = subprocess.Popen(command, env=environment)
    except FileNotFoundError:
        raise DevstackError(f"command not found: {command[0]}") from None
    previous_int = signal.signal(signal.SIGINT, lambda *_: None)
    previous_term = signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    try:
        returncode = child.wait()
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)
    return returncode if returncode >= 0 else 128 - returncode


def _teardown(stack: Stack, *, quiet: bool = False) -> None:
    # Impatient second Ctrl-Cs must not cut the shutdown short and leave servers behind; every step has a
    # timeout, after which it kills.
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stack.stop(quiet=quiet)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGINT raise KeyboardInterrupt, even if we were started with SIGINT ignored (as
    background jobs of a non-interactive shell are), so `kill` and Ctrl-C both lead to a clean stop."""
    previous = {
        sig: signal.signal(sig, signal.default_int_handler) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    main()
