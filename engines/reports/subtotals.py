"""Subtotals: a row per value of a dimension, with every other dimension rolled up, and their protection.

Each subtotal dimension is grouped in SQL (the same FROM and WHERE, grouped by
that dimension alone: a grouping set, or a part, of the report's one statement),
so `count_distinct` subtotals are right (a patient seen by two doctors counts once
in the month's subtotal), as the totals are. Subtotal rows carry `_subtotal: <dimension>` and an empty value for the
dimensions rolled up.

Small-cell suppression must then also protect the subtotals, and the details
through them. The subtotal column is first hidden exactly as the one-dimension
report over that dimension would hide its cells (primary and complementary
against the grand total). Then, as an attacker would, every hidden cell is
solved at once from every equation the result shows: each subtotal is the sum
of its details, the grand total the sum of all, and the lines of the other
dimensions (their one-dimension reports) are known. A hidden cell still pinned
down gets another complement in one of its equations (its line's smallest shown
cell), until none is (or nothing is left, and the grand total is hidden).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from .bounds import pinned_cells
from .suppression import BOUNDS_LIMIT, EXACT_LIMIT, Suppressed, suppress_column

Cell = tuple[Any, ...]  # ("d", row) | ("s", dimension, row) | ("t",)


def determined_cells(unknowns: Sequence[Cell], equations: Sequence[Mapping[Cell, int]]) -> set[Cell]:
    """The unknowns whose value follows from the equations (known right-hand sides), by exact linear algebra."""
    order = list(unknowns)
    position = {cell: i for i, cell in enumerate(order)}
    basis: list[tuple[int, list[Fraction]]] = []

    def reduce(row: list[Fraction]) -> list[Fraction]:
        for pivot, base in basis:
            if row[pivot]:
                factor = row[pivot]
                row = [a - factor * b for a, b in zip(row, base)]
        return row

    for equation in equations:
        row = [Fraction(0)] * len(order)
        for cell, coefficient in equation.items():
            if cell in position:
                row[position[cell]] += coefficient
        row = reduce(row)
        pivot = next((i for i, value in enumerate(row) if value), None)
        if pivot is None:
            continue
        row = [value / row[pivot] for value in row]
        basis = [(p, [a - b[pivot] * c for a, c in zip(b, row)]) if b[pivot] else (p, b) for p, b in basis]
        basis.append((pivot, row))
    found = set()
    for cell, index in position.items():
        unit = [Fraction(0)] * len(order)
        unit[index] = Fraction(1)
        if not any(reduce(unit)):
            found.add(cell)
    return found


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def protect_subtotals(
    rows: list[dict[str, Any]],
    raw: Sequence[Mapping[str, Any]],
    sizes: Sequence[int],
    subtotals: Mapping[str, tuple[list[dict[str, Any]], list[int]]],
    totals: dict[str, Any] | None,
    *,
    dimensions: Sequence[str],
    base_measures: Mapping[str, str],
    depends: Mapping[str, set[str]],
    min_cell: int,
) -> int:
    """Hide subtotal cells (and more details where needed) in place, after `suppress`; return how many were hidden.

    `raw` are the rows' values before `suppress` hid some (the search by whole numbers needs them).
    """
    marker = Suppressed(min_cell)
    count = 0
    other_lines = _other_lines(rows, sizes, dimensions, set(subtotals))
    singles = _other_lines(rows, sizes, dimensions, set(subtotals), single=True)  # alone: another report shows them
    for measure, agg in base_measures.items():
        counting = agg in ("count", "count_distinct")
        values: dict[Cell, Any] = {("d", i): row[measure] for i, row in enumerate(rows)}
        size_of: dict[Cell, int] = {("d", i): size for i, size in enumerate(sizes)}
        hidden = {cell for cell, value in values.items() if isinstance(value, Suppressed)}
        total_hidden = totals is not None and isinstance(totals.get(measure), Suppressed)
        equations: list[dict[Cell, int]] = [{**{("d", i): 1 for i in range(len(rows))}, ("t",): -1}]
        for key, (sub_rows, sub_sizes) in subtotals.items():
            column = [row[measure] for row in sub_rows]
            primary = {
                j
                for j, row in enumerate(sub_rows)
                if sub_sizes[j] > 0
                and (
                    sub_sizes[j] < min_cell
                    or (counting and isinstance(row[measure], int) and 0 < row[measure] < min_cell)
                )
            }
            chosen, whole = suppress_column(column, sub_sizes, primary, [list(range(len(sub_rows)))], counting=counting)
            total_hidden = total_hidden or whole
            for j, row in enumerate(sub_rows):
                cell = ("s", key, j)
                values[cell], size_of[cell] = row[measure], sub_sizes[j]
                if j in chosen:
                    hidden.add(cell)
                line = {("d", i): -1 for i, detail in enumerate(rows) if repr(detail[key]) == repr(row[key])}
                equations.append({cell: 1, **line})
        equations += [{("d", i): 1 for i in line} for line in other_lines]
        for _ in range(len(values) + 1):
            unknowns = sorted(hidden, key=repr) + ([("t",)] if total_hidden else [])
            if len(unknowns) > EXACT_LIMIT:
                break
            pinned = [cell for cell in determined_cells(unknowns, equations) if cell != ("t",)]
            if not pinned and counting and len(unknowns) <= BOUNDS_LIMIT:
                public = {i for i in singles if sizes[i] >= min_cell and _number(raw[i][measure]) >= min_cell}
                pinned = _pinned_by_bounds(raw, measure, hidden, total_hidden, subtotals, other_lines, public)
            if not pinned:
                break
            candidates = []
            for cell in sorted(pinned, key=repr):  # the first pinned cell that another hidden cell can cover
                candidates = [
                    other
                    for equation in equations
                    if cell in equation
                    for other in equation
                    if other != ("t",) and other not in hidden and size_of.get(other, 0) > 0
                ]
                if candidates:
                    break
            if not candidates and total_hidden:  # pinned through other equations: cover one of those
                candidates = [
                    other
                    for equation in equations
                    if any(c in hidden for c in equation)
                    for other in equation
                    if other != ("t",) and other not in hidden and size_of.get(other, 0) > 0
                ]
            if candidates:
                hidden.add(min(candidates, key=lambda c: (_number(values[c]), size_of[c], repr(c))))
            elif not total_hidden:
                total_hidden = True
            else:
                break
        for cell in hidden:
            target = rows[int(cell[1])] if cell[0] == "d" else subtotals[str(cell[1])][0][int(cell[2])]
            if not isinstance(target[measure], Suppressed):
                target[measure] = marker
                count += 1
        if totals is not None and total_hidden and not isinstance(totals.get(measure), Suppressed):
            totals[measure] = marker
            count += 1
    every = [*rows, *(row for sub_rows, _ in subtotals.values() for row in sub_rows)]
    for measure, bases in depends.items():
        for row in every:
            if any(isinstance(row.get(b), Suppressed) for b in bases) and not isinstance(row.get(measure), Suppressed):
                row[measure] = marker
                count += 1
        hides = totals is not None and any(isinstance(totals.get(b), Suppressed) for b in bases)
        if totals is not None and hides and not isinstance(totals.get(measure), Suppressed):
            totals[measure] = marker
            count += 1
    return count


def _pinned_by_bounds(
    raw: Sequence[Mapping[str, Any]],
    measure: str,
    hidden: set[Cell],
    total_hidden: bool,
    subtotals: Mapping[str, tuple[list[dict[str, Any]], list[int]]],
    other_lines: list[list[int]],
    public: set[int],
) -> list[Cell]:
    """Hidden details and subtotals that whole-number bounds pin down (bounds.py), given what the result shows."""
    details = sorted(int(cell[1]) for cell in hidden if cell[0] == "d")
    truth = {i: int(_number(raw[i][measure])) for i in details if i not in public}

    def equation(line: Sequence[int]) -> tuple[list[int], int]:
        cells = [i for i in line if i in truth]
        return cells, sum(truth[i] for i in cells)

    equations = [] if total_hidden else [equation(range(len(raw)))]
    sums: dict[Any, list[int]] = {}
    for key, (sub_rows, _) in subtotals.items():
        for j, row in enumerate(sub_rows):
            line = [i for i, detail in enumerate(raw) if repr(detail[key]) == repr(row[key])]
            if ("s", key, j) in hidden:
                sums[("s", key, j)] = [i for i in line if i in truth]
            else:
                equations.append(equation(line))
    equations += [equation(line) for line in other_lines]
    found = pinned_cells([e for e in equations if e[0]], truth, sums)
    return sorted((("d", c) if isinstance(c, int) else c for c in found or ()), key=repr)


def _other_lines(
    rows: Sequence[Mapping[str, Any]],
    sizes: Sequence[int],
    dimensions: Sequence[str],
    shown: set[str],
    single: bool = False,
) -> Any:
    """Lines of rows alike in the other dimensions whose totals another report shows (those not grouped by a
    subtotal dimension: the subtotal rows are those lines' totals here, hidden or not)."""
    lines: list[list[int]] = []
    if len(dimensions) < 2:
        return lines
    for axis in range(len(dimensions)):
        others = [d for i, d in enumerate(dimensions) if i != axis]
        if shown & set(others):
            continue
        grouped: dict[tuple[Any, ...], list[int]] = {}
        for index, row in enumerate(rows):
            if sizes[index] > 0:
                grouped.setdefault(tuple(repr(row[d]) for d in others), []).append(index)
        lines.extend(line for line in grouped.values() if (len(line) == 1) == single)
    return {line[0] for line in lines} if single else lines
