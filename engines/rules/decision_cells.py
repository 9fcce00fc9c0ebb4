"""The cell syntax of decision tables, and what each cell matches.

A cell tests one input. The syntax (docs/rules.md, "Cells"):

    -                      anything (also empty / null)
    >= 140  < 90  != x     comparison with a literal (optionally "systolic >= 140")
    [120..139]  (0..10]    range; [ ] include the end, ( ) exclude it
    high  'high risk'  12  equality with a literal (text, number, true/false, null, 2024-01-31)
    [a, b]  (a YAML list)  one of the values

Each cell compiles to a tiny Python condition for the table's generated matcher,
and answers `matches(value)` with the very same semantics (for explain and checks).
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_COMPARE = re.compile(r"^\s*(?:(?P<name>[A-Za-z_][\w.]*)\s*)?(?P<op>>=|<=|==|!=|=|>|<)\s*(?P<value>.+?)\s*$")
_RANGE = re.compile(
    r"^\s*(?P<open>[\[(\]])\s*(?P<lo>[^\[\]()]+?)\s*\.\.\s*(?P<hi>[^\[\]()]+?)\s*(?P<close>[\])\[])\s*$"
)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SPECIAL = set("<>=[](){}")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


class CellError(ValueError):
    """A cell the syntax does not allow; `hint` suggests the right form."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


def parse_literal(text: str) -> Any:
    """A literal as written in a cell: 'quoted' or "quoted" text, number, true/false/null, ISO date, or a bare word."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none"):
        return None
    if _NUMBER.match(text):
        number = float(text)
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else number
    if _DATE.match(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise CellError(f"{text!r} is not a valid date") from None
    if not text or _SPECIAL & set(text) or "'" in text or '"' in text:
        raise CellError(f"cannot read the value {text!r}", "quote texts like 'high risk', write numbers plainly")
    return text


@dataclass(frozen=True)
class Cell:
    """One parsed cell. `kind` is any | compare | range | equals | one_of."""

    kind: str
    text: str
    op: str = ""  # compare cells only
    value: Any = None
    low: Any = None
    high: Any = None
    low_closed: bool = True
    high_closed: bool = True
    values: tuple[Any, ...] = ()

    # -- matching (identical to the generated condition) ------------------------------
    def matches(self, value: Any) -> bool:
        if self.kind == "any":
            return True
        if self.kind == "equals":
            return value is None if self.value is None else value == self.value
        if self.kind == "one_of":
            return value in self.values
        if self.kind == "compare":
            if self.op == "==":
                return value == self.value
            if self.op == "!=":
                return value != self.value
            return value is not None and _OPS[self.op](value, self.value)
        if value is None:
            return False
        low_ok = value >= self.low if self.low_closed else value > self.low
        return low_ok and (value <= self.high if self.high_closed else value < self.high)

    def condition(self, var: str, bind: Callable[[Any], str]) -> str | None:
        """Python source testing `var`, or None when the cell matches anything."""
        if self.kind == "any":
            return None
        if self.kind == "equals":
            return f"{var} is None" if self.value is None else f"{var} == {bind(self.value)}"
        if self.kind == "one_of":
            return f"{var} in {bind(self.values)}"
        if self.kind == "compare":
            if self.op in ("==", "!="):
                return f"{var} {self.op} {bind(self.value)}"
            return f"({var} is not None and {var} {self.op} {bind(self.value)})"
        low_op = "<=" if self.low_closed else "<"
        high_op = "<=" if self.high_closed else "<"
        return f"({var} is not None and {bind(self.low)} {low_op} {var} {high_op} {bind(self.high)})"

    # -- analysis ----------------------------------------------------------------------
    def interval(self) -> tuple[float, bool, float, bool] | None:
        """(low, low_closed, high, high_closed) for numeric cells; None when not numeric."""
        if self.kind == "range" and _is_number(self.low) and _is_number(self.high):
            return (self.low, self.low_closed, self.high, self.high_closed)
        if self.kind == "compare" and _is_number(self.value) and self.op in (">", ">=", "<", "<="):
            if self.op in (">", ">="):
                return (self.value, self.op == ">=", math.inf, False)
            return (-math.inf, False, self.value, self.op == "<=")
        if self.kind == "equals" and _is_number(self.value):
            return (self.value, True, self.value, True)
        return None

    def points(self) -> tuple[Any, ...]:
        """Literal values this cell mentions (candidate inputs for gap search)."""
        if self.kind in ("equals",) or (self.kind == "compare" and self.op in ("==", "!=")):
            return (self.value,)
        if self.kind == "one_of":
            return self.values
        return ()

    def describe(self) -> str:
        return self.text


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


ANY_CELL = Cell("any", "-")


def parse_cell(raw: Any, input_name: str) -> Cell:
    """Parse one cell of the column testing `input_name`; raise CellError when it cannot be read."""
    if raw is None:
        return ANY_CELL
    if isinstance(raw, (bool, int, float, dt.date)):
        return Cell("equals", repr(raw) if not isinstance(raw, dt.date) else raw.isoformat(), value=raw)
    if isinstance(raw, (list, tuple)):
        values = tuple(parse_literal(v) if isinstance(v, str) else v for v in raw)
        if not values:
            raise CellError("an empty list matches nothing", "write - to match anything")
        return Cell("one_of", ", ".join(map(str, raw)), values=values)
    if not isinstance(raw, str):
        raise CellError(f"a cell must be a text, number or list, not {type(raw).__name__}")
    text = raw.strip()
    if text in ("", "-"):
        return ANY_CELL
    found = _RANGE.match(text)
    if found:
        low, high = parse_literal(found["lo"]), parse_literal(found["hi"])
        if type(low) is not type(high) and not (_is_number(low) and _is_number(high)):
            raise CellError(f"the range {text!r} mixes kinds of values")
        try:
            if low > high:
                raise CellError(f"the range {text!r} is empty: {low} is above {high}")
        except TypeError:
            raise CellError(f"the range {text!r} cannot be ordered") from None
        return Cell(
            "range", text, low=low, high=high, low_closed=found["open"] == "[", high_closed=found["close"] == "]"
        )
    found = _COMPARE.match(text)
    if found:
        name = found["name"]
        if name is not None and name != input_name:
            raise CellError(
                f"this column tests `{input_name}`, not `{name}`",
                f"write {found['op']} {found['value']} or {input_name} {found['op']} {found['value']}",
            )
        op = "==" if found["op"] == "=" else found["op"]
        value = parse_literal(found["value"])
        if value is None and op not in ("==", "!="):
            raise CellError("only == and != compare with null")
        return Cell("compare", text, op=op, value=value)
    if ".." in text:
        raise CellError(f"cannot read the range {text!r}", "write ranges like [120..139] or [120..140)")
    try:
        value = parse_literal(text)
    except CellError as exc:
        raise CellError(exc.message, "write >= 140, [120..139], a value like high, or - for any") from None
    return Cell("equals", text, value=value)
