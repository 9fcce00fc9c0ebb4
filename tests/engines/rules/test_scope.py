"""Static checking against a Scope: names, links, types and select options, with columns."""

from __future__ import annotations

import pytest

from engines.rules import ExpressionError, FieldType, RecordType, Scope, ScopeError, choice, compile_expression

DOCTOR = Scope({"name": "text", "license": "text"})
PATIENT = Scope(
    {
        "birth_date": "date",
        "gender": choice("female", "male", "other"),
        "pregnancy": "boolean",
        "weight": "decimal",
        "visits": "integer",
        "notes": "text",
        "primary_doctor": RecordType(DOCTOR),
        "tags": "list",
    }
)
APPOINTMENT = Scope(
    {
        "starts_at": "datetime",
        "minutes": "integer",
        "patient": RecordType(lambda: PATIENT),  # lazy
        "user": RecordType(Scope({"id": "integer", "role": "select"})),
    }
)


def error(source: str, scope: Scope = APPOINTMENT) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source, scope=scope)
    return caught.value


@pytest.mark.parametrize(
    "source",
    [
        "patient.primary_doctor.name == 'Dr X'",
        "years_between(patient.birth_date, today()) >= 18",
        "starts_at + minutes(minutes) > now()",
        "starts_at > today()",
        "patient.gender == 'female' or not patient.pregnancy",
        "patient.gender in ['female', 'other']",
        "patient.weight * 2 > 100",
        "user.role == 'doctor'",
        "patient.visits + 1",
        "patient.notes + ' (checked)'",
        "coalesce(patient.notes, '') == ''",
        "patient.birth_date < date('2000-01-01')",
        "len(patient.tags) > 0",
        "patient.birth_date == None",
    ],
)
def test_valid_expressions_pass(source):
    compile_expression(source, scope=APPOINTMENT)


def test_unknown_link_attribute_with_column_and_hint():
    problem = error("patient.primary_doctr.name == 'x'")
    assert problem.code == "expression.unknown_name"
    assert problem.message == "`patient` has no field `primary_doctr`"
    assert problem.hint == "did you mean `primary_doctor`?"
    assert problem.column == 0


def test_unknown_root_name():
    problem = error("minutes > 0 and strts_at > now()")
    assert (problem.code, problem.column, problem.hint) == ("expression.unknown_name", 16, "did you mean `starts_at`?")


@pytest.mark.parametrize(
    "source, column",
    [
        ("patient.birth_date == '2000-01-01'", 0),
        ("patient.birth_date > 5", 0),
        ("patient.notes * 2", 0),
        ("patient.notes - 1", 0),
        ("minutes + patient.notes", 0),
        ("patient.gender / 2", 0),
        ("1 + lower(patient.notes)", 0),
        ("lower(minutes)", 6),
        ("patient.birth_date.year", 0),
        ("-patient.notes", 0),
        ("starts_at + 5", 0),
        ("patient.pregnancy < True", 0),
    ],
)
def test_type_mismatches(source, column):
    problem = error(source)
    assert problem.code == "expression.type", problem.message
    assert problem.column == column


def test_date_compared_to_text_suggests_date_function():
    assert "date('2024-01-31')" in error("patient.birth_date == '2000-01-01'").hint


def test_select_options_are_checked():
    problem = error("patient.gender == 'femal'")
    assert problem.code == "expression.choice"
    assert problem.column == 18
    assert problem.hint == "did you mean `female`?"
    assert error("patient.gender in ['male', 'femail']").column == 27


def test_inferred_result_types():
    assert compile_expression("years_between(patient.birth_date, today())", scope=APPOINTMENT).type == "integer"
    assert compile_expression("starts_at - hours(1)", scope=APPOINTMENT).type == "datetime"
    assert compile_expression("patient.birth_date + months(1)", scope=APPOINTMENT).type == "date"
    assert compile_expression("minutes > 3", scope=APPOINTMENT).type == "boolean"


def test_cyclic_links_resolve_lazily():
    person: Scope = Scope({})
    person = Scope({"name": "text", "mother": RecordType(lambda: person)})
    compile_expression("mother.mother.mother.name == 'Eve'", scope=person)
    assert error("mother.mother.nam", person).code == "expression.unknown_name"


def test_resolver_and_open_scopes():
    resolved = Scope(resolver=lambda name: "integer" if name.startswith("n_") else None)
    compile_expression("n_visits + 1", scope=resolved)
    assert error("other", resolved).code == "expression.unknown_name"
    compile_expression("anything.at.all", scope=Scope(open=True))


def test_scope_rejects_unknown_type_names():
    with pytest.raises(ScopeError):
        Scope({"x": "texte"})
    assert FieldType("select").type == "text"
    assert Scope({"n": "int"}).lookup("n").type == "integer"


def test_with_fields_adds_names():
    scope = APPOINTMENT.with_fields({"extra": "number"})
    compile_expression("extra * 2", scope=scope)
    assert "extra" not in APPOINTMENT
