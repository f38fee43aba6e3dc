"""JSON Schema snapshots of the event payloads, the compatibility rule the contract test enforces, and the
version of the whole contract.

Compatible (same version): adding an optional property, loosening nothing else. Anything else -- removing or
renaming a property, changing its type, making it required, adding a required one -- needs a new version.

The package ``loginless-events`` is versioned with its schemas: ``contract.json`` beside the schema directory holds
the package version and a digest of every schema; refreshing the snapshots after a change moves the version on
(``1.4.0`` → ``1.5.0``), so two wheels with one version never describe different events.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from loginless.events.catalog import IntegrationEvent, registered_events

PAYLOADS_PACKAGE = "loginless.events.payloads"


def published_events() -> dict[str, type[IntegrationEvent]]:
    return {name: cls for name, cls in registered_events().items() if cls.__module__.startswith(PAYLOADS_PACKAGE)}


def current_schemas() -> dict[str, dict[str, Any]]:
    return {name: cls.model_json_schema() for name, cls in published_events().items()}


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return _resolve(schema, schema["$defs"][node["$ref"].rsplit("/", 1)[-1]])
    return node


def _shape(schema: dict[str, Any], node: dict[str, Any]) -> Any:
    """A comparable summary of a property's accepted values (types, enums, formats), refs resolved."""
    node = _resolve(schema, node)
    if "anyOf" in node:
        return sorted(json.dumps(_shape(schema, option), sort_keys=True) for option in node["anyOf"])
    return {key: node[key] for key in ("type", "enum", "format", "const", "items") if key in node}


def compatibility_problems(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    problems = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name, spec in old_props.items():
        if name not in new_props:
            problems.append(f"property {name!r} was removed")
        elif _shape(old, spec) != _shape(new, new_props[name]):
            problems.append(f"property {name!r} changed its type")
    for name in new_required - old_required:
        problems.append(f"property {name!r} is now required")
    if old.get("additionalProperties", True) is not False and new.get("additionalProperties", True) is False:
        problems.append("extra properties are no longer allowed")
    return problems


def snapshot(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def digest(snapshots: dict[str, str]) -> str:
    """One SHA-256 over every schema snapshot, in type order."""
    whole = hashlib.sha256()
    for name in sorted(snapshots):
        whole.update(f"{name}\n{snapshots[name]}".encode())
    return whole.hexdigest()


def current_digest() -> str:
    return digest({name: snapshot(schema) for name, schema in current_schemas().items()})


def next_version(version: str) -> str:
    major, minor, _ = (int(part) for part in version.split("."))
    return f"{major}.{minor + 1}.0"


def write_snapshots(directory: Path, project: Path) -> str:
    """Write every schema into ``directory`` and the contract's version and digest into ``contract.json`` beside
    it; when the schemas changed since the version recorded there, move the package's version (in ``project``, its
    pyproject.toml) on first. Returns the version."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, schema in current_schemas().items():
        (directory / f"{name}.json").write_text(snapshot(schema))
    contract_file = directory.parent / "contract.json"
    recorded = json.loads(contract_file.read_text()) if contract_file.exists() else None
    pyproject = project.read_text()
    version = re.search(r'^version = "([0-9]+\.[0-9]+\.[0-9]+)"', pyproject, re.MULTILINE)[1]
    now = current_digest()
    if recorded is not None and recorded["digest"] != now and recorded["version"] == version:
        version = next_version(version)
        project.write_text(re.sub(r'^version = "[^"]+"', f'version = "{version}"', pyproject, count=1,
                                  flags=re.MULTILINE))
    contract_file.write_text(json.dumps({"package": "loginless-events", "version": version, "digest": now},
                                        indent=2) + "\n")
    return version


if __name__ == "__main__":
    print(write_snapshots(Path(sys.argv[1]), Path(sys.argv[2])))
