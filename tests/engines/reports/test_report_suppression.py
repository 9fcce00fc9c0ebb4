"""Small-cell suppression, attacked: every hidden cell must stay unknowable from what is shown.

The attacker runs the report privately (as a role without read access) and the
one-dimension reports over each of its dimensions (the marginals), reads every
shown cell and total, and knows each hidden group has at least one record. It
then searches every assignment of the hidden cells consistent with all of that;
a hidden cell that takes one value in every assignment has been recomputed, and
the test fails. The search is its own code (exhaustive), not the engine's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from reports_helpers import clinic_database, run

from engines.reports import ReportSpec, Suppressed

MONTHS = {
    "2026-01": dt.datetime(2026, 1, 10, 9),
    "2026-02": dt.datetime(2026, 2, 10, 9),
    "2026-03": dt.datetime(2026, 3, 10, 9),
}


def patients(grid: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    rows, next_id = [], 1
    for (month, channel), count in grid.items():
        for _ in range(count):
            rows.append({"id": next_id, "name": f"P{next_id}", "phone": f"139{next_id:08d}", "channel": channel,
                         "created_at": MONTHS[month]})  # fmt: skip
            next_id += 1
    return rows


def report(*dimensions: Any) -> ReportSpec:
    return ReportSpec.model_validate(
        {"source": "patient", "dimensions": list(dimensions), "measures": {"n": {"agg": "count"}}, "totals": True}
    )


BY_MONTH = {"field": "created_at", "by": "month", "name": "month"}


def recoverable(equations: list[tuple[list[str], int]], unknowns: list[str], lower: int = 1) -> dict[str, int]:
    """The unknowns that take one value in every assignment (each >= `lower`) satisfying `equations`.

    Exhaustive search: an equation with one unknown left forces it; otherwise the
    unknown in the tightest equation is tried at every value its equations allow.
    """
    seen: dict[str, set[int]] = {u: set() for u in unknowns}
    limit = max((total for _, total in equations), default=0)

    def left(values: dict[str, int], cells: list[str], total: int) -> tuple[list[str], int]:
        missing = [c for c in cells if c not in values]
        return missing, total - sum(values[c] for c in cells if c in values)

    def search(values: dict[str, int]) -> None:
        values = dict(values)
        forced = True
        while forced:
            forced = False
            for cells, total in equations:
                missing, rest = left(values, cells, total)
                if rest < lower * len(missing) or (not missing and rest != 0):
                    return
                if len(missing) == 1:
                    values[missing[0]] = rest
                    forced = True
        free = [u for u in unknowns if u not in values]
        if not free:
            for u in unknowns:
                seen[u].add(values[u])
            return
        bounds = [left(values, cells, total) for cells, total in equations]
        tight = [(rest, missing) for missing, rest in bounds if missing]
        rest, missing = min(tight) if tight else (limit, free)
        pick = missing[0]
        for value in range(lower, rest - lower * (len(missing) - 1) + 1):
            search({**values, pick: value})

    search({})
    return {u: next(iter(v)) for u, v in seen.items() if len(v) == 1}


def attack(engine, schema, dimensions: list[Any]) -> tuple[dict[str, int], list[str], Any]:
    """What the attacker learns about the hidden cells of the report over `dimensions`."""
    main = run(engine, schema, report(*dimensions), private=True)
    keys = [d["name"] if isinstance(d, dict) else d for d in dimensions]
    cell_of = lambda row: "/".join(str(row[k]) for k in keys)  # noqa: E731
    unknowns = [cell_of(row) for row in main.rows if isinstance(row["n"], Suppressed)]
    equations: list[tuple[list[str], int]] = []

    def add(rows: list[dict[str, Any]], total: Any) -> None:
        if isinstance(total, Suppressed):
            return
        hidden = [cell_of(r) for r in rows if isinstance(r["n"], Suppressed)]
        shown = sum(r["n"] for r in rows if not isinstance(r["n"], Suppressed))
        equations.append((hidden, total - shown))

    add(main.rows, main.totals["n"])
    if len(keys) == 2:
        for axis, dimension in enumerate(dimensions):
            marginal = run(engine, schema, report(dimension), private=True)
            other = keys[1 - axis]
            for line in marginal.rows:
                rows = [r for r in main.rows if r[keys[axis]] == line[keys[axis]]]
                add(rows, line["n"])
            del other
    return recoverable(equations, unknowns), unknowns, main


def test_one_small_cell_gets_a_complement(engine):
    grid = {("2026-01", "walk_in"): 12, ("2026-01", "wechat"): 3, ("2026-01", "web"): 7, ("2026-01", "referral"): 9}
    schema = clinic_database(engine, {"patient": patients(grid)})
    learned, hidden, result = attack(engine, schema, ["channel"])
    assert sorted(hidden) == ["web", "wechat"]  # the 3, and the next smallest (7)
    assert learned == {}
    assert result.totals == {"n": 31}
    assert str(next(r["n"] for r in result.rows if r["channel"] == "wechat")) == "<5"


def test_hidden_ones_that_only_sum_to_their_number_get_another_complement(engine):
    grid = {("2026-01", "walk_in"): 1, ("2026-01", "wechat"): 1, ("2026-01", "web"): 20}
    schema = clinic_database(engine, {"patient": patients(grid)})
    learned, hidden, _ = attack(engine, schema, ["channel"])
    assert len(hidden) == 3 and learned == {}  # two hidden cells summing to 2 would both be 1


def test_a_tiny_table_hides_its_total(engine):
    schema = clinic_database(engine, {"patient": patients({("2026-01", "walk_in"): 2, ("2026-01", "web"): 1})})
    result = run(engine, schema, report("channel"), private=True)
    assert all(isinstance(r["n"], Suppressed) for r in result.rows)
    assert isinstance(result.totals["n"], Suppressed)


def test_two_dimensions_resist_an_attack_with_the_marginals(engine):
    grid = {
        ("2026-01", "walk_in"): 10, ("2026-01", "wechat"): 2, ("2026-01", "web"): 8,
        ("2026-02", "walk_in"): 9, ("2026-02", "wechat"): 7, ("2026-02", "web"): 11,
        ("2026-03", "walk_in"): 6, ("2026-03", "wechat"): 12, ("2026-03", "web"): 3,
    }  # fmt: skip
    schema = clinic_database(engine, {"patient": patients(grid)})
    learned, hidden, _ = attack(engine, schema, [BY_MONTH, "channel"])
    assert "2026-01/wechat" in hidden and "2026-03/web" in hidden
    for line in ("2026-01", "2026-02", "2026-03", "walk_in", "wechat", "web"):
        in_line = [h for h in hidden if line in h.split("/")]
        assert len(in_line) != 1, line  # no row or column with a single hidden cell
    assert learned == {}


def test_two_blocks_of_small_cells_resist_the_attack(engine):
    """Small cells in two corners: the complements must tie them so no marginal pins a cell."""
    grid = {
        ("2026-01", "walk_in"): 2, ("2026-01", "wechat"): 2, ("2026-01", "web"): 9, ("2026-01", "referral"): 8,
        ("2026-02", "walk_in"): 2, ("2026-02", "wechat"): 2, ("2026-02", "web"): 9, ("2026-02", "referral"): 9,
        ("2026-03", "walk_in"): 9, ("2026-03", "wechat"): 8, ("2026-03", "web"): 3, ("2026-03", "referral"): 3,
    }  # fmt: skip
    schema = clinic_database(engine, {"patient": patients(grid)})
    learned, hidden, _ = attack(engine, schema, [BY_MONTH, "channel"])
    assert learned == {}, (learned, hidden)


def test_a_viewer_who_may_read_sees_every_cell(engine):
    schema = clinic_database(engine, {"patient": patients({("2026-01", "walk_in"): 2, ("2026-01", "web"): 1})})
    result = run(engine, schema, report("channel"), private=False)
    assert [(r["channel"], r["n"]) for r in result.rows] == [("walk_in", 2), ("web", 1)]
    assert result.suppressed == 0


def test_filtered_counts_and_the_rates_over_them_are_hidden(engine):
    appointments, next_id = [], 1
    for channel, size, no_shows in [("phone", 20, 1), ("wechat", 15, 6), ("web", 12, 0), ("walk_in", 10, 8)]:
        for i in range(size):
            status = "no_show" if i < no_shows else "completed"
            appointments.append({"id": next_id, "channel": channel, "status": status, "starts_at": MONTHS["2026-01"]})
            next_id += 1
    schema = clinic_database(engine, {"appointment": appointments})
    spec = ReportSpec.model_validate(
        {
            "source": "appointment",
            "dimensions": ["channel"],
            "measures": {
                "booked": {"agg": "count"},
                "no_shows": {"agg": "count", "where": "status == 'no_show'"},
                "rate": {"expr": "no_shows / booked"},
            },
            "totals": True,
        }
    )
    result = run(engine, schema, spec, private=True)
    by_channel = {r["channel"]: r for r in result.rows}
    assert isinstance(by_channel["phone"]["no_shows"], Suppressed)  # 1 no-show among 20
    assert isinstance(by_channel["phone"]["rate"], Suppressed)  # 1/20 would give it back
    assert by_channel["phone"]["booked"] == 20  # the group itself is large enough
    hidden = [c for c, r in by_channel.items() if isinstance(r["no_shows"], Suppressed)]
    shown = sum(r["no_shows"] for r in result.rows if not isinstance(r["no_shows"], Suppressed))
    equations = [(hidden, result.totals["no_shows"] - shown)]
    assert len(hidden) >= 2
    assert recoverable(equations, hidden, lower=0) == {}
    for channel in hidden:  # nor from the rate and the shown group size
        assert isinstance(by_channel[channel]["rate"], Suppressed)


def test_the_attacker_does_find_an_unprotected_cell():
    """The attack itself works: one hidden cell and a total give it away."""
    assert recoverable([(["a"], 3)], ["a"]) == {"a": 3}
    assert recoverable([(["a", "b"], 2)], ["a", "b"]) == {"a": 1, "b": 1}
    assert recoverable([(["a", "b"], 5), (["a"], 2)], ["a", "b"]) == {"a": 2, "b": 3}
    assert recoverable([(["a", "b"], 5)], ["a", "b"]) == {}


def test_a_complement_is_not_a_cell_another_report_shows(engine):
    """`referral` appears in one month only: the by-channel report shows its 6, so it cannot hide the 2 beside it."""
    grid = {
        ("2026-01", "walk_in"): 10, ("2026-01", "wechat"): 2, ("2026-01", "referral"): 6,
        ("2026-02", "walk_in"): 9, ("2026-02", "wechat"): 8,
    }  # fmt: skip
    schema = clinic_database(engine, {"patient": patients(grid)})
    learned, hidden, _ = attack(engine, schema, [BY_MONTH, "channel"])
    assert "2026-01/referral" not in hidden
    assert learned == {}


def solutions(equations: list[tuple[list[str], int]], unknowns: list[str], lower: int = 1) -> list[dict[str, int]]:
    """Every assignment of the unknowns (each >= `lower`) satisfying `equations` (sums of unknowns = totals)."""
    found: list[dict[str, int]] = []
    limit = max((total for _, total in equations), default=0)

    def search(values: dict[str, int]) -> None:
        values = dict(values)
        forced = True
        while forced:
            forced = False
            for cells, total in equations:
                missing = [c for c in cells if c not in values]
                rest = total - sum(values[c] for c in cells if c in values)
                if rest < lower * len(missing) or (not missing and rest != 0):
                    return
                if len(missing) == 1:
                    values[missing[0]] = rest
                    forced = True
        free = [u for u in unknowns if u not in values]
        if not free:
            found.append(values)
            return
        bounds = []
        for cells, total in equations:
            missing = [c for c in cells if c not in values]
            if missing:
                bounds.append((total - sum(values[c] for c in cells if c in values), missing))
        rest, missing = min(bounds) if bounds else (limit, free)
        for value in range(lower, rest - lower * (len(missing) - 1) + 1):
            search({**values, missing[0]: value})

    search({})
    return found


def subtotal_report() -> ReportSpec:
    return ReportSpec.model_validate(
        {
            "source": "patient",
            "dimensions": [BY_MONTH, "channel"],
            "measures": {"n": {"agg": "count"}},
            "totals": True,
            "subtotals": True,
        }
    )


def attack_with_subtotals(engine, schema) -> tuple[dict[str, set[int]], Any]:
    """Each hidden cell's possible values, from the shown details, subtotals, total and the by-channel report."""
    main = run(engine, schema, subtotal_report(), private=True)
    details = [r for r in main.rows if not r.get("_subtotal")]
    subtotals = [r for r in main.rows if r.get("_subtotal")]
    name = lambda row: f"{row['month']}/{row['channel']}"  # noqa: E731
    unknowns = [name(r) for r in details if isinstance(r["n"], Suppressed)]
    equations: list[tuple[list[str], int]] = []

    def add(rows: list[dict[str, Any]], total: Any) -> None:
        if not isinstance(total, Suppressed):
            hidden = [name(r) for r in rows if isinstance(r["n"], Suppressed)]
            equations.append((hidden, total - sum(r["n"] for r in rows if not isinstance(r["n"], Suppressed))))

    add(details, main.totals["n"])
    for subtotal in subtotals:
        add([r for r in details if r["month"] == subtotal["month"]], subtotal["n"])
    for line in run(engine, schema, report("channel"), private=True).rows:
        add([r for r in details if r["channel"] == line["channel"]], line["n"])
    possible: dict[str, set[int]] = {u: set() for u in unknowns}
    hidden_subtotals = [s for s in subtotals if isinstance(s["n"], Suppressed)]
    for s in hidden_subtotals:
        possible[f"subtotal {s['month']}"] = set()
    for values in solutions(equations, unknowns):
        for u in unknowns:
            possible[u].add(values[u])
        for s in hidden_subtotals:
            line = [r for r in details if r["month"] == s["month"]]
            possible[f"subtotal {s['month']}"].add(
                sum(values[name(r)] if isinstance(r["n"], Suppressed) else r["n"] for r in line)
            )
    return possible, main


