"""Questionnaire definitions: what staff write, checked when saved, and compiled into the two documents both the
server and the guest's page judge answers by.

A definition is sections of questions, some of them repeating groups of questions, any of them shown only when an
earlier answer matches a condition. It compiles into

* a **JSON Schema of the answers** (each question's type, limits and format), which ``jsonschema`` checks here;
* a **UI schema** in the shape of JSON Forms (``Categorization`` > ``Category`` > ``Control``), whose rules are
  ``{effect: SHOW, condition: {scope, schema, failWhenUndefined: true}}``: a condition *is* a JSON Schema the
  earlier answer must match. The server judges it with ``jsonschema`` (:func:`visible_elements`); the page with
  the AJV of ``@jsonforms/core``'s own rule evaluation. Neither side has a hand-written copy of a condition's
  logic: there is only the schema, and two standard validators of it.

Visibility is judged in document order against the answers shown so far: an answer to a hidden question counts as
absent for the conditions after it (it is kept in the draft, so showing the question again loses nothing, but it
cannot make anything else appear and is dropped at submission).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.util import get_cc_module

from loginless.shared.guest.i18n import N_

QuestionType = Literal["short_text", "long_text", "number", "currency", "date", "email", "phone", "iban", "tax_id",
                       "single_choice", "multiple_choice", "dropdown", "yes_no", "file", "group"]
CHOICE_TYPES = ("single_choice", "multiple_choice", "dropdown")
SHORT_TEXT_LIMIT = 500
LONG_TEXT_LIMIT = 10_000
MAX_QUESTIONS = 300
MAX_GROUP_ITEMS = 50
MAX_FILE_SIZE = 100 * 1024 * 1024
_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_CURRENCY = r"^-?[0-9]{1,13}(\.[0-9]{1,2})?$"
_PHONE = r"^\+?[0-9][0-9 ().-]{5,24}$"
_EMAIL = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A text staff wrote, in English and Spanish; Spanish falls back to English when not given."""

    en: str = Field(min_length=1, max_length=2000)
    es: str | None = Field(None, min_length=1, max_length=2000)

    def in_(self, language: str) -> str:
        return (self.es or self.en) if language == "es" else self.en


class Option(Strict):
    value: str = Field(min_length=1, max_length=100)
    label: Text


