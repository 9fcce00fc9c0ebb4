"""Small-cell suppression: groups too small to show to a viewer who may not read the records.

A cell is suppressed first (primary) when its group has fewer than `min_cell`
records, or when it is a count between 1 and `min_cell - 1`. Totals would then
give it away (total minus the shown cells), so cells are suppressed besides
(complementary) until every line a total could be taken over (the whole table;
for two dimensions also each row and each column of two cells or more) either has no suppressed cell,
or has at least two whose sum is not just their number (two hidden cells
summing to 2 are both 1). Then, as an attacker would, the hidden cells are
solved from every line's total at once (exact linear algebra): any cell the
totals still pin down gets another complement in its line. Complements are the
line's smallest non-empty cells, preferring cells that are not alone along
another dimension (the one-dimension report would show such a cell's value).
When a line has no cell left to hide, its total is hidden too (the grand total;
row and column subtotals are not shown, unless the report asks for `subtotals`:
then subtotals.py protects them, and the details through them, afterwards). Expression measures are hidden wherever
a measure they are computed from is. Cells of buckets with no records (filled
zeros) are never hidden: a zero discloses nobody.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .bounds import pinned_cells

EXACT_LIMIT = 400  # hidden cells beyond which the exact check is skipped (the line rules still hold)
BOUNDS_LIMIT = 60  # hidden cells beyond which the whole-number search is skipped (it has a node budget too)


@dataclass(frozen=True)
class Suppressed:
    """A hidden cell: shown as `<5`, never as its value."""

    below: int

    def __str__(self) -> str:
        return f"<{self.below}"


def _alone(rows: Sequence[Mapping[str, Any]], dimensions: Sequence[str], sizes: Sequence[int]) -> set[int]:
    """Cells alone in their line along some dimension: a one-dimension report shows their value as a total."""
    if len(dimensions) < 2:
        return set()
    alone: set[int] = set()
    for axis in range(len(dimensions)):
        others = [d for i, d in enumerate(dimensions) if i != axis]
        grouped: dict[tuple[Any, ...], list[int]] = {}
        for index, row in enumerate(rows):
            if sizes[index] == 0:
                continue  # a filled empty bucket: a shown zero, no part of any hidden sum
            grouped.setdefault(tuple(repr(row[d]) for d in others), []).append(index)
        alone.update(line[0] for line in grouped.values() if len(line) == 1)
    return alone


def _lines(rows: Sequence[Mapping[str, Any]], dimensions: Sequence[str], sizes: Sequence[int]) -> list[list[int]]:
    """Groups of row indexes a total could be taken over: all rows, and per dimension the rows alike elsewhere.

    A line of one cell is left out: its total is the cell itself, which the
    one-dimension report hides by the same rule.
    """
    everything = list(range(len(rows)))
    lines = [everything]
    if len(dimensions) < 2:
        return lines
    for axis in range(len(dimensions)):
        others = [d for i, d in enumerate(dimensions) if i != axis]
        grouped: dict[tuple[Any, ...], list[int]] = {}
        for index, row in enumerate(rows):
            if sizes[index] == 0:
                continue  # a filled empty bucket: a shown zero, no part of any hidden sum
            grouped.setdefault(tuple(repr(row[d]) for d in others), []).append(index)
        lines.extend(line for line in grouped.values() if len(line) > 1)  # one cell: its total is itself
    return lines


def _numeric(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def determined(hidden: set[int], lines: list[list[int]]) -> set[int]:
    """The hidden cells whose value follows from the lines' totals (and the shown cells), by linear algebra."""
    order = sorted(hidden)
    position = {cell: i for i, cell in enumerate(order)}
    basis: list[tuple[int, list[Fraction]]] = []  # (pivot column, reduced row)

    def reduce(row: list[Fraction]) -> list[Fraction]:
        for pivot, base in basis:
            if row[pivot]:
                factor = row[pivot]
                row = [a - factor * b for a, b in zip(row, base)]
        return row

    for line in lines:
        row = [Fraction(0)] * len(order)
        for cell in line:
            if cell in position:
                row[position[cell]] = Fraction(1)
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