def test_subtotals_cannot_give_a_hidden_cell_back(engine):
    grid = {
        ("2026-01", "walk_in"): 10, ("2026-01", "wechat"): 2, ("2026-01", "web"): 8,
        ("2026-02", "walk_in"): 9, ("2026-02", "wechat"): 7, ("2026-02", "web"): 11,
        ("2026-03", "walk_in"): 6, ("2026-03", "wechat"): 12, ("2026-03", "web"): 3,
    }  # fmt: skip
    schema = clinic_database(engine, {"patient": patients(grid)})
    possible, main = attack_with_subtotals(engine, schema)
    assert "2026-01/wechat" in possible and "2026-03/web" in possible
    assert len([r for r in main.rows if r.get("_subtotal")]) == 3
    pinned = {cell: values for cell, values in possible.items() if len(values) == 1}
    assert pinned == {}, pinned


def test_a_small_subtotal_is_hidden_and_cannot_be_recomputed(engine):
    """March has 3 patients in all: its subtotal is small, so hidden, and the total must not give it back."""
    grid = {
        ("2026-01", "walk_in"): 10, ("2026-01", "wechat"): 6, ("2026-01", "web"): 8,
        ("2026-02", "walk_in"): 9, ("2026-02", "wechat"): 7, ("2026-02", "web"): 11,
        ("2026-03", "walk_in"): 2, ("2026-03", "wechat"): 1,
    }  # fmt: skip
    schema = clinic_database(engine, {"patient": patients(grid)})
    possible, main = attack_with_subtotals(engine, schema)
    march = next(r for r in main.rows if r.get("_subtotal") and r["month"] == "2026-03")
    assert isinstance(march["n"], Suppressed)
    pinned = {cell: values for cell, values in possible.items() if len(values) == 1}
    assert pinned == {}, pinned


