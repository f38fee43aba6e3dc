"""Questionnaire definitions: checked when saved, compiled into the schemas the page and the server share, and
answers judged against them -- conditions in order, hidden answers showing nothing else."""

from __future__ import annotations

import pytest

from loginless.requests import definitions as defs

pytestmark = pytest.mark.unit


def definition(*questions: dict, **section: object) -> defs.Definition:
    return defs.parse_definition({"sections": [{"id": "s", "title": {"en": "S"}, "questions": list(questions),
                                                **section}]})


def q(id: str, type: str = "short_text", **more: object) -> dict:  # noqa: A002
    return {"id": id, "type": type, "label": {"en": id, "es": f"es-{id}"}, **more}


CHOICES = [{"value": "a", "label": {"en": "A"}}, {"value": "b", "label": {"en": "B"}}]


@pytest.mark.parametrize(("questions", "words"), [
    ([q("x", condition={"question": "y", "equals": 1}), q("y")], "not a question asked before it"),
    ([q("x"), q("x")], "used twice"),
    ([q("x", "single_choice")], "needs options"),
    ([q("x", options=CHOICES)], "takes no options"),
    ([q("g", "group", questions=[q("h", "group", questions=[q("i")])])], "do not nest"),
    ([q("f", "file"), q("x", condition={"question": "f", "equals": "x"})], "cannot look at a file"),
    ([q("y"), q("x", condition={"question": "y", "equals": 1, "one_of": [2]})], "exactly one of"),
    ([q("y"), q("x", condition={"question": "y", "includes": "a"})], "includes is for multiple-choice"),
    ([q("y"), q("x", condition={"question": "y", "schema": {"type": 7}})], "not a valid JSON Schema"),
    ([q("X")], "lower-case"),
    ([q("t", "tax_id", country="ZZ")], "no tax id rules"),
])
def test_a_definition_that_cannot_work_is_refused_saying_why(questions, words):
    with pytest.raises(defs.InvalidDefinition) as refused:
        definition(*questions)
    assert any(words in error["message"] for error in refused.value.errors), refused.value.errors


def test_conditions_compile_into_json_forms_show_rules_whose_conditions_are_json_schemas():
    compiled = defs.compile_definition(definition(
        q("married", "yes_no"), q("spouse", condition={"question": "married", "equals": True})))
    [category] = compiled.ui_schema["elements"]
    assert category["elements"][1]["rule"] == {"effect": "SHOW", "condition": {
        "scope": "#/properties/married", "schema": {"const": True}, "failWhenUndefined": True}}
    assert compiled.data_schema["properties"]["married"] == {"type": "boolean"}


def test_a_hidden_answer_shows_nothing_that_depends_on_it():
    compiled = defs.compile_definition(definition(
        q("a", "yes_no"), q("b", "yes_no", condition={"question": "a", "equals": True}),
        q("c", condition={"question": "b", "equals": True})))
    assert defs.visible_elements(compiled.ui_schema, {"a": True, "b": True}) >= {"a", "b", "c"}
    assert defs.visible_elements(compiled.ui_schema, {"a": False, "b": True}) == {"section:s", "a"}


def test_an_unanswered_question_matches_no_condition_whatever_its_schema():
    compiled = defs.compile_definition(definition(
        q("a"), q("b", condition={"question": "a", "schema": {"not": {"const": "x"}}})))
    assert "b" not in defs.visible_elements(compiled.ui_schema, {})
    assert "b" in defs.visible_elements(compiled.ui_schema, {"a": "y"})


def test_a_section_with_a_condition_hides_all_its_questions():
    parsed = defs.parse_definition({"sections": [
        {"id": "one", "title": {"en": "1"}, "questions": [q("sources", "multiple_choice", options=CHOICES)]},
        {"id": "two", "title": {"en": "2"}, "condition": {"question": "sources", "includes": "b"},
         "questions": [q("more")]}]})
    ui = defs.compile_definition(parsed).ui_schema
    assert defs.visible_elements(ui, {"sources": ["a"]}) == {"section:one", "sources"}
    assert defs.visible_elements(ui, {"sources": ["a", "b"]}) == {"section:one", "sources", "section:two", "more"}


@pytest.mark.parametrize(("question", "good", "bad"), [
    (q("x", "iban"), "GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 33"),
    (q("x", "tax_id"), "X1234567L", "X1234567A"),
    (q("x", "tax_id", country="PT"), "501964843", "501964842"),
    (q("x", "currency"), "1234.5", "12,34.5"),
    (q("x", "email"), "ana@example.com", "ana at example"),
    (q("x", "phone"), "+34 600 000 000", "call me"),
    (q("x", "date"), "2025-02-28", "2025-02-30"),
    (q("x", "number", minimum=0), 3.5, -1),
    (q("x", "dropdown", options=CHOICES), "a", "c"),
    (q("x", "multiple_choice", options=CHOICES), ["a", "b"], ["a", "a"]),
    (q("x", "yes_no"), False, "no"),
    (q("x", "long_text"), "a" * 10_000, "a" * 10_001),
])
def test_each_question_type_takes_its_answers_and_refuses_others(question, good, bad):
    parsed = definition(question).question("x")
    assert defs.check_answer(parsed, good) == []
    [error] = defs.check_answer(parsed, bad)
    assert error.field == "answers.x"


def test_required_answers_are_asked_only_of_questions_shown_and_of_every_item_of_a_group():
    parsed = definition(q("a", "yes_no"), q("b", required=True, condition={"question": "a", "equals": True}),
                        q("g", "group", required=True, questions=[q("n", required=True), q("m")]))
    ui = defs.compile_definition(parsed).ui_schema
    answers = {"a": False, "g": [{"n": "x"}, {"m": "y"}]}
    missing = defs.missing_required(parsed, answers, defs.visible_elements(ui, answers))
    assert [e.field for e in missing] == ["answers.g.1.n"]
    answers = {"a": True}
    missing = defs.missing_required(parsed, answers, defs.visible_elements(ui, answers))
    assert [e.field for e in missing] == ["answers.b", "answers.g"]


def test_texts_fall_back_to_english_when_spanish_is_not_given():
    assert defs.Text(en="Name").in_("es") == "Name"
    assert defs.Text(en="Name", es="Nombre").in_("es") == "Nombre"
