"""The function library: dates (timezone-aware, pinned now), text, numbers, nulls, related records."""

from __future__ import annotations

import datetime as dt

import pytest

from engines.rules import (
    FUNCTIONS,
    ExpressionError,
    InMemoryRelated,
    RuleError,
    compile_expression,
    pin_now,
    register_function,
    set_timezone,
)
from engines.rules.functions import FUNCTIONS as REGISTRY


def run(source: str, now=None, related=None, **context):
    return compile_expression(source).evaluate(context, now=now, related=related)


@pytest.fixture(autouse=True)
def utc():
    set_timezone("UTC")
    yield
    set_timezone("UTC")


def test_today_and_now_follow_the_app_timezone():
    moment = dt.datetime(2024, 3, 1, 23, 30, tzinfo=dt.UTC)
    with pin_now(moment):
        assert run("today()") == dt.date(2024, 3, 1)
        set_timezone("Europe/Berlin")
        assert run("today()") == dt.date(2024, 3, 2)
        assert run("now()").utcoffset() == dt.timedelta(hours=1)
    assert run("today()", now=moment, timezone=None) == dt.date(2024, 3, 2)
    assert compile_expression("today()").evaluate({}, now=moment, timezone="Asia/Tokyo") == dt.date(2024, 3, 2)
    assert compile_expression("today()").evaluate({}, now=moment, timezone="America/New_York") == dt.date(2024, 3, 1)


def test_unpinned_now_is_current_and_aware():
    assert abs(run("now()") - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("d + days(3)", dt.date(2024, 2, 1)),
        ("d - days(29)", dt.date(2023, 12, 31)),
        ("d + months(1)", dt.date(2024, 2, 29)),
        ("d - months(2)", dt.date(2023, 11, 29)),
        ("t - hours(24)", dt.datetime(2024, 1, 28, 9, 0)),
        ("t + minutes(90)", dt.datetime(2024, 1, 29, 10, 30)),
        ("t + months(1)", dt.datetime(2024, 2, 29, 9, 0)),
        ("years_between(date('1990-01-30'), d)", 33),
        ("years_between(date('1990-01-29'), d)", 34),
        ("days_between(d, date('2024-02-01'))", 3),
        ("start_of_month(d)", dt.date(2024, 1, 1)),
        ("weekday(d)", 1),
        ("weekday(date('2024-01-28'))", 7),
        ("(d - date('2024-01-01')) == days(28)", True),
    ],
)
def test_date_functions(source, expected):
    context = {"d": dt.date(2024, 1, 29), "t": dt.datetime(2024, 1, 29, 9, 0)}
    assert run(source, **context) == expected


def test_days_since_uses_the_clock():
    assert run("days_since(d)", now="2024-03-01T08:00", d=dt.date(2024, 2, 1)) == 29


def test_years_between_for_an_age_with_pinned_now():
    with pin_now("2024-06-01"):
        assert run("years_between(birth_date, today())", birth_date=dt.date(1980, 6, 1)) == 44
        assert run("years_between(birth_date, today())", birth_date=dt.date(1980, 6, 2)) == 43


@pytest.mark.parametrize(
    "source, expected",
    [
        ("lower('AbC')", "abc"),
        ("upper('abc')", "ABC"),
        ("trim('  a ')", "a"),
        ("contains('allergy: nuts', 'nuts')", True),
        ("contains(['a', 'b'], 'c')", False),
        ("startswith('+49 30', '+49')", True),
        ("len('abc')", 3),
        ("len([1, 2])", 2),
        ("round(2.567, 2)", 2.57),
        ("round(2.5)", 2),
        ("abs(-3)", 3),
        ("min(3, 1, 2)", 1),
        ("max([3, 9])", 9),
        ("min(1, missing)", None),
        ("coalesce(missing, '', 'x')", ""),
        ("is_empty('  ')", True),
        ("is_empty([])", True),
        ("is_empty(0)", False),
        ("upper(missing)", None),
    ],
)
def test_value_functions(source, expected):
    assert run(source) == expected


