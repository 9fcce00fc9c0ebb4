"""Scale benchmark: the record service's lists and searches at 10k, 100k (and 1M) patients on PostgreSQL.

A fresh database gets the clinic's tables from `crm migrate`'s own plan (so the search
indexes of docs/api.md are the ones a project has). The clinic template declares no list
view for patients, so the benchmark declares one as a clinic would (`views:` with `sort:
-birth_date` and the quick filter `stage`, see LIST_VIEW): the plan then adds that view's
indexes (`sx_patient_birth_date_sort_desc`, `ix_patient_stage`), and the list row below
is that view. Then patients are added with
COPY straight into the builder's `patient` table (seconds for 100k; the record
service's bulk path is `crm seed`'s business, see bench/seed.py). Only plain columns
are filled: name (Chinese, 10% family name 王), phone (unique E.164), gender, birth
date, age, stage, channel, tags, consents. The encrypted `id_number` and the PHI
`allergies` are left empty: no request below reads them, and an encrypted column
filled here would need the keyring per row.

Each request runs in-process through `RecordService` as the doctor (full access: the
last-4 search is allowed; reads are audited, which is part of the cost), and beside
it a hand-written SQL query returning the same rows on the same engine (the
baseline). Printed per size: p50 and p95 of each, and the ratio service/baseline of
the p50s. Nothing is asserted: figures go in docs/performance.md.

    python bench/scale.py            # 10k and 100k patients (a few minutes)
    python bench/scale.py --full     # and 1M
    python bench/scale.py --smoke    # 500 patients, 5 rounds (used by the tests)

CRM_BENCH_POSTGRES (default postgresql://postgres@127.0.0.1:5432/postgres) is the
server's maintenance database; the benchmark creates and drops its own database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402

FAMILY = "王王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林"  # 王 twice in 20: about 10% of patients
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"
STAGES = ["lead", "new", "active", "follow_up", "dormant"]
CHANNELS = ["walk_in", "referral", "wechat", "web", "phone"]
COLUMNS = (
    "name, phone, gender, birth_date, age, stage, channel, tags, consent_sms, consent_marketing, "
    "created_at, updated_at, version"
)
TODAY = dt.date(2026, 11, 30)
LIST_VIEW = {"type": "list", "sort": "-birth_date", "filters": ["stage"]}  # the list row's view (youngest first)


def with_list_view(entities: dict) -> dict:
    """The clinic's entities with LIST_VIEW declared on patient, as a blueprint's `views:` would."""
    from engines.forms import ViewSpec

    patient = entities["patient"]
    views = {**patient.views, "by_birth_date": ViewSpec(**LIST_VIEW)}
    return {**entities, "patient": patient.model_copy(update={"views": views})}


def phone_of(i: int) -> str:
    """Unique and spread out: 7919 is prime to 10^8, so i -> i*7919 mod 10^8 is one-to-one."""
    return f"+86139{(i * 7919) % 100_000_000:08d}"


def name_of(rng: random.Random) -> str:
    return rng.choice(FAMILY) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")


def seed(engine: sa.Engine, start: int, stop: int) -> float:
    """COPY patients start..stop-1 into the table; seconds taken (VACUUM ANALYZE included).

    VACUUM as well as ANALYZE: autovacuum does it to a table a million rows just landed in,
    and measuring while it runs (or while the first reads set every row's hint bits)
    measures that, not the requests; a clinic's table is mostly vacuumed.
    """
    rng = random.Random(start)
    began = time.perf_counter()
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(f"COPY patient ({COLUMNS}) FROM STDIN") as copy:
            stamp = dt.datetime(2025, 1, 1)
            for i in range(start, stop):
                born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 80))
                age = TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))
                copy.write_row(
                    (
                        name_of(rng),
                        phone_of(i),
                        rng.choice(["female", "male"]),
                        born,
                        age,
                        rng.choice(STAGES),
                        rng.choice(CHANNELS),
                        '["diabetes"]' if rng.random() < 0.1 else "[]",
                        rng.random() < 0.5,
                        rng.random() < 0.5,
                        stamp,
                        stamp,
                        1,
                    )
                )
        driver.commit()
        driver.autocommit = True  # VACUUM runs outside a transaction
        with driver.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) patient")
        driver.autocommit = False
    finally:
        raw.close()
    return time.perf_counter() - began


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def timed(action: Callable[[int], object], rounds: int) -> list[float]:
    action(0)  # warm up (plans, caches)
    times = []
    for n in range(rounds):
        began = time.perf_counter()
        action(n)
        times.append(time.perf_counter() - began)
    return times


def requests(service, engine: sa.Engine, size: int, rng: random.Random):
    """(label, the service's call, the hand-written SQL call), each taking the round number."""
    from builder.records import Actor
    from builder.records.global_search import search_everything

    doctor = Actor(None, "bench-doctor", "doctor", locale="zh-CN")
    phones = [phone_of(rng.randrange(size)) for _ in range(64)]
    ids = [rng.randrange(1, size + 1) for _ in range(64)]
    prefixes = [f + g for f in FAMILY[2:8] for g in GIVEN[:6]]
    threes = [f + g + h for f in FAMILY[2:6] for g in GIVEN[:4] for h in GIVEN[4:6]]  # whole 3-character names
    shown = "id, name, gender, birth_date, age, phone, primary_doctor, stage, channel, tags"

    def sql(text: str, **params):
        with engine.connect() as conn:
            return conn.execute(sa.text(text), params).all()

    def listed(where: str, order: str = "id DESC", ids_first: bool = False, together: bool = False, **params):
        """A page and its total worked out like the service's `count=auto` (counting.py): the same work.

        The page's own rows when it holds the last match; else the planner's estimate
        when it expects more than 10,000; else a count capped at 10,001. `ids_first`: the
        page's ids chosen first, then their rows, as the service pages a search (querying.py).
        `together`: a selective search (search.selective), its capped count a column of the page.
        """
        with engine.connect() as conn:
            chosen = f"SELECT id FROM patient WHERE {where} ORDER BY {order} LIMIT 51"
            capped = f"(SELECT count(*) FROM (SELECT 1 FROM patient WHERE {where} LIMIT 10001) AS c)"
            columns = f"{shown}, {capped} AS capped" if together else shown
            select = f"SELECT {columns} FROM patient WHERE " + (f"id IN ({chosen})" if ids_first else where)
            page = conn.execute(sa.text(f"{select} ORDER BY {order}" + ("" if ids_first else " LIMIT 51")), params)
            rows = page.all()
            if len(rows) <= 50:
                return rows, len(rows)
            return rows, rows[0].capped if together else counted(conn, where, **params)

    def counted(conn: sa.Connection, where: str, **params) -> int:
        plan = conn.execute(sa.text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM patient WHERE {where}"), params)
        guess = plan.scalar_one()[0]["Plan"]["Plan Rows"]
        if guess > 10_000:
            return guess
        capped = f"SELECT count(*) FROM (SELECT 1 FROM patient WHERE {where} LIMIT 10001) AS c"
        return conn.execute(sa.text(capped), params).scalar()

    def count_only() -> int:
        with engine.connect() as conn:
            return counted(conn, "true")

    def local(phone: str) -> str:
        return phone[3:]  # as the front desk types it: 139…

    return [
        (
            "list, newest first (no view)",
            lambda n: service.list(doctor, "patient"),
            lambda n: listed("true"),
        ),
        (
            "list view ?stage=active&sort=-birth_date",
            lambda n: service.list(doctor, "patient", filters={"stage": "active"}, sort="-birth_date"),
            lambda n: listed("stage = 'active'", "birth_date DESC NULLS LAST, id DESC"),
        ),
        (
            "q=<whole phone>",
            lambda n: service.list(doctor, "patient", q=local(phones[n % 64])),
            lambda n: listed("phone = :p", ids_first=True, p=phones[n % 64]),
        ),
        (
            "q=<last 4 digits>",
            lambda n: service.list(doctor, "patient", q=phones[n % 64][-4:]),
            lambda n: listed(
                "substr(phone, length(phone) - 3) = :p", ids_first=True, together=True, p=phones[n % 64][-4:]
            ),
        ),
        (
            "q=<name prefix, 2 chars>",
            lambda n: service.list(doctor, "patient", q=prefixes[n % len(prefixes)]),
            lambda n: listed("lower(name) LIKE :p", ids_first=True, p=prefixes[n % len(prefixes)] + "%"),
        ),
        (
            "q=王",
            lambda n: service.list(doctor, "patient", q="王"),
            lambda n: listed("lower(name) LIKE '王%'", ids_first=True),
        ),
        (
            "q=<3 chars: substring, trigram>",
            lambda n: service.list(doctor, "patient", q=threes[n % len(threes)]),
            lambda n: listed(
                "lower(name) LIKE :p", ids_first=True, together=True, p="%" + threes[n % len(threes)] + "%"
            ),
        ),
        (
            "global search q=王 (no counts)",
            lambda n: search_everything(service, doctor, "王"),
            lambda n: (
                sql("SELECT id, name, phone FROM patient WHERE lower(name) LIKE '王%' ORDER BY id DESC LIMIT 6"),
                sql("SELECT id, name FROM staff WHERE lower(name) LIKE '王%' ORDER BY id DESC LIMIT 6"),
            ),
        ),
        (
            "global search q=<whole phone>",
            lambda n: search_everything(service, doctor, local(phones[n % 64])),
            lambda n: sql("SELECT id, name, phone FROM patient WHERE phone = :p LIMIT 6", p=phones[n % 64]),
        ),
        (
            "detail (get one patient)",
            lambda n: service.get(doctor, "patient", ids[n % 64]),
            lambda n: sql("SELECT * FROM patient WHERE id = :i", i=ids[n % 64]),
        ),
        (
            "count (?limit=0)",
            lambda n: service.list(doctor, "patient", limit=0),
            lambda n: count_only(),
        ),
    ]


def measure(service, engine: sa.Engine, size: int, rounds: int) -> list[tuple[str, float, float, float, float]]:
    rng = random.Random(size)
    rows = []
    for label, ours, baseline in requests(service, engine, size, rng):
        mine = percentiles(timed(ours, rounds))
        theirs = percentiles(timed(baseline, rounds))
        rows.append((label, *mine, *theirs))
    return rows


def report(size: int, seconds: float, rows) -> None:
    print(f"\n{size:,} patients (seeded in {seconds:.1f} s with COPY, then VACUUM ANALYZE)")
    print(f"{'request':42} {'p50 ms':>8} {'p95 ms':>8} {'SQL p50':>8} {'SQL p95':>8} {'ratio':>6}")
    for label, p50, p95, b50, b95 in rows:
        print(f"{label:42} {p50:8.1f} {p95:8.1f} {b50:8.1f} {b95:8.1f} {p50 / b50 if b50 else 0:6.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also 1,000,000 patients")
    parser.add_argument("--smoke", action="store_true", help="500 patients, 5 rounds (for the tests)")
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    sizes = [500] if args.smoke else [10_000, 100_000] + ([1_000_000] if args.full else [])
    rounds = 5 if args.smoke else args.rounds

    from builder.loading import load_blueprint
    from builder.records import RecordService
    from builder.storage.crypto import Keyring
    from builder.storage.database import make_engine
    from builder.storage.migrations import apply_migration, plan_migration
    from builder.system_tables import create_system_tables

    server = os.environ.get("CRM_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"crm_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    try:
        loaded = load_blueprint(REPO / "blueprints" / "clinic")
        with tempfile.TemporaryDirectory() as keys:
            keyring = Keyring.generate(Path(keys) / "keys.json")
            entities = with_list_view(loaded.blueprint.entities)
            plan = plan_migration(engine, entities)
            apply_migration(engine, plan, keyring=keyring)
            create_system_tables(engine)
            with engine.connect() as conn:
                made = conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'patient'").scalars()
                print("patient indexes:", ", ".join(sorted(made)))
            service = RecordService(entities, engine, keyring, decision_tables=loaded.decision_tables)
            done = 0
            for size in sizes:
                seconds = seed(engine, done, size)
                done = size
                report(size, seconds, measure(service, engine, size, rounds))
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