def suppress_column(
    values: Sequence[Any],
    sizes: Sequence[int],
    primary: set[int],
    lines: list[list[int]],
    *,
    counting: bool,
    avoid: frozenset[int] = frozenset(),
    public: frozenset[int] = frozenset(),
) -> tuple[set[int], bool]:
    """The row indexes to hide in one measure column, and whether the grand total must be hidden too."""
    hidden = set(primary)
    total_hidden = False
    changed = True
    while changed:
        changed = False
        for number, line in enumerate(lines):
            shown_here = [i for i in line if i in hidden]
            if not shown_here:
                continue
            all_ones = counting and sum(_numeric(values[i]) for i in shown_here) <= len(shown_here)
            weak = len(shown_here) == 1 or all_ones
            if not weak:
                continue
            candidates = [i for i in line if i not in hidden and sizes[i] > 0]
            if candidates:
                hidden.add(min(candidates, key=lambda i: (i in avoid, _numeric(values[i]), sizes[i], i)))
                changed = True
            elif number == 0:
                total_hidden = True
        if not changed and hidden and len(hidden) <= EXACT_LIMIT:
            open_lines = lines[1:] if total_hidden else lines
            for cell in sorted(determined(hidden, open_lines)):
                for line in open_lines:
                    candidates = [i for i in line if cell in line and i not in hidden and sizes[i] > 0]
                    if candidates:
                        hidden.add(min(candidates, key=lambda i: (i in avoid, _numeric(values[i]), sizes[i], i)))
                        changed = True
                        break
                if changed:
                    break
            else:
                if determined(hidden, open_lines) and not total_hidden:
                    total_hidden, changed = True, True
        if not changed and counting and hidden and len(hidden) <= BOUNDS_LIMIT:
            changed, total_hidden = _bounds(values, sizes, hidden, lines, total_hidden, avoid, public)
    return hidden, total_hidden


def _bounds(
    values: Sequence[Any],
    sizes: Sequence[int],
    hidden: set[int],
    lines: list[list[int]],
    total_hidden: bool,
    avoid: frozenset[int],
    public: frozenset[int],
) -> tuple[bool, bool]:
    """Hide one more cell when whole-number bounds pin a hidden count down (bounds.py); (changed, total hidden).

    `public` cells are known anyway (alone along a dimension, the one-dimension
    report shows them): they are no unknowns of the attacker.
    """
    open_lines = lines[1:] if total_hidden else lines
    truth = {i: int(_numeric(values[i])) for i in hidden if i not in public}
    equations = [([i for i in line if i in truth], sum(truth[i] for i in line if i in truth)) for line in open_lines]
    pinned = pinned_cells([e for e in equations if e[0]], truth)
    if not pinned:
        return False, total_hidden
    for cell in sorted(pinned, key=repr):
        for line in open_lines:
            candidates = [i for i in line if cell in line and i not in hidden and sizes[i] > 0]
            if candidates:
                hidden.add(min(candidates, key=lambda i: (i in avoid, _numeric(values[i]), sizes[i], i)))
                return True, total_hidden
    if not total_hidden:
        return True, True
    # pinned through other lines: cover a cell of any line that holds a hidden cell
    candidates = [i for line in open_lines if hidden & set(line) for i in line if i not in hidden and sizes[i] > 0]
    if candidates:
        hidden.add(min(candidates, key=lambda i: (i in avoid, _numeric(values[i]), sizes[i], i)))
        return True, total_hidden
    return False, total_hidden


def suppress(
    rows: list[dict[str, Any]],
    totals: dict[str, Any] | None,
    *,
    dimensions: Sequence[str],
    sizes: Sequence[int],
    total_size: int | None,
    base_measures: Mapping[str, str],
    depends: Mapping[str, set[str]],
    min_cell: int,
) -> int:
    """Hide small cells of `rows` and `totals` in place; return how many cells were hidden."""
    lines = _lines(rows, dimensions, sizes)
    avoid = frozenset(_alone(rows, dimensions, sizes))
    marker = Suppressed(min_cell)
    hidden_by_measure: dict[str, set[int]] = {}
    total_hidden: dict[str, bool] = {}
    for measure, agg in base_measures.items():
        counting = agg in ("count", "count_distinct")
        primary = set()
        for index, row in enumerate(rows):
            if sizes[index] == 0:
                continue
            value = row[measure]
            if sizes[index] < min_cell or (counting and isinstance(value, int) and 0 < value < min_cell):
                primary.add(index)
        values = [row[measure] for row in rows]
        public = frozenset(i for i in avoid if sizes[i] >= min_cell and _numeric(values[i]) >= min_cell)
        hidden, whole = suppress_column(values, sizes, primary, lines, counting=counting, avoid=avoid, public=public)
        small_total = total_size is not None and 0 < total_size < min_cell
        total_value = None if totals is None else totals.get(measure)
        small_count = counting and isinstance(total_value, int) and 0 < total_value < min_cell
        hidden_by_measure[measure] = hidden
        total_hidden[measure] = whole or small_total or small_count
    for measure, bases in depends.items():
        hidden_by_measure[measure] = set().union(*(hidden_by_measure[b] for b in bases)) if bases else set()
        total_hidden[measure] = any(total_hidden[b] for b in bases)
    count = 0
    for measure, hidden in hidden_by_measure.items():
        for index in hidden:
            rows[index][measure] = marker
            count += 1
        if totals is not None and total_hidden[measure]:
            totals[measure] = marker
            count += 1
    return count
