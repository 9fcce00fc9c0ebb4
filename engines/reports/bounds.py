"""The attacker's other tool: counts are whole numbers, at least 1 in a group that exists.

Linear algebra (suppression.determined) finds the hidden cells that the shown
totals pin down exactly. But hidden counts are not any numbers: a group that
exists has at least one record, so `a + b = 14`, `a + c = 9` and `b + e + g = 8`
with every cell at least 1 can leave a single possible value where the
equations alone leave many. Here, for each hidden count, a search looks for
another whole-number assignment of all hidden cells consistent with every
equation and lower bound in which that cell (or a hidden sum, such as a hidden
subtotal) differs from its true value; a cell without one is pinned. Most cells
are settled at once by a witness: a whole-number move that keeps every sum (a
kernel vector, or the sum or difference of two) and every bound. The others
are searched depth-first with propagation and a node budget: when the budget runs out the
answer is "unknown" (None) and the caller keeps what it has (a documented limit).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from fractions import Fraction
from math import gcd, lcm
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
Equation = tuple[Sequence[K], int]  # the cells' sum is the number


class _Budget(Exception):
    pass


def _feasible(
    equations: Sequence[Equation[K]],
    unknowns: Sequence[K],
    lower: Mapping[K, int],
    avoid: tuple[Sequence[K], int],
    nodes: list[int],
) -> bool:
    """Is there an assignment (each cell >= its lower bound) meeting `equations` whose `avoid` sum differs?"""
    avoid_cells, avoid_value = avoid

    def search(values: dict[K, int]) -> bool:
        nodes[0] -= 1
        if nodes[0] < 0:
            raise _Budget
        values = dict(values)
        changed = True
        while changed:
            changed = False
            for cells, total in equations:
                missing = [c for c in cells if c not in values]
                rest = total - sum(values[c] for c in cells if c in values)
                if rest < sum(lower[c] for c in missing) or (not missing and rest != 0):
                    return False
                if len(missing) == 1:
                    values[missing[0]] = rest
                    changed = True
        free = [u for u in unknowns if u not in values]
        if not free:
            return sum(values[c] for c in avoid_cells) != avoid_value
        pick = next((c for c in avoid_cells if c in free), free[0])
        high = min(
            (
                total - sum(values.get(c, lower[c]) for c in cells if c != pick)
                for cells, total in equations
                if pick in cells
            ),
            default=lower[pick] + avoid_value + 1,
        )
        return any(search({**values, pick: value}) for value in range(lower[pick], high + 1))

    return search({})


def _kernel(equations: Sequence[Equation[K]], unknowns: Sequence[K]) -> list[dict[K, int]]:
    """Whole-number moves that keep every equation's sum: a basis of the kernel, each scaled to integers."""
    index = {cell: i for i, cell in enumerate(unknowns)}
    rows = []
    for cells, _ in equations:
        row = [Fraction(0)] * len(unknowns)
        for cell in cells:
            row[index[cell]] += 1
        rows.append(row)
    pivots: list[int] = []
    rank = 0
    for column in range(len(unknowns)):
        pivot = next((r for r in range(rank, len(rows)) if rows[r][column]), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        head = rows[rank][column]
        rows[rank] = [value / head for value in rows[rank]]
        for r in range(len(rows)):
            if r != rank and rows[r][column]:
                factor = rows[r][column]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[rank])]
        pivots.append(column)
        rank += 1
    moves = []
    for free in (c for c in range(len(unknowns)) if c not in pivots):
        vector = [Fraction(0)] * len(unknowns)
        vector[free] = Fraction(1)
        for r, column in enumerate(pivots):
            vector[column] = -rows[r][free]
        scale = lcm(*(v.denominator for v in vector))
        whole = [int(v * scale) for v in vector]
        divisor = gcd(*whole) or 1
        moves.append({unknowns[i]: v // divisor for i, v in enumerate(whole) if v})
    return moves


def _feasible_moves(moves: list[dict[K, int]], truth: Mapping[K, int], lower: Mapping[K, int]) -> list[dict[K, int]]:
    """The moves (kernel vectors, their sums and differences, both ways) that keep every cell at its bound."""
    combined = list(moves) + [
        {k: a.get(k, 0) + sign * b.get(k, 0) for k in {*a, *b}} for i, a in enumerate(moves) for b in moves[i + 1 :]
        for sign in (1, -1)
    ]  # fmt: skip
    feasible = []
    for move in combined:
        for direction in (1, -1):
            if all(truth[k] + direction * v >= lower[k] for k, v in move.items()):
                feasible.append(move)
                break
    return feasible


def pinned_cells(
    equations: Sequence[Equation[K]],
    truth: Mapping[K, int],
    sums: Mapping[K, Sequence[K]] | None = None,
    budget: int = 2_000,
) -> set[K] | None:
    """The hidden cells (keys of `truth`) and hidden sums (keys of `sums`) with only one possible value.

    `truth` holds every hidden cell's value (each is at least 1 when its value is,
    else 0); `equations` are what the attacker knows. None when the search ran
    out of its budget (too large a table to decide this way).
    """
    unknowns = list(truth)
    lower = {cell: 1 if truth[cell] >= 1 else 0 for cell in unknowns}
    targets: list[tuple[K, Sequence[K]]] = [(cell, [cell]) for cell in unknowns]
    targets += list((sums or {}).items())
    found: set[K] = set()
    nodes = [budget]
    moves = _feasible_moves(_kernel(equations, unknowns), truth, lower)
    moved = {cell for move in moves for cell, change in move.items() if change}
    try:
        for name, cells in targets:
            if not cells:
                continue
            if set(cells) & moved and any(sum(move.get(c, 0) for c in cells) for move in moves):
                continue  # a whole-number move changes it: not pinned, no search needed
            value = sum(truth[c] for c in cells)
            if not _feasible(equations, unknowns, lower, (cells, value), nodes):
                found.add(name)
    except _Budget:
        return None
    return found