@pytest.mark.parametrize("source", ["round(1, 99)", "abs(x)", "days(x)", "months(1.5)", "date('nope')", "lower(n)"])
def test_bad_values_at_run_time_are_rule_errors(source):
    with pytest.raises(RuleError):
        run(source, x="text", n=3)


@pytest.mark.parametrize("source", ["abs('x')", "days('x')", "lower(3)", "years_between(1, 2)"])
def test_literal_arguments_of_the_wrong_type_are_compile_errors(source):
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source)
    assert caught.value.code == "expression.type"


def test_every_function_is_documented_with_an_example():
    for name, fn in REGISTRY.items():
        assert fn.__doc__, name
        assert fn.rules_spec.example and name in fn.rules_spec.example, name


def test_register_function_checks_arity_and_is_null_safe():
    @register_function("bmi_of", params=("number", "number"), returns="number", example="bmi_of(weight, height)")
    def bmi_of(weight: float, height: float) -> float:
        """Body-mass index from kg and m."""
        return round(weight / height**2, 1)

    try:
        assert run("bmi_of(w, h)", w=80, h=2) == 20.0
        assert run("bmi_of(w, h)", w=None, h=2) is None
        with pytest.raises(ExpressionError) as caught:
            compile_expression("bmi_of(80)")
        assert caught.value.code == "expression.arity"
    finally:
        del FUNCTIONS["bmi_of"]


APPOINTMENTS = InMemoryRelated(
    {
        "appointments": [
            {
                "id": 1,
                "doctor": 7,
                "patient": 1,
                "starts_at": dt.datetime(2024, 5, 1, 9, 0),
                "minutes": 30,
                "status": "booked",
            },
            {
                "id": 2,
                "doctor": 7,
                "patient": 2,
                "starts_at": dt.datetime(2024, 5, 1, 10, 0),
                "minutes": 30,
                "status": "cancelled",
            },
            {
                "id": 3,
                "doctor": 8,
                "patient": 1,
                "starts_at": dt.datetime(2024, 4, 1, 9, 0),
                "minutes": 30,
                "status": "no_show",
            },
        ],
    }
)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("count('appointments', patient=patient)", 2),
        ("count('appointments', status=['no_show', 'cancelled'])", 2),
        ("exists('appointments', doctor=8)", True),
        ("exists('appointments', doctor=9)", False),
        ("last('appointments', 'status', patient=patient)", "no_show"),
        ("last('appointments', 'status', patient=99)", None),
        ("overlaps('appointments', doctor=7, start=starts_at, minutes=30)", True),
        ("overlaps('appointments', doctor=7, start=starts_at + minutes(15), minutes=30)", False),
        ("overlaps('appointments', doctor=7, start=starts_at + minutes(60), minutes=15)", True),
        (
            "overlaps('appointments', doctor=7, start=starts_at + minutes(60), minutes=15,"
            " exclude_status=['cancelled'])",
            False,
        ),
        ("overlaps('appointments', doctor=7, start=starts_at, minutes=30, exclude_id=1)", False),
        ("overlaps('appointments', doctor=7, start=missing, minutes=30)", None),
    ],
)
def test_related_helpers_through_the_port(source, expected):
    context = {"patient": 1, "starts_at": dt.datetime(2024, 5, 1, 9, 15)}
    assert run(source, related=APPOINTMENTS, **context) == expected


def test_related_helpers_without_a_port_are_rule_errors():
    with pytest.raises(RuleError, match="related records"):
        run("count('appointments')")


def test_every_function_is_in_the_docs():
    import pathlib

    docs = (pathlib.Path(__file__).resolve().parents[3] / "docs" / "rules.md").read_text()
    for name, fn in REGISTRY.items():
        assert f"`{name}(" in docs, name
        assert fn.rules_spec.example in docs, name