def test_a_complementary_subtotal_gets_a_hidden_detail(engine):
    """A subtotal hidden only as a complement would be the sum of its shown details: one of them is hidden too."""
    grid = {
        ("2026-01", "walk_in"): 2, ("2026-01", "wechat"): 2,
        ("2026-02", "walk_in"): 9, ("2026-02", "wechat"): 7,
        ("2026-03", "walk_in"): 8, ("2026-03", "wechat"): 12,
    }  # fmt: skip
    schema = clinic_database(engine, {"patient": patients(grid)})
    possible, main = attack_with_subtotals(engine, schema)
    hidden_subtotals = [r["month"] for r in main.rows if r.get("_subtotal") and isinstance(r["n"], Suppressed)]
    assert "2026-01" in hidden_subtotals and len(hidden_subtotals) >= 2
    pinned = {cell: values for cell, values in possible.items() if len(values) == 1}
    assert pinned == {}, pinned


def test_whole_numbers_pin_what_linear_algebra_leaves_open():
    """a + b = 14, a + c = 9, b + e + g = 8 and each at least 1: b can only be 6 (a <= 8), so all follow."""
    from engines.reports.bounds import pinned_cells

    truth = {"a": 8, "b": 6, "c": 1, "d": 6, "e": 1, "f": 4, "g": 1}
    equations = [(["a", "b"], 14), (["c", "d", "e"], 8), (["f", "g"], 5), (["a", "c"], 9), (["d", "f"], 10),
                 (["b", "e", "g"], 8)]  # fmt: skip
    assert pinned_cells(equations, truth) == set(truth)
    assert pinned_cells(equations[:3], truth) == set()
    assert pinned_cells([(["a", "b"], 2)], {"a": 1, "b": 1}, {"s": ["a", "b"]}) == {"a", "b", "s"}
    assert pinned_cells(equations, truth, budget=3) is None  # too large to decide: unknown, not "safe"


