"""Expression measures: arithmetic over other measures (`(visits - patients) / visits`).

They compile to SQL over the aggregates, so sorting and limits see them too.
Division casts to a floating value and divides by NULLIF(denominator, 0): a rate
over an empty group is empty (null), never an error or an infinity.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from engines.rules import ExpressionError
from engines.rules.parsing import parse

from .where_sql import WhereError

_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: sa.cast(a, sa.Float) / sa.func.nullif(b, 0),
}


def _tree(source: str) -> tuple[ast.AST, Callable[[ast.AST], int]]:
    try:
        parsed = parse(source)
    except ExpressionError as exc:
        raise WhereError(exc.message, exc.column, exc.hint) from None
    return parsed.tree.body, parsed.column


def measure_names(source: str) -> list[tuple[str, int]]:
    """The measures `source` refers to, with their columns; raises WhereError on anything but arithmetic."""
    tree, column = _tree(source)
    names: list[tuple[str, int]] = []

    def walk(node: ast.AST) -> None:
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            walk(node.left)
            walk(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            walk(node.operand)
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return
        elif isinstance(node, ast.Name):
            names.append((node.id, column(node)))
        else:
            raise WhereError(
                f"`{ast.unparse(node)}` cannot be used in a measure expression",
                column(node),
                "combine other measures and numbers with + - * / and brackets",
            )

    walk(tree)
    return names


def compile_measure_expr(source: str, measures: Mapping[str, Any]) -> Any:
    """The SQL of `source` with each measure name replaced by its SQL (checked already)."""
    tree, _ = _tree(source)

    def build(node: ast.AST) -> Any:
        if isinstance(node, ast.BinOp):
            return _OPS[type(node.op)](build(node.left), build(node.right))
        if isinstance(node, ast.UnaryOp):
            inner = build(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.Constant):
            return sa.literal(node.value)
        assert isinstance(node, ast.Name)
        return measures[node.id]

    return build(tree)


def evaluate_measure_expr(source: str, values: Mapping[str, Any]) -> Any:
    """`source` over measure values in Python (for filled empty buckets): empty or a division by zero gives None."""
    tree, _ = _tree(source)

    def value(node: ast.AST) -> Any:
        if isinstance(node, ast.BinOp):
            left, right = value(node.left), value(node.right)
            if left is None or right is None:
                return None
            if isinstance(node.op, ast.Div):
                return None if right == 0 else left / right
            return {ast.Add: left + right, ast.Sub: left - right, ast.Mult: left * right}[type(node.op)]
        if isinstance(node, ast.UnaryOp):
            inner = value(node.operand)
            return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
        if isinstance(node, ast.Constant):
            return node.value
        assert isinstance(node, ast.Name)
        found = values.get(node.id)
        return found if isinstance(found, (int, float)) else None

    return value(tree)
