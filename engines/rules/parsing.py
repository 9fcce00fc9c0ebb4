"""Parse expression text once and refuse every construct outside the language.

The language is a small subset of Python expressions. Anything else (lambdas,
comprehensions, subscripts, f-strings, method calls, private names...) is refused
here, with the column, before the checker or the compiler ever see the tree.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .errors import ExpressionError
from .limits import MAX_BRACKET_DEPTH, MAX_DEPTH, MAX_NODES, MAX_SOURCE_LENGTH
from .syntax_messages import explain_syntax

_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Attribute,
    ast.List,
    ast.Tuple,
    ast.keyword,
    ast.And,
    ast.Or,
    ast.Not,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Mod,
    ast.FloorDiv,
    ast.Pow,
    ast.USub,
    ast.UAdd,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
)
_WHY_NOT = {
    ast.Lambda: "lambdas are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generators are not allowed",
    ast.Subscript: "indexing with [...] is not supported",
    ast.Slice: "slicing is not supported",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.NamedExpr: "`:=` is not allowed",
    ast.Starred: "`*` unpacking is not allowed",
    ast.Dict: "{...} mappings are not supported",
    ast.Set: "{...} sets are not supported",
    ast.Await: "`await` is not allowed",
    ast.Yield: "`yield` is not allowed",
    ast.YieldFrom: "`yield` is not allowed",
    ast.BitAnd: "bitwise operators are not supported",
    ast.BitOr: "bitwise operators are not supported",
    ast.BitXor: "bitwise operators are not supported",
    ast.LShift: "shift operators are not supported",
    ast.RShift: "shift operators are not supported",
    ast.Invert: "`~` is not supported",
    ast.MatMult: "`@` is not supported",
}
_LITERAL_TYPES = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Parsed:
    """A parsed, structurally safe expression and the way back from nodes to columns."""

    text: str  # the stripped source
    tree: ast.Expression
    lead: int  # characters stripped from the front
    encoded: bytes

    def column(self, node: ast.AST) -> int:
        """0-based character offset of `node` in the original source."""
        byte_offset = getattr(node, "col_offset", 0) or 0
        return self.lead + len(self.encoded[:byte_offset].decode("utf-8", "ignore"))


def _bracket_depth(text: str) -> tuple[int, int]:
    depth = deepest = where = 0
    for index, char in enumerate(text):
        if char in "([{":
            depth += 1
            if depth > deepest:
                deepest, where = depth, index
        elif char in ")]}":
            depth -= 1
    return deepest, where


def parse(source: str) -> Parsed:
    """Parse `source` (one expression) and refuse anything outside the language."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("expression.empty", "the expression is empty")
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(
            "expression.too_long", f"the expression is longer than {MAX_SOURCE_LENGTH} characters", MAX_SOURCE_LENGTH
        )
    lead = len(source) - len(source.lstrip())
    text = source.strip()
    depth, where = _bracket_depth(text)
    if depth > MAX_BRACKET_DEPTH:
        raise ExpressionError(
            "expression.too_deep", f"brackets are nested more than {MAX_BRACKET_DEPTH} deep", lead + where
        )
    one_line = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    try:
        tree = ast.parse(one_line, mode="eval")
    except SyntaxError as exc:
        said, at = explain_syntax(one_line, exc.msg, exc.offset)
        raise ExpressionError("expression.syntax", said, lead + at) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(
            "expression.syntax", f"the expression cannot be read: {type(exc).__name__}", lead
        ) from None
    parsed = Parsed(text, tree, lead, one_line.encode("utf-8"))
    _refuse_unsafe(parsed)
    _LiteralWords().visit(tree)  # in place, once the depth is known to be bounded
    return parsed


LITERAL_WORDS = {"true": True, "false": False, "null": None}


class _LiteralWords(ast.NodeTransformer):
    """`true`, `false` and `null` as YAML writes them mean True, False and None."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in LITERAL_WORDS:
            return ast.copy_location(ast.Constant(LITERAL_WORDS[node.id]), node)
        return node


def _refuse_unsafe(parsed: Parsed) -> None:
    stack: list[tuple[ast.AST, int]] = [(parsed.tree, 0)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        column = parsed.column(node)
        if count > MAX_NODES:
            raise ExpressionError("expression.too_long", f"the expression has more than {MAX_NODES} parts", column)
        if depth > MAX_DEPTH:
            raise ExpressionError("expression.too_deep", f"the expression is nested more than {MAX_DEPTH} deep", column)
        _refuse_node(node, column)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _unsafe(message: str, column: int, hint: str | None = None) -> ExpressionError:
    return ExpressionError("expression.unsafe", message, column, hint)


def _refuse_node(node: ast.AST, column: int) -> None:
    if not isinstance(node, _ALLOWED):
        why = _WHY_NOT.get(type(node), f"`{type(node).__name__}` is not allowed in expressions")
        raise _unsafe(why, column)
    if isinstance(node, ast.Constant) and not isinstance(node.value, _LITERAL_TYPES):
        raise _unsafe(f"{type(node.value).__name__} literals are not supported", column)
    if isinstance(node, ast.Name) and node.id.startswith("_"):
        raise _unsafe(f"names starting with `_` are not allowed (`{node.id}`)", column)
    if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
        raise _unsafe(f"private attribute `{node.attr}` is not allowed", column)
    if isinstance(node, ast.keyword) and (node.arg is None or node.arg.startswith("_")):
        raise _unsafe("`**` arguments and private argument names are not allowed", column)
    if isinstance(node, ast.Call) and not isinstance(node.func, ast.Name):
        hint = f"write {node.func.attr}(value) instead" if isinstance(node.func, ast.Attribute) else None
        raise _unsafe("only library functions may be called (no methods)", column, hint)
    if isinstance(node, ast.Compare):
        for op, right, left in zip(node.ops, node.comparators, [node.left, *node.comparators]):
            if isinstance(op, (ast.Is, ast.IsNot)) and not (_is_none(right) or _is_none(left)):
                raise ExpressionError("expression.syntax", "`is` only tests for None; use == to compare values", column)


def called_name(node: ast.Call) -> str:
    """The library function a call names; `parse` refuses every other call (`a.b()`, `f()()`)."""
    if not isinstance(node.func, ast.Name):
        raise _unsafe("only library functions may be called (no methods)", getattr(node, "col_offset", 0))
    return node.func.id


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None
