"""Load-time checks of decision tables: overlapping rows and uncovered inputs.

Both searches test a small set of candidate values per input column: every value a
cell mentions, its neighbours, and midpoints between them. For interval and
equality cells that set is complete: if two rows overlap, or some input matches
no row, a candidate shows it, and the problem names that example input.
"""

from __future__ import annotations

import ast
import datetime as dt
import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from .decision_cells import Cell
from .decision_tables import DecisionTable, TableError, compile_decision_table
from .plain import describe_inputs
from .problems import Problem
from .scope import Scope
from .specs import DecisionTableSpec

MAX_COMBINATIONS = 50_000


class _Other:
    """A value equal to nothing a table mentions ("any other value")."""

    def __repr__(self) -> str:
        return "another value"


OTHER = _Other()


def _safe_match(cell: Cell, value: Any) -> bool:
    try:
        return cell.matches(value)
    except TypeError:
        return False


def _neighbours(value: Any, whole: bool) -> list[Any]:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return [value - dt.timedelta(days=1), value + dt.timedelta(days=1)]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        step = 1 if whole else 0.5
        return [value - step, value + step]
    return []


def column_candidates(cells: Iterable[Cell], whole: bool) -> list[Any]:
    """Values worth trying for one input column (see module doc)."""
    bounds: list[Any] = []
    for cell in cells:
        interval = cell.interval()
        if interval is not None:
            bounds.extend(b for b in (interval[0], interval[2]) if math.isfinite(b))
        elif cell.kind == "range":
            bounds.extend((cell.low, cell.high))
        elif cell.kind == "compare" and cell.op not in ("==", "!="):
            bounds.append(cell.value)
        bounds.extend(cell.points())
    numbers = sorted({b for b in bounds if isinstance(b, (int, float)) and not isinstance(b, bool)})
    candidates: list[Any] = list(bounds)
    for low, high in itertools.pairwise(numbers):
        middle = (low + high) / 2
        if not whole or float(middle).is_integer():
            candidates.append(int(middle) if float(middle).is_integer() else middle)
    for value in bounds:
        candidates.extend(_neighbours(value, whole))
    numeric_only = bool(bounds) and len(numbers) == len(set(bounds))
    unique: list[Any] = []
    for value in candidates + ([] if numeric_only else [OTHER]):
        if value is not None and not any(
            value is seen or (type(value) is type(seen) and value == seen) for seen in unique
        ):
            unique.append(value)
    return unique or [OTHER]


def _is_whole(source: str, scope: Scope | None) -> bool:
    """Is this input a whole number (an integer field)? Gaps between 139 and 140 then do not exist."""
    if scope is None:
        return False
    try:
        node = ast.parse(source.strip(), mode="eval").body
    except SyntaxError:
        return False
    if isinstance(node, ast.Name):
        found = scope.lookup(node.id)
        return found is not None and found.type == "integer"
    return False


def find_overlaps(table: DecisionTable, candidates: list[list[Any]]) -> list[Problem]:
    """Pairs of rows that can both match (a mistake under hit: unique)."""
    problems: list[Problem] = []
    names = [e.source for e in table.inputs]
    for first, second in itertools.combinations(range(len(table.cells)), 2):
        witness: dict[str, Any] = {}
        for column, values in enumerate(candidates):
            a, b = table.cells[first][column], table.cells[second][column]
            shared = next((v for v in values if _safe_match(a, v) and _safe_match(b, v)), None)
            if shared is None:
                break
            witness[names[column]] = shared
        else:
            problems.append(
                Problem(
                    (table.name, "rows", second),
                    "decision_table.overlap",
                    f"rows {first + 1} and {second + 1} of {table.name} both match "
                    f"{_describe(witness, table)} (hit policy unique allows only one)",
                    "narrow one of the rows, or use hit: first if the order decides",
                )
            )
    return problems


def find_gap(table: DecisionTable, candidates: list[list[Any]]) -> Problem | None:
    """An input combination no row matches (the table would give null), or None."""
    total = math.prod(len(values) for values in candidates)
    if total > MAX_COMBINATIONS:
        return None
    names = [e.source for e in table.inputs]
    for combination in itertools.product(*candidates):
        if not any(all(_safe_match(cell, value) for cell, value in zip(row, combination)) for row in table.cells):
            example = dict(zip(names, combination))
            return Problem(
                (table.name, "rows"),
                "decision_table.gap",
                f"no row of {table.name} matches {_describe(example, table)}",
                "add a row for it, a last row of - cells, or a default: value",
            )
    return None


def _describe(values: Mapping[str, Any], table: DecisionTable) -> str:
    shown = {
        name: ("any value" if value is OTHER and all(c[i].kind == "any" for c in table.cells) else value)
        for i, (name, value) in enumerate(values.items())
    }
    return describe_inputs(shown).replace("'another value'", "another value").replace("'any value'", "any value")


def analyse(table: DecisionTable, scope: Scope | None = None) -> list[Problem]:
    """Overlaps (under unique) and gaps (unless collect or a default is given) of a compiled table."""
    whole = [_is_whole(source, scope) for source in table.spec.inputs]
    candidates = [column_candidates((row[i] for row in table.cells), whole[i]) for i in range(len(table.inputs))]
    problems: list[Problem] = []
    if table.hit == "unique":
        problems.extend(find_overlaps(table, candidates))
    if table.hit != "collect" and table.spec.default is None:
        gap = find_gap(table, candidates)
        if gap is not None:
            problems.append(gap)
    return problems


def build_decision_tables(
    section: Mapping[str, Any] | None,
    *,
    scope: Scope | None = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> tuple[dict[str, DecisionTable], list[Problem]]:
    """Compile every table of a `decision_tables:` section and check it.

    Returns the tables that compiled (a table may decide() those above it) and all
    problems, with loc paths relative to the section: ("bp_risk", "rows", 2, "when", 0).
    """
    tables: dict[str, DecisionTable] = {}
    problems: list[Problem] = []
    for name, raw in (section or {}).items():
        try:
            spec = raw if isinstance(raw, DecisionTableSpec) else DecisionTableSpec.model_validate(raw)
        except ValidationError as exc:
            problems.extend(
                Problem((name, *error["loc"]), "decision_table.invalid", error["msg"]) for error in exc.errors()
            )
            continue
        try:
            table = compile_decision_table(name, spec, scope=scope, functions=functions, tables=tables)
        except TableError as exc:
            problems.extend(problem.at(name) for problem in exc.problems)
            continue
        tables[name] = table
        problems.extend(analyse(table, scope))
    return tables, problems


def check_decision_tables(
    section: Mapping[str, Any] | None,
    *,
    scope: Scope | None = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> list[Problem]:
    """Every problem of a `decision_tables:` section (see build_decision_tables)."""
    return build_decision_tables(section, scope=scope, functions=functions)[1]
