"""Reports benchmark: the reports engine against the same hand-written SQL, on the same database, in the same run.

The clinic template's tables, built by the builder's schema (`build_schema`, with the
indexes it derives from the blueprint), filled in bulk: 100,000 patients, 1,000,000
visits and 500,000 appointments over 18 months, in time order as a clinic makes
them (executemany on SQLite, COPY on PostgreSQL). The encrypted field
(`patient.id_number`) is left empty: no report reads it, and every other column
holds valid values.

Two clinic reports, each run through `run_report_as` (compile, permissions of the
`admin` role, one query, empty buckets filled, totals, the period before, the audit
entry) and as hand-written SQL:

  revisit_rate   visits, distinct patients and their rate by month and doctor
                 (default period: last 12 months; totals; compare: previous)
  no_show_rate   due, no-shows and their rate by week (default period: last 3 months;
                 totals; compare: previous)

The hand-written SQL is timed twice: its grouped query alone ("groups"), and with
what else the engine's result holds ("same cells"): the totals (summed from the rows
where they add up, a query for distinct patients), and the measures over the period
before (`compare: previous`, which the KPI cards show), each as a hand-writer would
write them, on one connection. After a warm-up the three take turns 7 times (so a
busy spell of a shared machine falls on all of them alike); the medians are
printed with the ratios engine/hand-written, in wall-clock time and, on SQLite (which
runs inside the process), in the process's CPU time, which a loaded machine disturbs
less. The query plans (EXPLAIN QUERY PLAN / EXPLAIN) are printed with `--plans`.

    python bench/reports.py           # 100k patients, 1M visits, 500k appointments; SQLite and PostgreSQL
    python bench/reports.py --quick   # 10k patients, 100k visits, 50k appointments
    python bench/reports.py --smoke --databases sqlite   # seconds (used by the tests)
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402
from bench_support import own_database  # noqa: E402

NOW = dt.datetime(2026, 11, 30, 12, 0)
DOCTORS = 20
RUNS = 7
STATUSES = (("completed", 0.78), ("no_show", 0.08), ("cancelled", 0.08), ("confirmed", 0.04), ("requested", 0.02))

HAND = {
    ("sqlite", "revisit_rate"): """
        SELECT date(v.visited_at, 'start of month') AS month, s.id AS doctor, s.name AS doctor_name,
               count(*) AS visits, count(DISTINCT v.patient) AS patients,
               (count(*) - count(DISTINCT v.patient)) * 1.0 / count(*) AS revisit_rate
        FROM visit v LEFT JOIN staff s ON s.id = v.doctor
        WHERE v.visited_at >= :start AND v.visited_at < :end
        GROUP BY month, s.id, s.name ORDER BY month, s.id""",
    ("postgresql", "revisit_rate"): """
        SELECT date_trunc('month', v.visited_at)::date AS month, s.id AS doctor, s.name AS doctor_name,
               count(*) AS visits, count(DISTINCT v.patient) AS patients,
               (count(*) - count(DISTINCT v.patient))::float / count(*) AS revisit_rate
        FROM visit v LEFT JOIN staff s ON s.id = v.doctor
        WHERE v.visited_at >= :start AND v.visited_at < :end
        GROUP BY 1, s.id, s.name ORDER BY 1, s.id""",
    ("sqlite", "no_show_rate"): """
        SELECT date(a.starts_at, 'weekday 0', '-6 days') AS week,
               sum(a.status IN ('checked_in', 'completed', 'no_show')) AS due,
               sum(a.status = 'no_show') AS no_shows,
               sum(a.status = 'no_show') * 1.0 / nullif(sum(a.status IN ('checked_in', 'completed', 'no_show')), 0)
                 AS no_show_rate
        FROM appointment a
        WHERE a.starts_at >= :start AND a.starts_at < :end
        GROUP BY week ORDER BY week""",
    ("postgresql", "no_show_rate"): """
        SELECT date_trunc('week', a.starts_at)::date AS week,
               count(*) FILTER (WHERE a.status IN ('checked_in', 'completed', 'no_show')) AS due,
               count(*) FILTER (WHERE a.status = 'no_show') AS no_shows,
               (count(*) FILTER (WHERE a.status = 'no_show'))::float
                 / nullif(count(*) FILTER (WHERE a.status IN ('checked_in', 'completed', 'no_show')), 0) AS no_show_rate
        FROM appointment a
        WHERE a.starts_at >= :start AND a.starts_at < :end
        GROUP BY 1 ORDER BY 1""",
}
# What else the engine's result holds, hand-written: (SQL, the range it reads: the period or the one before).
EXTRA = {
    ("sqlite", "revisit_rate"): [
        ("SELECT count(*), count(DISTINCT patient) FROM visit WHERE visited_at >= :start AND visited_at < :end",
         "period"),
        ("SELECT count(*), count(DISTINCT patient), (count(*) - count(DISTINCT patient)) * 1.0 / count(*) "
         "FROM visit WHERE visited_at >= :start AND visited_at < :end", "previous"),
    ],
    ("postgresql", "revisit_rate"): [
        ("SELECT count(*), count(DISTINCT patient) FROM visit WHERE visited_at >= :start AND visited_at < :end",
         "period"),
        ("SELECT count(*), count(DISTINCT patient), (count(*) - count(DISTINCT patient))::float / count(*) "
         "FROM visit WHERE visited_at >= :start AND visited_at < :end", "previous"),
    ],
    ("sqlite", "no_show_rate"): [
        ("SELECT sum(status IN ('checked_in', 'completed', 'no_show')), sum(status = 'no_show') "
         "FROM appointment WHERE starts_at >= :start AND starts_at < :end", "previous"),
    ],
    ("postgresql", "no_show_rate"): [
        ("SELECT count(*) FILTER (WHERE status IN ('checked_in', 'completed', 'no_show')), "
         "count(*) FILTER (WHERE status = 'no_show') FROM appointment WHERE starts_at >= :start AND starts_at < :end",
         "previous"),
    ],
}  # fmt: skip
# The periods before (`compare: previous`): the 12 and the 3 whole months before.
BEFORE = {
    "revisit_rate": (dt.datetime(2024, 12, 1), dt.datetime(2025, 12, 1)),
    "no_show_rate": (dt.datetime(2026, 6, 1), dt.datetime(2026, 9, 1)),
}
# The reports' default periods on NOW (see blueprints/clinic/reports): whole months / weeks up to today.
PERIODS = {
    "revisit_rate": (dt.datetime(2025, 12, 1), dt.datetime(2026, 12, 1)),
    "no_show_rate": (dt.datetime(2026, 9, 1), dt.datetime(2026, 12, 1)),
}


def moment(rng: random.Random) -> dt.datetime:
    """A moment of the last 18 months in opening hours (the demo data's shape, roughly)."""
    day = NOW.date() - dt.timedelta(days=rng.randint(0, 548))
    return dt.datetime.combine(day, dt.time(rng.randint(8, 17), rng.choice((0, 15, 30, 45))))


def moments(rng: random.Random, count: int) -> list[dt.datetime]:
    """`count` moments in time order: records are made as things happen, so ids follow time."""
    return sorted(moment(rng) for _ in range(count))


def rows(patients: int, visits: int, appointments: int) -> dict[str, Callable[[], Iterator[dict]]]:
    """Generators of each table's rows (system columns filled like the record service fills them)."""
    system = {"created_by": "bench", "updated_by": "bench", "version": 1}

    def staff() -> Iterator[dict]:
        for i in range(DOCTORS):
            yield {"id": i + 1, "name": f"医生{i:02d}", "department": "internal_medicine",
                   "created_at": NOW, "updated_at": NOW, **system}  # fmt: skip

    def patient() -> Iterator[dict]:
        rng = random.Random(1)
        for i, made in enumerate(moments(rng, patients)):
            yield {"id": i + 1, "name": f"患者{i:06d}", "phone": f"139{i:08d}",
                   "gender": rng.choice(("female", "male")),
                   "channel": rng.choice(("walk_in", "referral", "wechat", "web", "phone")), "stage": "active",
                   "tags": "[]", "consent_sms": False, "consent_marketing": False,
                   "created_at": made, "updated_at": made, **system}  # fmt: skip

    def visit() -> Iterator[dict]:
        rng = random.Random(2)
        for i, made in enumerate(moments(rng, visits)):
            yield {"id": i + 1, "patient": int(rng.paretovariate(1.2)) % patients + 1,
                   "doctor": rng.randint(1, DOCTORS), "visited_at": made, "satisfaction": rng.randint(6, 10),
                   "created_at": made, "updated_at": made, **system}  # fmt: skip

    def appointment() -> Iterator[dict]:
        rng = random.Random(3)
        names, weights = zip(*STATUSES, strict=True)
        for i, made in enumerate(moments(rng, appointments)):
            yield {"id": i + 1, "patient": rng.randint(1, patients), "doctor": rng.randint(1, DOCTORS),
                   "starts_at": made, "minutes": 20, "status": rng.choices(names, weights)[0],
                   "channel": rng.choice(("phone", "walk_in", "wechat", "web")),
                   "created_at": made, "updated_at": made, **system}  # fmt: skip

    return {"staff": staff, "patient": patient, "visit": visit, "appointment": appointment}


def fill(engine: sa.Engine, schema, sources: dict[str, Callable[[], Iterator[dict]]]) -> None:
    """Bulk-insert every source: executemany in chunks on SQLite, COPY on PostgreSQL."""
    for name, source in sources.items():
        table = schema.table(name)
        if engine.dialect.name == "postgresql":
            columns = None
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                generated = source()
                first = next(generated)
                columns = list(first)
                with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                    copy.write_row([first[c] for c in columns])
                    for row in generated:
                        copy.write_row([row[c] for c in columns])
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
                raw.commit()
            finally:
                raw.close()
        else:
            with engine.begin() as conn:
                chunk: list[dict] = []
                for row in source():
                    chunk.append(row)
                    if len(chunk) == 20_000:
                        conn.execute(table.insert(), chunk)
                        chunk = []
                if chunk:
                    conn.execute(table.insert(), chunk)
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))


