"""``--help`` of every command works on a machine with no settings at all: each service's own commands
(``python -m loginless.<service> … --help``) and every command of the operator's ``loginless``. Before, a service's
``--help`` past the first word built the settings first and died with a pydantic traceback without a database URL."""

import importlib
import os

import click
import pytest
from click.testing import CliRunner

from loginless.cli.commands import main as operator_cli
from loginless.shared.runtime import COMMANDS, run_service
from loginless.shared.services import service_names

pytestmark = pytest.mark.unit

STACK_VARIABLES = {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY",
                   "SMTP_URL", "DEV_API_KEY"}


@pytest.fixture(autouse=True)
def no_settings(monkeypatch):
    prefixes = tuple(f"{service.upper()}_" for service in service_names()) + ("LOGINLESS_",)
    for name in list(os.environ):
        if name.startswith(prefixes) or name in STACK_VARIABLES:
            monkeypatch.delenv(name)


def extra_commands_of(service: str) -> dict:
    try:
        return importlib.import_module(f"loginless.{service}.cli").EXTRA_COMMANDS
    except ModuleNotFoundError:
        return {}


def help_of(service: str, argv: list[str], capsys) -> str:
    bootstrap = importlib.import_module(f"loginless.{service}.bootstrap")
    with pytest.raises(SystemExit) as exit_:
        run_service(bootstrap, extra_commands=extra_commands_of(service), argv=argv)
    assert exit_.value.code == 0, capsys.readouterr().err
    return capsys.readouterr().out


@pytest.mark.parametrize("service", service_names())
def test_every_command_of_every_service_explains_itself_without_settings(service, capsys):
    overview = help_of(service, ["--help"], capsys)
    commands = [*COMMANDS, *extra_commands_of(service)]
    assert overview.startswith(f"usage: python -m loginless.{service}") and all(c in overview for c in commands)
    for command in commands:
        assert help_of(service, [command, "--help"], capsys).startswith("usage:"), command


def every_command(group: click.Group, path: tuple[str, ...] = ()):
    yield path
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from every_command(command, (*path, name))
        else:
            yield (*path, name)


@pytest.mark.parametrize("path", list(every_command(operator_cli)), ids=" ".join)
def test_every_command_of_the_operators_cli_explains_itself_without_settings(path):
    result = CliRunner().invoke(operator_cli, [*path, "--help"], env={"LINKS_URL": None, "DATABASE_URL": None})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage:")