def test_hidden_cells_resist_an_attack_by_whole_numbers(engine):
    """This table gave every hidden cell back to an attacker who knows counts are whole and at least 1."""
    grid = {
        ("2026-01", "walk_in"): 8, ("2026-01", "wechat"): 6, ("2026-01", "web"): 8,
        ("2026-02", "walk_in"): 1, ("2026-02", "wechat"): 1, ("2026-02", "web"): 6,
        ("2026-03", "walk_in"): 10, ("2026-03", "wechat"): 1, ("2026-03", "web"): 4,
    }  # fmt: skip
    schema = clinic_database(engine, {"patient": patients(grid)})
    learned, hidden, _ = attack(engine, schema, [BY_MONTH, "channel"])
    assert learned == {}, (learned, hidden)
    possible, _ = attack_with_subtotals(engine, schema)
    assert {cell: values for cell, values in possible.items() if len(values) == 1} == {}


def test_a_cell_pinned_through_other_lines_gets_a_complement_there(engine):
    """Feb + Mar subtotals minus the wechat column leave walk_in's two small cells summing to 2."""
    grid = {
        ("2026-01", "walk_in"): 8, ("2026-02", "walk_in"): 1, ("2026-02", "wechat"): 12,
        ("2026-03", "walk_in"): 1, ("2026-03", "wechat"): 6,
    }  # fmt: skip
    schema = clinic_database(engine, {"patient": patients(grid)})
    possible, _ = attack_with_subtotals(engine, schema)
    assert not any(len(values) == 1 and min(values) < 5 for values in possible.values()), possible