def paired_medians(runs: dict[str, Callable[[], object]], clock: Callable[[], float]) -> dict[str, float]:
    """Each run's median seconds; the runs take turns, so a busy spell of the machine falls on all of them alike."""
    for run in runs.values():
        run()  # warm-up: caches, the planner's statistics
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(RUNS):
        for name, run in runs.items():
            started = clock()
            run()
            times[name].append(clock() - started)
    return {name: statistics.median(found) for name, found in times.items()}


def plans(engine: sa.Engine, sql: str, params: dict) -> list[str]:
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        return [" ".join(str(c) for c in row) for row in conn.execute(sa.text(prefix + sql), params)]


def engine_sql(records, blueprint, name: str) -> str:
    """The one statement the engine sends for `name`, as SQL text with its values inlined (for EXPLAIN)."""
    from engines.reports import compile_report

    compiled = compile_report(
        name,
        blueprint.reports[name],
        blueprint.entities,
        schema=records.schema.table,
        dialect=records.engine.dialect.name,
        today=NOW.date(),
        row_filter=lambda entity, table: None,
        private=False,
        show_title=lambda entity: True,
    )
    sql = str(compiled.statement.compile(records.engine, compile_kwargs={"literal_binds": True}))
    return sql.replace("%%", "%").replace(":", "\\:")


