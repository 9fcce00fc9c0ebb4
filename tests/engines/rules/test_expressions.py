"""Expressions: compile once, evaluate with null semantics, report mistakes with columns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from engines.rules import ExpressionError, RuleError, compile_expression


def value(source: str, **context):
    return compile_expression(source).evaluate(context)


@pytest.mark.parametrize(
    "source, context, expected",
    [
        ("1 + 2 * 3", {}, 7),
        ("(1 + 2) * 3", {}, 9),
        ("7 // 2 + 7 % 2", {}, 4),
        ("2 ** 10", {}, 1024),
        ("-x", {"x": 3}, -3),
        ("a and b", {"a": True, "b": False}, False),
        ("a or b", {"a": None, "b": "x"}, "x"),
        ("not a", {"a": None}, True),
        ("'ok' if age >= 18 else 'minor'", {"age": 20}, "ok"),
        ("'ok' if age >= 18 else 'minor'", {"age": None}, "minor"),
        ("x in ['a', 'b']", {"x": "b"}, True),
        ("x not in ['a', 'b']", {"x": "c"}, True),
        ("'all' in notes", {"notes": "allergy"}, True),
        ("1 < x < 5", {"x": 3}, True),
        ("1 < x < 5", {"x": 7}, False),
        ("[1, x]", {"x": 2}, [1, 2]),
        ("x is None", {}, True),
        ("x is not None", {"x": 0}, True),
        ("first + ' ' + last", {"first": "Ada", "last": "L"}, "Ada L"),
        ("price * 2", {"price": Decimal("1.5")}, Decimal("3.0")),
        ("price + 0.5", {"price": Decimal("1.5")}, Decimal("2.0")),
    ],
)
def test_language(source, context, expected):
    assert value(source, **context) == expected


@pytest.mark.parametrize(
    "source, expected",
    [
        ("missing > 5", False),
        ("missing < 5", False),
        ("missing >= 5", False),
        ("missing <= 5", False),
        ("missing == None", True),
        ("missing != None", False),
        ("missing == 5", False),
        ("missing != 5", True),
        ("missing + 1", None),
        ("missing * 2", None),
        ("-missing", None),
        ("not missing", True),
        ("missing in [1, 2]", False),
        ("1 in missing", False),
        ("missing.name", None),
        ("lower(missing)", None),
        ("years_between(missing, today())", None),
        ("coalesce(missing, 3)", 3),
        ("is_empty(missing)", True),
        ("missing and True", None),
        ("missing or 'x'", "x"),
    ],
)
def test_null_semantics(source, expected):
    assert value(source) == expected


def test_dotted_access_is_null_safe_and_reads_mappings_only():
    doctor = {"name": "Dr Who"}
    context = {"patient": {"primary_doctor": doctor}, "n": 3}
    assert value("patient.primary_doctor.name", **context) == "Dr Who"
    assert value("patient.secondary.name", **context) is None
    assert value("patient.primary_doctor.name", patient=None) is None
    with pytest.raises(RuleError):
        value("n.real", n=3)


def test_lazy_mapping_links_are_read_with_get():
    from collections.abc import Mapping

    class Lazy(Mapping):
        loads = 0

        def __getitem__(self, key):
            Lazy.loads += 1
            return {"role": "doctor"}[key]

        def __iter__(self):
            return iter(["role"])

        def __len__(self):
            return 1

    assert value("user.role == 'doctor'", user=Lazy()) is True
    assert Lazy.loads == 1


def test_properties_names_paths_functions():
    expression = compile_expression("patient.primary_doctor.name == user.id or years_between(birth_date, today()) > 3")
    assert expression.names == {"patient", "user", "birth_date"}
    assert ("patient", "primary_doctor", "name") in expression.paths
    assert ("user", "id") in expression.paths
    assert expression.functions == {"years_between", "today"}
    assert expression.source.startswith("patient")


def test_names_restrict_roots_and_suggest():
    with pytest.raises(ExpressionError) as caught:
        compile_expression("gender == 'f' or pregnncy", names=["gender", "pregnancy"])
    assert caught.value.code == "expression.unknown_name"
    assert caught.value.column == 17
    assert "pregnancy" in caught.value.hint


def test_columns_count_characters_and_leading_space():
    with pytest.raises(ExpressionError) as caught:
        compile_expression("  'Müller' == nme", names=["name"])
    assert caught.value.column == 14


def test_multi_line_expressions_are_accepted():
    assert compile_expression("a and\nb").evaluate({"a": 1, "b": 2}) == 2


@pytest.mark.parametrize(
    "source, code",
    [
        ("", "expression.empty"),
        ("1 +", "expression.syntax"),
        ("foo(1)", "expression.unknown_function"),
        ("x.__class__", "expression.unsafe"),
        ("len(1, 2)", "expression.arity"),
        ("today(1)", "expression.arity"),
        ("lower(x=1)", "expression.arity"),
        ("'a' - 1", "expression.type"),
        ("x is 3", "expression.syntax"),
        ("x" * 3000, "expression.too_long"),
    ],
)
def test_error_codes(source, code):
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source)
    assert caught.value.code == code


def test_unknown_function_hint():
    with pytest.raises(ExpressionError) as caught:
        compile_expression("lowr(name)")
    assert caught.value.hint == "did you mean `lower`?"


def test_runtime_errors_are_rule_errors():
    for source, context in [
        ("a / b", {"a": 1, "b": 0}),
        ("a < b", {"a": "x", "b": 1}),
        ("a + b", {"a": "x", "b": 1}),
        ("lower(a)", {"a": 3}),
        ("a in b", {"a": 1, "b": 3}),
    ]:
        with pytest.raises(RuleError):
            compile_expression(source).evaluate(context)


def test_non_mapping_context_is_a_rule_error():
    with pytest.raises(RuleError):
        compile_expression("x").evaluate(None)  # type: ignore[arg-type]


def test_custom_function_library():
    expression = compile_expression("double(x)", functions={"double": lambda n: n * 2})
    assert expression.evaluate({"x": 4}) == 8
    assert expression.evaluate({}) is None  # null-safe by default
    with pytest.raises(ExpressionError):
        compile_expression("lower(x)", functions={"double": lambda n: n * 2})


def test_date_and_datetime_compare_and_mix():
    context = {"d": dt.date(2024, 5, 1), "t": dt.datetime(2024, 5, 1, 9, 0)}
    assert value("t > d", **context) is True
    assert value("d == date('2024-05-01')", **context) is True
    aware = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)
    assert value("t == a or t < a or t > a", t=dt.datetime(2024, 5, 1, 10), a=aware) is True


def test_explain_lists_reads_and_value():
    explanation = compile_expression("not pregnancy or gender == 'female'").explain(
        {"pregnancy": True, "gender": "male"}
    )
    assert explanation == {
        "source": "not pregnancy or gender == 'female'",
        "reads": {"gender": "male", "pregnancy": True},
        "value": False,
        "error": None,
    }
    failed = compile_expression("a / b").explain({"a": 1, "b": 0})
    assert failed["value"] is None and "failed" in failed["error"]


def test_evaluation_does_not_reparse():
    expression = compile_expression("x + 1")
    expression.source = "syntax error ("  # the text is informative only
    assert expression.evaluate({"x": 1}) == 2


def test_yaml_literal_words_are_constants():
    from engines.rules import compile_expression

    expression = compile_expression(
        "consent == true and not (flag == false) and note == null", names={"consent", "flag", "note"}
    )
    assert expression.evaluate({"consent": True, "flag": True}) is True
    assert expression.evaluate({"consent": False, "flag": True}) is False
    assert expression.names == {"consent", "flag", "note"}
