"""The service registry is the one list of services: every folder under services/ is in it and nothing else."""

from pathlib import Path

import pytest

from loginless.shared.services import GUEST_ACTIONS, SERVICES, owner_of, service_names

pytestmark = pytest.mark.unit

REPOSITORY = Path(__file__).resolve().parents[2]


def test_every_service_folder_is_registered_and_every_registered_service_has_a_folder():
    folders = {path.name for path in (REPOSITORY / "services").iterdir() if (path / "pyproject.toml").exists()}
    assert folders == set(service_names())
    for name in service_names():
        assert (REPOSITORY / "services" / name / "src" / "loginless" / name / "__main__.py").exists(), name


@pytest.mark.parametrize("name", service_names())
def test_every_service_bootstrap_has_the_shape_its_command_line_runs(name):
    """``python -m loginless.<name>`` hands its bootstrap module to the kernel's run_service: one shape."""
    import importlib
    import inspect

    from loginless.shared.settings import ServiceSettings

    bootstrap = importlib.import_module(f"loginless.{name}.bootstrap")
    assert issubclass(bootstrap.SETTINGS, ServiceSettings) and bootstrap.SETTINGS.service_name == name
    assert bootstrap.MIGRATIONS.is_dir()  # the kernel's tables, then the service's own numbered SQL files
    for function in ("create_app", "create_worker"):
        assert list(inspect.signature(getattr(bootstrap, function)).parameters)[0] == "settings", function
    assert bootstrap.asyncapi_document()["info"]["title"] == f"loginless {name} events"


def test_each_guest_action_is_served_by_one_service_on_its_own_port():
    assert sorted(action for service in SERVICES for action in service.guest_actions) == sorted(GUEST_ACTIONS)
    assert {action: owner_of(action).name for action in GUEST_ACTIONS} == {
        "view": "documents", "upload": "documents", "sign": "signing", "pay": "payments", "request": "requests"}
    ports = [service.local_port for service in SERVICES]
    assert len(set(ports)) == len(ports)


def test_the_local_stack_and_the_gateway_take_their_lists_from_the_registry():
    from loginless.devstack.services import GUEST_ROUTES
    from loginless.devstack.services import SERVICES as STACK_SERVICES
    from loginless.gateway.settings import DEFAULT_ROUTES

    assert STACK_SERVICES == service_names()
    assert {action: route.service for action, route in DEFAULT_ROUTES.items()} == GUEST_ROUTES
    assert DEFAULT_ROUTES["pay"].url == "http://127.0.0.1:8004"
