"""Report cache benchmark: a report run uncached (the query) against the same run from the cache.

On N visits of the clinic template (inserted in bulk, spread over 18 months and
20 doctors), `revisit_rate` for the last 12 months runs as an admin through
`run_report_as`, the path every page, API call and export takes: audit entry
included. Uncached runs clear the cache first; cached runs hit it (they still
read the change counters and write the audit entry). Prints the median time of
each and the ratio. Then one write to a visit, and the next run's time (a miss).

    python bench/report_cache.py                   # SQLite, 200,000 visits
    python bench/report_cache.py --visits 20000    # quicker
    python bench/report_cache.py --url postgresql://postgres@127.0.0.1/crm_bench   # an empty database
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TODAY = dt.date(2026, 6, 15)


def build(url: str, visits: int):
    from builder.loading import load_blueprint
    from builder.records.actor import SYSTEM
    from builder.records.report_cache import ReportCache
    from builder.records.service import RecordService
    from builder.storage.database import make_engine
    from builder.storage.tables import build_schema
    from builder.system_tables import create_system_tables

    loaded = load_blueprint(REPO / "blueprints" / "clinic")
    engine = make_engine(url)
    schema = build_schema(dict(loaded.blueprint.entities))
    schema.metadata.create_all(engine)
    create_system_tables(engine)
    stamp = dt.datetime(2025, 1, 1)
    rng = random.Random(7)
    base = {"created_at": stamp, "updated_at": stamp, "version": 1}
    with engine.begin() as conn:
        conn.execute(schema.table("staff").insert(), [{"id": i, "name": f"Dr {i}", **base} for i in range(1, 21)])
        patients = max(visits // 10, 1)
        conn.execute(
            schema.table("patient").insert(),
            [{"id": i, "name": f"P{i}", "phone": f"138{i:08d}", **base} for i in range(1, patients + 1)],
        )
        rows = [
            {
                "id": i,
                "patient": rng.randint(1, patients),
                "doctor": rng.randint(1, 20),
                "visited_at": stamp + dt.timedelta(minutes=rng.randint(0, 540 * 24 * 60)),
                **base,
            }
            for i in range(1, visits + 1)
        ]
        for start in range(0, len(rows), 10_000):
            conn.execute(schema.table("visit").insert(), rows[start : start + 10_000])
    service = RecordService(
        loaded.blueprint.entities, engine, schema=schema, decision_tables=loaded.decision_tables, timezone="UTC"
    )
    service.report_cache = ReportCache()
    return service, loaded.blueprint.reports, SYSTEM


def timed(run, repeat: int, before=None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=200_000)
    parser.add_argument("--url", default=None, help="an empty database (default: a SQLite file in a temp folder)")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    from builder.records.reporting import run_report_as

    with tempfile.TemporaryDirectory() as folder:
        url = args.url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        service, reports, actor = build(url, args.visits)
        params = {"period": "last_12_months"}

        def run():
            return run_report_as(service, reports, actor, "revisit_rate", params, today=TODAY)

        rows = len(run().rows)
        uncached = timed(run, args.repeat, before=service.report_cache.clear)
        run()
        cached = timed(run, args.repeat * 5)
        service.update(actor, "visit", 1, {"satisfaction": 9}, 1)
        start = time.perf_counter()
        run()
        after_write = time.perf_counter() - start
        print(f"{service.engine.dialect.name}, {args.visits:,} visits, revisit_rate last 12 months ({rows} rows)")
        print(f"  uncached run:        {uncached * 1000:8.1f} ms (median of {args.repeat})")
        print(f"  cached run:          {cached * 1000:8.1f} ms (median of {args.repeat * 5})")
        print(f"  after a visit write: {after_write * 1000:8.1f} ms (a miss: the counter moved)")
        print(f"  ratio uncached / cached: {uncached / cached:.0f}x")
        service.engine.dispose()


if __name__ == "__main__":
    main()
