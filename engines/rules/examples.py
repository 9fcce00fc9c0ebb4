"""Run the `examples:` a blueprint attaches to rules, computed values and decision tables.

`crm validate` and `crm test` call these; each failing example becomes a Problem
(code `example.failed`) whose loc points at the example, e.g.
("bp_risk", "examples", 2), and whose message reads
"example 3 of bp_risk: expected elevated, got normal for systolic=150, diastolic=85".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from pydantic import ValidationError

from .errors import RuleError
from .fn_related import InMemoryRelated
from .plain import describe_inputs
from .problems import Loc, Problem
from .specs import ExampleSpec

_PASS = {"pass", "passes", "valid", "ok", True}
_FAIL = {"fail", "fails", "invalid", False}


class Evaluable(Protocol):
    """Anything with evaluate(context, related=, now=): an Expression or a DecisionTable."""

    def evaluate(
        self, context: Mapping[str, Any], *, related: Any = None, now: Any = None, timezone: Any = None
    ) -> Any: ...


def same_value(expected: Any, got: Any) -> bool:
    """Equality for examples: numbers within 1e-9, decimals against floats, everything else ==."""
    numbers = (int, float, Decimal)
    if (
        isinstance(expected, numbers)
        and isinstance(got, numbers)
        and not isinstance(expected, bool)
        and not isinstance(got, bool)
    ):
        return math.isclose(float(expected), float(got), rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)):
        return len(expected) == len(got) and all(same_value(a, b) for a, b in zip(expected, got))
    return expected == got


def _show(value: Any) -> str:
    return "null" if value is None else str(value)


def run_examples(
    subject: Evaluable,
    examples: Sequence[ExampleSpec | Mapping[str, Any]],
    *,
    name: str,
    loc: Loc = (),
    validation: bool = False,
    related: Any = None,
    now: Any = None,
) -> list[Problem]:
    """Problems for the examples of one rule, computed value or table (empty list: all pass).

    `loc` is where the subject sits in the blueprint; each problem's loc is
    loc + ("examples", index). With `validation=True` an example's expect is
    pass/fail and the subject passes when its value is truthy.
    """
    problems: list[Problem] = []
    for index, raw in enumerate(examples):
        where = (*loc, "examples", index)
        try:
            example = raw if isinstance(raw, ExampleSpec) else ExampleSpec.model_validate(raw)
        except ValidationError as exc:
            problems.extend(Problem((*where, *e["loc"]), "example.invalid", e["msg"]) for e in exc.errors())
            continue
        port = InMemoryRelated(example.related) if example.related is not None else related
        label = f"example {index + 1} of {name}"
        inputs = describe_inputs(example.given) or "no inputs"
        expected = example.expect
        if validation:
            if expected not in _PASS and expected not in _FAIL:
                problems.append(
                    Problem(
                        (*where, "expect"), "example.invalid", f"{label}: expect must be pass or fail, not {expected!r}"
                    )
                )
                continue
            expected = "pass" if expected in _PASS else "fail"
        try:
            got = subject.evaluate(example.given, related=port, now=example.now or now)
        except RuleError as exc:
            problems.append(
                Problem(
                    where, "example.failed", f"{label}: expected {_show(expected)}, but it failed ({exc}) for {inputs}"
                )
            )
            continue
        if validation:
            got = "pass" if got else "fail"
        if not same_value(expected, got):
            problems.append(
                Problem(where, "example.failed", f"{label}: expected {_show(expected)}, got {_show(got)} for {inputs}")
            )
    return problems


def run_table_examples(tables: Mapping[str, Any], *, related: Any = None, now: Any = None) -> list[Problem]:
    """Problems for the `examples:` of every compiled DecisionTable, loc (name, "examples", i)."""
    problems: list[Problem] = []
    for table_name, table in tables.items():
        problems.extend(
            run_examples(table, table.spec.examples, name=table_name, loc=(table_name,), related=related, now=now)
        )
    return problems


def all_pass(problems: Iterable[Problem]) -> bool:
    return not any(p.code == "example.failed" for p in problems)
