"""Decision tables: cell syntax, hit policies, checks (overlaps, gaps), decide(), explain."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from engines.rules import (
    CellError,
    ExpressionError,
    RuleError,
    Scope,
    TableError,
    build_decision_tables,
    check_decision_tables,
    compile_decision_table,
    compile_expression,
    parse_cell,
)

BP_RISK = {
    "title": "Blood pressure risk",
    "hit": "first",
    "inputs": ["systolic", "diastolic"],
    "rows": [
        {"when": ["systolic >= 180", "-"], "then": "high"},
        {"when": ["-", "diastolic >= 110"], "then": "high"},
        {"when": ["systolic >= 140", "-"], "then": "elevated"},
        {"when": ["-", "diastolic >= 90"], "then": "elevated"},
        {"when": ["-", "-"], "then": "normal"},
    ],
}


def native_bp(s, d):
    if (s is not None and s >= 180) or (d is not None and d >= 110):
        return "high"
    if (s is not None and s >= 140) or (d is not None and d >= 90):
        return "elevated"
    return "normal"


def test_first_hit_matches_native_logic_everywhere():
    table = compile_decision_table("bp_risk", BP_RISK)
    for s, d in itertools.product([None, 100, 139, 140, 179, 180, 200], [None, 60, 89, 90, 109, 110]):
        assert table.evaluate({"systolic": s, "diastolic": d}) == native_bp(s, d), (s, d)


@pytest.mark.parametrize(
    "raw, hits, misses",
    [
        ("-", [None, 1, "x"], []),
        (None, [None, 1], []),
        (">= 140", [140, 200.5], [139, None]),
        ("systolic < 90", [89], [90, None]),
        ("[120..139]", [120, 139, 130.5], [119, 140, None]),
        ("(120..140)", [121, 139.9], [120, 140]),
        ("[36.5..37.5]", [36.5, 37.0], [37.6]),
        ("high", ["high"], ["High", None]),
        ("'high risk'", ["high risk"], ["high"]),
        ("!= high", ["low", None], ["high"]),
        ("== 3", [3, 3.0], [4]),
        ("null", [None], [0, ""]),
        (12, [12], [13]),
        (True, [True], [False]),
        (["a", "b"], ["a", "b"], ["c", None]),
        (">= 2024-01-01", [dt.date(2024, 1, 1)], [dt.date(2023, 12, 31)]),
    ],
)
def test_cell_syntax(raw, hits, misses):
    cell = parse_cell(raw, "systolic")
    assert all(cell.matches(v) for v in hits)
    assert not any(cell.matches(v) for v in misses)


@pytest.mark.parametrize("raw", [">> 3", "[1..2", "diastolic > 3", "[5..1]", "a < b < c", "[1..x]", [], {"a": 1}])
def test_bad_cells(raw):
    with pytest.raises(CellError):
        parse_cell(raw, "systolic")


def test_compile_reports_every_problem_with_loc():
    spec = {
        "hit": "first",
        "inputs": ["s", "unknwn(1)"],
        "aggregate": "sum",
        "rows": [{"when": [">> 3", "-"], "then": 1}, {"when": ["-"], "then": 2}],
    }
    with pytest.raises(TableError) as caught:
        compile_decision_table("t", spec)
    locs = {(p.loc, p.code) for p in caught.value.problems}
    assert locs == {
        (("inputs", 1), "expression.unknown_function"),
        (("aggregate",), "decision_table.aggregate"),
        (("rows", 0, "when", 0), "decision_table.cell"),
        (("rows", 1, "when"), "decision_table.cell_count"),
    }


def test_section_check_with_loc_paths_and_pydantic_errors():
    section = {
        "bp_risk": BP_RISK,
        "typo": {**BP_RISK, "hti": "first"},
        "broken": {**BP_RISK, "rows": [{"when": ["-", "[1..2"], "then": "x"}]},
    }
    problems = check_decision_tables(section)
    assert {(p.loc, p.code) for p in problems} == {
        (("typo", "hti"), "decision_table.invalid"),
        (("broken", "rows", 0, "when", 1), "decision_table.cell"),
    }


UNIQUE = {
    "hit": "unique",
    "inputs": ["systolic"],
    "rows": [
        {"when": ["< 120"], "then": "normal"},
        {"when": ["[120..139]"], "then": "elevated"},
        {"when": [">= 139"], "then": "high"},
    ],
}


def test_unique_overlap_is_reported_with_an_example():
    problems = check_decision_tables({"bp": UNIQUE})
    overlap = [p for p in problems if p.code == "decision_table.overlap"]
    assert len(overlap) == 1
    assert overlap[0].loc == ("bp", "rows", 2)
    assert overlap[0].message == "rows 2 and 3 of bp both match systolic=139 (hit policy unique allows only one)"


def test_unique_overlap_with_equality_cells_over_two_inputs():
    section = {
        "t": {
            "hit": "unique",
            "inputs": ["kind", "age"],
            "rows": [
                {"when": ["child", "< 18"], "then": 1},
                {"when": [["child", "teen"], "[10..20]"], "then": 2},
                {"when": ["adult", ">= 18"], "then": 3},
            ],
            "default": 0,
        }
    }
    messages = [p.message for p in check_decision_tables(section)]
    assert messages == ["rows 1 and 2 of t both match kind=child, age=10 (hit policy unique allows only one)"]


def test_gap_is_reported_for_real_numbers_but_not_for_integers():
    spec = {
        "hit": "unique",
        "inputs": ["systolic"],
        "rows": [
            {"when": ["< 120"], "then": "normal"},
            {"when": ["[120..139]"], "then": "elevated"},
            {"when": [">= 140"], "then": "high"},
        ],
    }
    problems = check_decision_tables({"bp": spec})
    assert [(p.code, p.message) for p in problems] == [("decision_table.gap", "no row of bp matches systolic=139.5")]
    assert check_decision_tables({"bp": spec}, scope=Scope({"systolic": "integer"})) == []


def test_gap_over_two_columns_and_discrete_values():
    spec = {
        "hit": "first",
        "inputs": ["sex", "age"],
        "rows": [
            {"when": ["female", ">= 18"], "then": "adult woman"},
            {"when": ["male", "-"], "then": "man or boy"},
        ],
    }
    [gap] = check_decision_tables({"t": spec})
    assert gap.loc == ("t", "rows")
    assert gap.message.startswith("no row of t matches sex=female, age=")
    assert check_decision_tables({"t": {**spec, "default": "other"}}) == []


def test_unique_hit_policy_raises_when_rows_overlap_at_run_time():
    table = compile_decision_table("bp", UNIQUE)
    assert table.evaluate({"systolic": 125}) == "elevated"
    with pytest.raises(RuleError, match="rows 2 and 3"):
        table.evaluate({"systolic": 139})


def test_priority_collect_and_aggregates():
    rows = [
        {"when": [">= 1"], "then": 5, "priority": 1},
        {"when": [">= 2"], "then": 7, "priority": 3},
        {"when": [">= 3"], "then": 1, "priority": 2},
    ]
    priority = compile_decision_table("p", {"hit": "priority", "inputs": ["x"], "rows": rows})
    assert [priority.evaluate({"x": x}) for x in (0, 1, 2, 3)] == [None, 5, 7, 7]
    ordered = compile_decision_table(
        "p",
        {
            "hit": "priority",
            "inputs": ["x"],
            "output_order": [1, 5, 7],
            "rows": [{k: v for k, v in r.items() if k != "priority"} for r in rows],
        },
    )
    assert [ordered.evaluate({"x": x}) for x in (1, 2, 3)] == [5, 5, 1]
    for aggregate, expected in [(None, [5, 7, 1]), ("sum", 13), ("min", 1), ("max", 7), ("count", 3)]:
        spec = {"hit": "collect", "inputs": ["x"], "rows": rows, **({"aggregate": aggregate} if aggregate else {})}
        assert compile_decision_table("c", spec).evaluate({"x": 3}) == expected
    assert (
        compile_decision_table("c", {"hit": "collect", "aggregate": "sum", "inputs": ["x"], "rows": rows}).evaluate(
            {"x": 0}
        )
        == 0
    )


def test_multiple_outputs_and_default():
    spec = {
        "inputs": ["x"],
        "outputs": ["level", "color"],
        "default": {"level": "?", "color": "grey"},
        "rows": [{"when": ["> 0"], "then": {"level": "up", "color": "green"}}],
    }
    table = compile_decision_table("m", spec)
    assert table.evaluate({"x": 1}) == {"level": "up", "color": "green"}
    assert table.evaluate({"x": 0}) == {"level": "?", "color": "grey"}
    with pytest.raises(TableError):
        compile_decision_table("m", {**spec, "rows": [{"when": ["> 0"], "then": {"level": "up"}}]})


def test_expression_inputs():
    spec = {
        "inputs": ["years_between(birth_date, today())"],
        "rows": [{"when": ["< 18"], "then": "minor"}, {"when": [">= 18"], "then": "adult"}],
    }
    table = compile_decision_table("age", spec)
    assert table.names == {"birth_date"}
    assert table.evaluate({"birth_date": dt.date(2010, 5, 1)}, now="2024-05-01") == "minor"
    assert table.evaluate({"birth_date": dt.date(2000, 5, 1)}, now="2024-05-01") == "adult"


def test_bad_input_data_is_a_rule_error():
    table = compile_decision_table("bp_risk", BP_RISK)
    with pytest.raises(RuleError):
        table.evaluate({"systolic": "high"})


def test_decide_from_expressions():
    tables, problems = build_decision_tables({"bp_risk": BP_RISK})
    assert problems == []
    expression = compile_expression("decide('bp_risk') == 'high'", tables=tables)
    assert expression.names == {"systolic", "diastolic"}
    assert expression.evaluate({"systolic": 185, "diastolic": 80}) is True
    explicit = compile_expression("decide('bp_risk', systolic=150, diastolic=d)", tables=tables)
    assert explicit.names == {"d"}
    assert explicit.evaluate({"d": 70, "systolic": 100}) == "elevated"


@pytest.mark.parametrize(
    "source, code",
    [
        ("decide('bp_rsk')", "expression.unknown_table"),
        ("decide(name)", "expression.arity"),
        ("decide('bp_risk', sistolic=1)", "expression.unknown_name"),
    ],
)
def test_decide_mistakes_are_compile_errors(source, code):
    tables, _ = build_decision_tables({"bp_risk": BP_RISK})
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source, tables=tables)
    assert caught.value.code == code
    with pytest.raises(ExpressionError):
        compile_expression("decide('bp_risk')")  # no tables given


def test_tables_may_decide_tables_defined_above():
    section = {
        "bp_risk": BP_RISK,
        "action": {
            "inputs": ["decide('bp_risk')"],
            "rows": [{"when": ["high"], "then": "call doctor"}, {"when": ["-"], "then": "none"}],
        },
    }
    tables, problems = build_decision_tables(section)
    assert problems == []
    assert tables["action"].evaluate({"systolic": 190}) == "call doctor"


def test_explain_says_which_row_and_why():
    table = compile_decision_table("bp_risk", BP_RISK)
    explanation = table.explain({"systolic": 150, "diastolic": 95})
    assert explanation["inputs"] == [{"input": "systolic", "value": 150}, {"input": "diastolic", "value": 95}]
    assert explanation["matched"] == [3, 4, 5]
    assert explanation["chosen"] == 3
    assert explanation["output"] == "elevated"
    assert explanation["rows"][0] == {
        "row": 1,
        "when": ["systolic >= 180", "-"],
        "cells": [False, True],
        "matched": False,
        "then": "high",
    }


def test_explain_agrees_with_evaluate():
    table = compile_decision_table("bp_risk", BP_RISK)
    for s, d in itertools.product([None, 139, 140, 185], [None, 89, 95, 120]):
        context = {"systolic": s, "diastolic": d}
        assert table.explain(context)["output"] == table.evaluate(context)


def test_default_null_is_no_default_and_collect_has_no_gaps():
    """rules.md: `default: null` is no default (the gap is still reported); `hit: collect` is not checked for gaps."""
    spec = {"hit": "first", "inputs": ["pain"], "rows": [{"when": ["[0..4)"], "then": "mild"}]}
    [gap] = check_decision_tables({"pain_level": {**spec, "default": None}})
    assert gap.code == "decision_table.gap" and gap.message.startswith("no row of pain_level matches pain=")
    assert check_decision_tables({"pain_level": {**spec, "default": "unknown"}}) == []
    assert check_decision_tables({"pain_level": {**spec, "hit": "collect"}}) == []