def bench(kind: str, patients: int, visits: int, appointments: int, show_plans: bool) -> None:
    from builder.records import Actor, RecordService
    from builder.records.reporting import run_report_as
    from builder.runtime import load_checked
    from builder.storage.database import make_engine

    loaded = load_checked(REPO / "blueprints" / "clinic")
    blueprint = loaded.blueprint
    admin = Actor(id=1, name="admin", role="admin")
    with tempfile.TemporaryDirectory() as tmp, own_database(kind, Path(tmp), "reports.sqlite3") as url:
        engine = make_engine(url)
        records = RecordService(
            blueprint.entities,
            engine,
            None,
            clock=lambda: NOW,
            decision_tables=loaded.decision_tables,
            timezone=blueprint.app.timezone,
            flows=loaded.flows,
        )
        records.schema.metadata.create_all(engine)
        from builder.system_tables import create_system_tables

        create_system_tables(engine)  # report runs are audited (crm_audit)
        started = time.perf_counter()
        fill(engine, records.schema, rows(patients, visits, appointments))
        print(f"{kind}: {patients} patients, {visits} visits, {appointments} appointments "
              f"(bulk insert and ANALYZE {time.perf_counter() - started:.1f} s)")  # fmt: skip
        indexes = {
            t: sorted(ix.name for ix in records.schema.table(t).indexes if ix.name) for t in ("visit", "appointment")
        }
        print(f"  indexes from the blueprint: {indexes}")
        for name in ("revisit_rate", "no_show_rate"):
            start, end = PERIODS[name]
            sql = HAND[(kind, name)]

            def engine_run(name: str = name) -> object:
                return run_report_as(records, blueprint.reports, admin, name, None, today=NOW.date())

            def hand_run(sql: str = sql, start: dt.datetime = start, end: dt.datetime = end) -> object:
                with engine.connect() as conn:
                    found = conn.execute(sa.text(sql), {"start": start, "end": end}).mappings().all()
                return found, {
                    k: sum(r[k] or 0 for r in found) for k in ("visits", "due", "no_shows") if found and k in found[0]
                }

            def same_cells(name: str = name) -> object:
                """The groups, the totals and the period before, hand-written, on one connection."""
                with engine.connect() as conn:
                    found = conn.execute(sa.text(HAND[(kind, name)]), dict(zip(("start", "end"), PERIODS[name])))
                    cells: list[object] = [found.mappings().all()]
                    for extra, reads in EXTRA[(kind, name)]:
                        bounds = PERIODS[name] if reads == "period" else BEFORE[name]
                        cells.append(conn.execute(sa.text(extra), dict(zip(("start", "end"), bounds))).all())
                return cells

            result = run_report_as(records, blueprint.reports, admin, name, None, today=NOW.date())
            hand_rows, _ = hand_run()  # type: ignore[misc]
            filled = [r for r in result.rows if any(r.get(k) for k in ("visits", "due"))]
            assert len(filled) == len([r for r in hand_rows if (r.get("visits") or r.get("due"))]), (
                name, len(filled), len(hand_rows))  # fmt: skip
            previous = same_cells()[-1][0]  # type: ignore[index]
            assert result.previous is not None and int(previous[0] or 0) == next(iter(result.previous.values())), (
                name, previous, result.previous)  # fmt: skip
            clocks = [("wall", time.perf_counter)] + ([("CPU", time.process_time)] if kind == "sqlite" else [])
            for label, clock in clocks:
                found = paired_medians({"engine": engine_run, "same": same_cells, "alone": hand_run}, clock)
                engine_time, alone, same = found["engine"], found["alone"], found["same"]
                print(f"  {name:<14} {label:<4} engine {engine_time * 1000:8.1f} ms   hand-written: same cells "
                      f"{same * 1000:8.1f} ms (ratio {engine_time / same:.2f}x), groups {alone * 1000:8.1f} ms "
                      f"(ratio {engine_time / alone:.2f}x)   ({len(result.rows)} rows)")  # fmt: skip
            if show_plans:
                print("    engine's query plan:")
                for line in plans(engine, engine_sql(records, blueprint, name), {}):
                    print(f"      {line}")
                print("    hand-written query plan:")
                for line in plans(engine, sql, {"start": start, "end": end}):
                    print(f"      {line}")
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k patients, 100k visits, 50k appointments")
    parser.add_argument("--smoke", action="store_true", help="1k patients, 10k visits, 5k appointments (tests)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--plans", action="store_true", help="print the hand-written queries' plans")
    args = parser.parse_args()
    sizes = (
        (1_000, 10_000, 5_000)
        if args.smoke
        else (10_000, 100_000, 50_000)
        if args.quick
        else (100_000, 1_000_000, 500_000)
    )
    for kind in args.databases.split(","):
        bench(kind.strip(), *sizes, args.plans)


if __name__ == "__main__":
    main()