class Condition(Strict):
    """Show the element when an earlier question's answer matches: ``equals`` one value, is ``one_of`` several,
    ``includes`` a value (multiple choice), or matches a JSON Schema of its own (``schema``)."""

    question: str
    equals: str | float | bool | None = None
    one_of: list[str | float | bool] | None = Field(None, min_length=1, max_length=100)
    includes: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        given = [name for name in ("equals", "one_of", "includes", "schema_") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a condition takes exactly one of equals, one_of, includes or schema")
        if self.schema_ is not None:
            try:
                jsonschema.Draft7Validator.check_schema(self.schema_)
            except jsonschema.SchemaError as error:
                raise ValueError(f"schema is not a valid JSON Schema: {error.message}") from None
        return self

    def json_schema(self) -> dict[str, Any]:
        if self.equals is not None:
            return {"const": self.equals}
        if self.one_of is not None:
            return {"enum": list(self.one_of)}
        if self.includes is not None:
            return {"type": "array", "contains": {"const": self.includes}}
        return dict(self.schema_ or {})


class FileLimits(Strict):
    max_size: int = Field(10 * 1024 * 1024, ge=1, le=MAX_FILE_SIZE, description="Bytes per file")
    types: list[str] = Field(default_factory=lambda: ["application/pdf", "image/*"], min_length=1, max_length=30,
                             description="MIME types or families (image/*)")
    max_files: int = Field(5, ge=1, le=20)


class Question(Strict):
    id: str
    type: QuestionType
    label: Text
    help: Text | None = None
    required: bool = False
    condition: Condition | None = None
    options: list[Option] | None = Field(None, max_length=200)
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = Field(None, ge=1, le=LONG_TEXT_LIMIT)
    country: str = Field("ES", pattern=r"^[A-Z]{2}$", description="Whose tax ids a tax_id question takes")
    files: FileLimits | None = None
    questions: list[Question] | None = Field(None, max_length=50, description="A group's questions")
    max_items: int = Field(20, ge=1, le=MAX_GROUP_ITEMS, description="How many a group may hold")
    add_label: Text | None = Field(None, description='A group\'s "add another" button')

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("an id is lower-case letters, digits and _, starting with a letter (at most 63)")
        return value

    @model_validator(mode="after")
    def _shape(self) -> Question:
        if self.type in CHOICE_TYPES:
            if not self.options:
                raise ValueError(f"a {self.type} question needs options")
            if len({o.value for o in self.options}) != len(self.options):
                raise ValueError("option values must differ")
        elif self.options is not None:
            raise ValueError(f"a {self.type} question takes no options")
        if (self.type == "group") != (self.questions is not None):
            raise ValueError("a group, and only a group, has questions")
        if self.type == "group":
            if not self.questions:
                raise ValueError("a group needs questions")
            if any(q.type == "group" for q in self.questions):
                raise ValueError("groups do not nest")
            if any(q.condition is not None for q in self.questions):
                raise ValueError("a question in a group takes no condition (give the group one)")
        if self.type == "tax_id":
            _tax_module(self.country)
        return self


class Section(Strict):
    id: str
    title: Text
    description: Text | None = None
    condition: Condition | None = None
    questions: list[Question] = Field(min_length=1, max_length=MAX_QUESTIONS)

    _id = field_validator("id")(Question._id.__func__)  # type: ignore[attr-defined]


class Definition(Strict):
    sections: list[Section] = Field(min_length=1, max_length=30)

    @model_validator(mode="after")
    def _references(self) -> Definition:
        """Ids are unique, and every condition looks back at a question asked before it, outside any group."""
        seen: dict[str, Question] = {}
        section_ids: set[str] = set()

        def check(condition: Condition | None, where: str) -> None:
            if condition is None:
                return
            earlier = seen.get(condition.question)
            if earlier is None:
                raise ValueError(f"{where}: its condition names {condition.question!r}, which is not a question "
                                 "asked before it")
            if earlier.type in ("group", "file"):
                raise ValueError(f"{where}: a condition cannot look at a {earlier.type} question")
            if condition.includes is not None and earlier.type != "multiple_choice":
                raise ValueError(f"{where}: includes is for multiple-choice questions")

        for section in self.sections:
            if section.id in section_ids:
                raise ValueError(f"section id {section.id!r} is used twice")
            section_ids.add(section.id)
            check(section.condition, f"section {section.id}")
            for question in section.questions:
                check(question.condition, f"question {question.id}")
                if question.id in seen:
                    raise ValueError(f"question id {question.id!r} is used twice")
                seen[question.id] = question
                inner_ids = [inner.id for inner in question.questions or []]
                if len(set(inner_ids)) != len(inner_ids):
                    raise ValueError(f"group {question.id}: a question id is used twice")
        if len(seen) > MAX_QUESTIONS:
            raise ValueError(f"at most {MAX_QUESTIONS} questions")
        return self

    def questions(self) -> Iterator[Question]:
        for section in self.sections:
            yield from section.questions

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions() if q.id == question_id), None)


