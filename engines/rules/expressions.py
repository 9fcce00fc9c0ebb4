"""Compile an expression once, evaluate it many times.

Built on simpleeval: the source is parsed and checked when the blueprint loads
(unknown names and functions are blueprint errors), and evaluation reuses the parsed
tree, never the text.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Collection, Mapping

from simpleeval import EvalWithCompoundTypes

from .functions import FUNCTIONS


class ExpressionError(Exception):
    """An expression that cannot be accepted (a blueprint author's mistake)."""

    def __init__(self, code: str, message: str, column: int = 0, hint: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.column = column
        self.hint = hint


class RuleError(Exception):
    """An expression that failed while running (bad data, a limit hit)."""


_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Call,
    ast.Constant, ast.Name, ast.Load, ast.Attribute, ast.List, ast.Tuple, ast.keyword,
    ast.And, ast.Or, ast.Not, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod, ast.FloorDiv,
    ast.USub, ast.UAdd, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
    ast.Is, ast.IsNot,
)


def _dotted(node: ast.AST) -> tuple[str, ...] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return tuple(reversed(parts))
    return None


@dataclass
class Expression:
    """A checked, parsed expression; `names` are the root names it reads."""

    source: str
    tree: ast.Expression
    names: frozenset[str] = frozenset()
    paths: frozenset[tuple[str, ...]] = frozenset()
    functions: frozenset[str] = frozenset()
    _functions: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        """The value of the expression with `context` as its names."""
        evaluator = EvalWithCompoundTypes(functions=dict(self._functions), names=_Names(context))
        try:
            return evaluator.eval(self.source, previously_parsed=self.tree.body)
        except RuleError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of user logic is a rule error
            raise RuleError(f"{self.source!r} failed: {exc}") from exc


class _Names(dict):
    """Missing names read as None: a blank field never raises."""

    def __init__(self, context: Mapping[str, Any]):
        super().__init__()
        self._context = context

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> Any:
        value = self._context.get(key) if hasattr(self._context, "get") else None
        return value


def compile_expression(
    source: str,
    names: Collection[str] | None = None,
    functions: Mapping[str, Any] | None = None,
) -> Expression:
    """Parse and check `source`; raise ExpressionError pointing at the fault.

    `names` is the set of root names the expression may read (None: any).
    """
    library = dict(FUNCTIONS if functions is None else functions)
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("expression.empty", "the expression is empty")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError("expression.syntax", f"invalid syntax: {exc.msg}", max((exc.offset or 1) - 1, 0)) from None
    roots: set[str] = set()
    paths: set[tuple[str, ...]] = set()
    called: set[str] = set()
    for node in ast.walk(tree):
        column = getattr(node, "col_offset", 0)
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionError("expression.unsafe", f"`{type(node).__name__}` is not allowed in expressions", column)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ExpressionError("expression.unsafe", f"private attribute `{node.attr}` is not allowed", column)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise ExpressionError("expression.unsafe", "only library functions may be called", column)
            if node.func.id not in library:
                from .problems import did_you_mean

                raise ExpressionError("expression.unknown_function", f"unknown function `{node.func.id}`", column,
                                      did_you_mean(node.func.id, library))
            called.add(node.func.id)
        if isinstance(node, (ast.Attribute, ast.Name)):
            path = _dotted(node)
            if path:
                paths.add(path)
    callees = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in callees and node.id not in ("True", "False", "None"):
            if node.id.startswith("_"):
                raise ExpressionError("expression.unsafe", f"private name `{node.id}` is not allowed", node.col_offset)
            if names is not None and node.id not in names:
                from .problems import did_you_mean

                raise ExpressionError("expression.unknown_name", f"unknown name `{node.id}`", node.col_offset,
                                      did_you_mean(node.id, names))
            roots.add(node.id)
    longest = {p for p in paths if not any(len(q) > len(p) and q[: len(p)] == p for q in paths)}
    return Expression(source.strip(), tree, frozenset(roots), frozenset(longest), frozenset(called), library)
