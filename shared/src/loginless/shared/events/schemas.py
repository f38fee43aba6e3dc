"""JSON Schema snapshots of the event payloads, and the compatibility rule the contract test enforces.

Compatible (same version): adding an optional property, loosening nothing else. Anything else -- removing or
renaming a property, changing its type, making it required, adding a required one -- needs a new version.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from loginless.shared.events.catalog import IntegrationEvent, registered_events

PAYLOADS_PACKAGE = "loginless.shared.events.payloads"


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


def write_snapshots(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, schema in current_schemas().items():
        (directory / f"{name}.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    write_snapshots(Path(sys.argv[1]))
