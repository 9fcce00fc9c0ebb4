"""Compile a blueprint expression and turn whatever is wrong with it into Problems.

The rules engine does the parsing, name, function and type checks (with a column);
here we add what only the blueprint knows: which decision tables exist, and what a
row filter (`where`, translated to SQL) can express.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

from engines.rules import FUNCTIONS, Expression, ExpressionError, Loc, Problem, Scope, compile_expression, did_you_mean

NUMERIC = {"number", "integer", "decimal"}


def _decide(table: str, **inputs: Any) -> Any:
    """Stand-in for decide() while checking: the table names are checked against the blueprint here."""
    return None


def library() -> Mapping[str, Callable[..., Any]]:
    """The function library expressions are checked against (with decide(), registered or not)."""
    if "decide" in FUNCTIONS:
        return FUNCTIONS
    return {**FUNCTIONS, "decide": _decide}


def compile_checked(
    source: Any, scope: Scope, loc: Loc, decision_tables: frozenset[str]
) -> tuple[Expression | None, list[Problem]]:
    """The compiled expression (None when it does not compile) and its problems, located at `loc`."""
    if not isinstance(source, str):
        return None, [Problem(loc, "expression.not_text", "an expression must be written as text")]
    try:
        expression = compile_expression(source, functions=library(), scope=scope)
    except ExpressionError as exc:
        return None, [Problem(loc, exc.code, exc.message, exc.hint, exc.column)]
    return expression, [p.at(*loc) for p in _decide_problems(source, decision_tables)]


def _column(source: str, node: ast.expr) -> int:
    """0-based character offset of `node` in `source`, as the rules engine counts it."""
    lead = len(source) - len(source.lstrip())
    one_line = source.strip().replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return lead + len(one_line.encode("utf-8")[: node.col_offset].decode("utf-8", "ignore"))


def _tree(source: str) -> ast.Expression:
    one_line = source.strip().replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return ast.parse(one_line, mode="eval")


def _decide_problems(source: str, decision_tables: frozenset[str]) -> list[Problem]:
    problems = []
    for node in ast.walk(_tree(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "decide"):
            continue
        first = node.args[0] if node.args else None
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            problems.append(
                Problem(
                    (),
                    "expression.arity",
                    "decide() takes the table name as a quoted text, e.g. decide('bp_risk')",
                    None,
                    _column(source, node),
                )
            )
        elif first.value not in decision_tables:
            hint = did_you_mean(first.value, decision_tables) or (
                "define it under `decision_tables:`" if not decision_tables else None
            )
            problems.append(
                Problem(
                    (),
                    "expression.unknown_table",
                    f"unknown decision table `{first.value}`",
                    hint,
                    _column(source, first),
                )
            )
    return problems


def row_filter_problems(
    source: str, loc: Loc, code: str = "permission.where_unsupported", what: str = "a row filter"
) -> list[Problem]:
    """What a `where` (or a link's `filter`) uses that the SQL row filter cannot express (checked after it compiles)."""
    problems: list[Problem] = []

    def operand(node: ast.expr) -> None:
        if isinstance(node, (ast.Constant, ast.Name)):
            return
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return
        if isinstance(node, (ast.List, ast.Tuple)):
            for item in node.elts:
                operand(item)
            return
        hint = (
            "use one link hop at most (doctor.user, record.department)"
            if isinstance(node, ast.Attribute)
            else "compare fields with values or user.*; combine with and, or, not"
        )
        problems.append(
            Problem(
                loc,
                code,
                f"`{ast.unparse(node)}` cannot be used in {what}",
                hint,
                _column(source, node),
            )
        )

    def clause(node: ast.expr) -> None:
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                clause(value)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            clause(node.operand)
        elif isinstance(node, ast.Compare) and len(node.ops) == 1:
            operand(node.left)
            operand(node.comparators[0])
        elif isinstance(node, (ast.Name, ast.Attribute)):
            operand(node)
        else:
            problems.append(
                Problem(
                    loc,
                    code,
                    f"`{ast.unparse(node)}` cannot be used in {what}",
                    "compare fields with values or user.*; combine with and, or, not",
                    _column(source, node),
                )
            )

    clause(_tree(source).body)
    return problems


def fits(actual: str, expected: str) -> bool:
    """May an expression of rule type `actual` fill a field of rule type `expected`?"""
    if actual in ("any", "null") or expected == "any" or actual == expected:
        return True
    if actual in NUMERIC and expected in NUMERIC:
        return True
    if {actual, expected} <= {"date", "datetime"}:
        return True
    return expected == "record" and actual == "integer"