class InvalidDefinition(ValueError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("the definition is not valid")
        self.errors = errors


def parse_definition(data: Mapping[str, Any]) -> Definition:
    try:
        return Definition.model_validate(data)
    except ValidationError as error:
        raise InvalidDefinition([{"field": ".".join(["definition", *(str(p) for p in e["loc"])]),
                                  "message": e["msg"]} for e in error.errors()]) from None


# ---- the compiled documents -------------------------------------------------------------------------------


def _scope(question_id: str) -> str:
    return f"#/properties/{question_id}"


def _rule(condition: Condition | None) -> dict[str, Any] | None:
    if condition is None:
        return None
    # failWhenUndefined: an unanswered question matches nothing, whatever the schema (AJV would otherwise judge
    # ``undefined``, which jsonschema has no way to express).
    return {"effect": "SHOW", "condition": {"scope": _scope(condition.question), "schema": condition.json_schema(),
                                            "failWhenUndefined": True}}


def answer_schema(question: Question) -> dict[str, Any]:
    """The JSON Schema one answer to ``question`` must match (required-ness is judged apart: it depends on what
    is shown)."""
    match question.type:
        case "short_text":
            return {"type": "string", "maxLength": question.max_length or SHORT_TEXT_LIMIT}
        case "long_text":
            return {"type": "string", "maxLength": question.max_length or LONG_TEXT_LIMIT}
        case "number":
            schema: dict[str, Any] = {"type": "number"}
            if question.minimum is not None:
                schema["minimum"] = question.minimum
            if question.maximum is not None:
                schema["maximum"] = question.maximum
            return schema
        case "currency":
            return {"type": "string", "pattern": _CURRENCY}
        case "date":
            return {"type": "string", "format": "date"}
        case "email":
            return {"type": "string", "maxLength": 254, "pattern": _EMAIL}
        case "phone":
            return {"type": "string", "pattern": _PHONE}
        case "iban":
            return {"type": "string", "maxLength": 50, "format": "iban"}
        case "tax_id":
            return {"type": "string", "maxLength": 30, "format": f"tax-id-{question.country.lower()}"}
        case "single_choice" | "dropdown":
            return {"type": "string", "enum": [o.value for o in question.options or []]}
        case "multiple_choice":
            return {"type": "array", "uniqueItems": True,
                    "items": {"type": "string", "enum": [o.value for o in question.options or []]}}
        case "yes_no":
            return {"type": "boolean"}
        case "file":
            limits = question.files or FileLimits()
            return {"type": "array", "maxItems": limits.max_files,
                    "items": {"type": "object", "required": ["file_id"], "additionalProperties": False,
                              "properties": {"file_id": {"type": "string", "maxLength": 64}}}}
        case "group":
            inner = question.questions or []
            return {"type": "array", "maxItems": question.max_items,
                    "items": {"type": "object", "additionalProperties": False,
                              "properties": {q.id: answer_schema(q) for q in inner}}}
    raise AssertionError(question.type)


@dataclass(frozen=True)
class Compiled:
    """The documents the page and the server share; stored with each template version."""

    data_schema: dict[str, Any]
    ui_schema: dict[str, Any]


def compile_definition(definition: Definition) -> Compiled:
    properties = {q.id: answer_schema(q) for q in definition.questions()}
    categories = []
    for section in definition.sections:
        elements = []
        for question in section.questions:
            control: dict[str, Any] = {"type": "Control", "scope": _scope(question.id)}
            if (rule := _rule(question.condition)) is not None:
                control["rule"] = rule
            elements.append(control)
        category: dict[str, Any] = {"type": "Category", "label": section.id, "elements": elements}
        if (rule := _rule(section.condition)) is not None:
            category["rule"] = rule
        categories.append(category)
    return Compiled(data_schema={"type": "object", "additionalProperties": False, "properties": properties},
                    ui_schema={"type": "Categorization", "elements": categories})


# ---- judging answers --------------------------------------------------------------------------------------


def _tax_module(country: str) -> Any:
    """python-stdnum's module for the country's personal or company tax ids."""
    for name in ("nif", "vat", "tin"):
        try:
            module = get_cc_module(country.lower(), name)
        except (ImportError, AttributeError):
            continue
        if module is not None:
            return module
    raise ValueError(f"no tax id rules are known for {country}")


@cache
def format_checker(tax_country: str | None = None) -> jsonschema.FormatChecker:
    """Dates, IBANs (schwifty) and, when asked, one country's tax ids (python-stdnum)."""
    checker = jsonschema.FormatChecker(formats=("date",))
    checker.checks("iban", raises=(SchwiftyException, ValueError))(lambda value: not isinstance(value, str)
                                                                     or bool(IBAN(value)))
    if tax_country is not None:
        module = _tax_module(tax_country)
        checker.checks(f"tax-id-{tax_country.lower()}", raises=(StdnumError, ValueError))(
            lambda value: not isinstance(value, str) or bool(module.validate(value)))
    return checker


def rule_matches(rule: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
    """Whether a rule's condition holds, as JSON Forms' ``evaluateCondition`` judges a schema-based one."""
    condition = rule["condition"]
    question_id = condition["scope"].removeprefix("#/properties/")
    if question_id not in answers:
        return not condition.get("failWhenUndefined", False) and jsonschema.Draft7Validator(
            condition["schema"]).is_valid(None)
    return jsonschema.Draft7Validator(condition["schema"]).is_valid(answers[question_id])


def visible_elements(ui_schema: Mapping[str, Any], answers: Mapping[str, Any]) -> set[str]:
    """Ids of the sections and questions shown for ``answers`` (blank answers are absent), judged in order
    against the answers shown so far."""
    shown: dict[str, Any] = {}
    visible: set[str] = set()
    for category in ui_schema["elements"]:
        if "rule" in category and not rule_matches(category["rule"], shown):
            continue
        visible.add(f"section:{category['label']}")
        for control in category["elements"]:
            question_id = control["scope"].removeprefix("#/properties/")
            if "rule" in control and not rule_matches(control["rule"], shown):
                continue
            visible.add(question_id)
            if not is_blank(answers.get(question_id)):
                shown[question_id] = answers[question_id]
    return visible


def is_blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


@dataclass(frozen=True)
class AnswerError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


def check_answer(question: Question, value: Any) -> list[AnswerError]:
    """What is wrong with one answer (nothing for a blank one: clearing an answer is always allowed)."""
    if is_blank(value):
        return []
    if question.type == "group" and isinstance(value, list):  # a blank answer in an item is no answer
        value = [{k: v for k, v in item.items() if not is_blank(v)} if isinstance(item, dict) else item
                 for item in value]
    countries = {q.country for q in [question, *(question.questions or [])] if q.type == "tax_id"}
    if len(countries) > 1:  # a group asking tax ids of two countries: each judged on its own
        return [e for inner in question.questions or [] for item in value if isinstance(item, dict)
                for e in check_answer(inner, item.get(inner.id))] if isinstance(value, list) else []
    validator = jsonschema.Draft7Validator(answer_schema(question),
                                           format_checker=format_checker(next(iter(countries), None)))
    errors = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in error.absolute_path)
        errors.append(AnswerError(f"answers.{question.id}" + (f".{path}" if path else ""), _message(question, error)))
    return errors


TYPE_WORDS = {"number": N_("expected a number"), "string": N_("expected text"), "boolean": N_("expected yes or no"),
              "array": N_("expected a list"), "object": N_("expected a set of answers")}
PATTERN_WORDS = {"currency": N_("an amount like 1234.50"), "phone": N_("a phone number like +34 600 000 000"),
                 "email": N_("an e-mail address like name@example.com")}


def _message(question: Question, error: jsonschema.ValidationError) -> str:
    """Words for a guest, not a validator's. Each is a message of the service's catalog; one with a number has it
    as its only placeholder, ``%(n)s`` (the page translates them: ``guest.translated``)."""
    kind = error.validator
    if kind == "format":
        return {"iban": N_("this is not a valid IBAN"), "date": N_("this is not a date (YYYY-MM-DD)")}.get(
            str(error.validator_value), N_("this is not a valid tax id"))
    if kind == "maxLength":
        return N_("at most %(n)s characters") % {"n": error.validator_value}
    if kind == "maxItems":
        return N_("at most %(n)s") % {"n": error.validator_value}
    if kind in ("enum", "const"):
        return N_("this is not one of the options")
    if kind == "pattern":
        return PATTERN_WORDS.get(question.type, N_("not in the expected form"))
    if kind == "type":
        return TYPE_WORDS.get(str(error.validator_value), N_("not in the expected form"))
    if kind == "minimum":
        return N_("at least %(n)s") % {"n": error.validator_value}
    if kind == "maximum":
        return N_("at most %(n)s") % {"n": error.validator_value}
    if kind == "additionalProperties":
        return N_("an answer to a question this group does not ask")
    if kind == "uniqueItems":
        return N_("an option is chosen twice")
    return N_("not in the expected form")


def missing_required(definition: Definition, answers: Mapping[str, Any], visible: set[str]) -> list[AnswerError]:
    """Required questions shown but not answered, including those of every item of a group."""
    errors = []
    for question in definition.questions():
        if question.id not in visible:
            continue
        value = answers.get(question.id)
        if question.required and is_blank(value):
            errors.append(AnswerError(f"answers.{question.id}", N_("an answer is required")))
        if question.type == "group" and isinstance(value, list):
            for index, item in enumerate(value):
                for inner in question.questions or []:
                    if inner.required and is_blank((item or {}).get(inner.id)):
                        errors.append(AnswerError(f"answers.{question.id}.{index}.{inner.id}",
                                                  N_("an answer is required")))
    return errors


def file_ids(question: Question, value: Any) -> list[str]:
    """The staged files an answer to a file question names."""
    if question.type != "file" or not isinstance(value, list):
        return []
    return [item["file_id"] for item in value if isinstance(item, dict) and "file_id" in item]


def to_number(text: str) -> float | int:
    number = Decimal(text.strip().replace(",", "."))
    return int(number) if number == number.to_integral_value() and abs(number) < 2**53 else float(number)


def is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
