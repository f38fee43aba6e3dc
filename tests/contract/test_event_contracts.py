"""The published contracts: event payload schemas and each service's AsyncAPI document, against what is committed.

When a change is intended and compatible, refresh the snapshots with ``make contracts`` and commit them.
"""

import importlib
import json
import tomllib
from pathlib import Path

import pytest

from loginless.events.schemas import compatibility_problems, current_digest, current_schemas, next_version
from loginless.shared.services import service_names

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "events" / "schemas"
ASYNCAPI = ROOT / "docs" / "asyncapi"
CONTRACT = ROOT / "docs" / "events" / "contract.json"
EVENTS_PROJECT = ROOT / "events" / "pyproject.toml"
SERVICES = list(service_names())
FIXED_EVENT_TYPES = ["loginless.links.LinkIssued.v1", "loginless.documents.FileUploaded.v1",
                     "loginless.signing.DocumentSigned.v1", "loginless.payments.InvoicePaid.v1"]


def committed_schemas() -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(SCHEMAS.glob("*.json"))}


def test_the_four_fixed_event_types_exist():
    assert set(FIXED_EVENT_TYPES) <= set(current_schemas())


@pytest.mark.parametrize("type_name", sorted(committed_schemas()))
def test_published_event_versions_stay_compatible(type_name):
    current = current_schemas()
    assert type_name in current, f"{type_name} was published and must be kept for its deprecation period"
    assert compatibility_problems(committed_schemas()[type_name], current[type_name]) == [], (
        f"{type_name} changed incompatibly: publish a new version instead"
    )


def test_every_event_type_has_a_committed_schema():
    missing = set(current_schemas()) - set(committed_schemas())
    assert not missing, f"new event types without a committed schema (run `make contracts`): {sorted(missing)}"


def test_the_events_package_is_versioned_with_the_schemas_it_describes():
    contract = json.loads(CONTRACT.read_text())
    version = tomllib.loads(EVENTS_PROJECT.read_text())["project"]["version"]
    assert contract["digest"] == current_digest(), "the schemas changed: run `make contracts` (it moves the version)"
    assert contract["version"] == version
    assert next_version("1.4.0") == "1.5.0" and next_version("2.9.3") == "2.10.0"


def test_no_payload_mentions_a_token():
    for type_name, schema in current_schemas().items():
        assert not any("token" in name for name in schema.get("properties", {})), type_name


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_document_matches_the_committed_one(service):
    bootstrap = importlib.import_module(f"loginless.{service}.bootstrap")
    committed = json.loads((ASYNCAPI / f"{service}.json").read_text())
    assert bootstrap.asyncapi_document() == committed, (
        f"the AsyncAPI document of {service} changed: review and run `make contracts`"
    )
