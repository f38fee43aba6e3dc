"""The compatibility rule behind the contract test: it must catch each kind of breaking change."""

import pytest

from loginless.events.schemas import compatibility_problems

pytestmark = pytest.mark.unit

OLD = {
    "properties": {"id": {"type": "string"}, "size": {"type": "integer"},
                   "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}},
    "required": ["id", "size"],
    "additionalProperties": False,
}


def changed(**properties):
    new = {**OLD, "properties": {**OLD["properties"], **properties}}
    return new


def test_identical_schema_is_compatible():
    assert compatibility_problems(OLD, OLD) == []


def test_an_optional_new_property_is_compatible():
    assert compatibility_problems(OLD, changed(extra={"type": "string"})) == []


def test_a_removed_property_is_breaking():
    new = {**OLD, "properties": {"id": {"type": "string"}, "note": OLD["properties"]["note"]}}
    assert compatibility_problems(OLD, new) == ["property 'size' was removed"]


def test_a_changed_type_is_breaking():
    assert compatibility_problems(OLD, changed(size={"type": "string"})) == ["property 'size' changed its type"]


def test_a_new_required_property_is_breaking():
    new = {**changed(extra={"type": "string"}), "required": ["id", "size", "extra"]}
    assert compatibility_problems(OLD, new) == ["property 'extra' is now required"]


def test_making_an_optional_property_required_is_breaking():
    new = {**OLD, "required": ["id", "size", "note"]}
    assert compatibility_problems(OLD, new) == ["property 'note' is now required"]
