"""`examples:` in blueprints: failing examples become Problems naming the example."""

from __future__ import annotations

import datetime as dt

from engines.rules import Problem, build_decision_tables, compile_expression, run_examples, run_table_examples

BP_RISK = {
    "inputs": ["systolic", "diastolic"],
    "rows": [
        {"when": [">= 180", "-"], "then": "high"},
        {"when": ["[140..180)", "-"], "then": "elevated"},
        {"when": ["-", "-"], "then": "normal"},
    ],
    "examples": [
        {"given": {"systolic": 190, "diastolic": 80}, "expect": "high"},
        {"given": {"systolic": 120, "diastolic": 80}, "expect": "normal"},
        {"given": {"systolic": 150, "diastolic": 85}, "expect": "normal"},
    ],
}


def test_table_examples_report_the_failing_one():
    tables, problems = build_decision_tables({"bp_risk": BP_RISK})
    assert problems == []
    assert run_table_examples(tables) == [
        Problem(
            ("bp_risk", "examples", 2),
            "example.failed",
            "example 3 of bp_risk: expected normal, got elevated for systolic=150, diastolic=85",
        )
    ]


def test_computed_value_examples_with_pinned_now():
    age = compile_expression("years_between(birth_date, today())")
    examples = [
        {"given": {"birth_date": dt.date(1980, 6, 2)}, "now": dt.date(2024, 6, 1), "expect": 43},
        {"given": {"birth_date": dt.date(1980, 6, 1)}, "now": dt.date(2024, 6, 1), "expect": 43},
        {"given": {}, "expect": None},
    ]
    problems = run_examples(age, examples, name="age", loc=("entities", "patient", "computed", "age"))
    assert [(p.loc, p.message) for p in problems] == [
        (
            ("entities", "patient", "computed", "age", "examples", 1),
            "example 2 of age: expected 43, got 44 for birth_date=1980-06-01",
        )
    ]


def test_validation_examples_pass_or_fail():
    rule = compile_expression("not pregnancy or gender == 'female'")
    examples = [
        {"given": {"pregnancy": True, "gender": "female"}, "expect": "pass"},
        {"given": {"pregnancy": True, "gender": "male"}, "expect": "fail"},
        {"given": {"pregnancy": False, "gender": "male"}, "expect": "fail"},
        {"given": {}, "expect": "maybe"},
    ]
    problems = run_examples(rule, examples, name="pregnancy_needs_female", validation=True)
    assert [(p.loc, p.code) for p in problems] == [
        (("examples", 2), "example.failed"),
        (("examples", 3, "expect"), "example.invalid"),
    ]
    assert problems[0].message == (
        "example 3 of pregnancy_needs_female: expected fail, got pass for pregnancy=False, gender=male"
    )


def test_examples_with_related_records_and_runtime_failures():
    rule = compile_expression("count('appointments', patient=id, status='no_show') < 2")
    examples = [
        {"given": {"id": 1}, "related": {"appointments": [{"patient": 1, "status": "no_show"}]}, "expect": "pass"},
        {"given": {"id": 1}, "related": {"appointments": [{"patient": 1, "status": "no_show"}] * 2}, "expect": "pass"},
        {"given": {"id": 1}, "expect": "pass"},
        {"given": {"id": 1}, "unexpected": 1},
    ]
    problems = run_examples(rule, examples, name="no_shows", validation=True)
    assert [p.loc for p in problems] == [("examples", 1), ("examples", 2), ("examples", 3, "unexpected")]
    assert "needs related records" in problems[1].message
    assert problems[0].message.endswith("expected pass, got fail for id=1")
