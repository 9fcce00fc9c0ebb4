"""Outbox delivery throughput on PostgreSQL: `crm worker` processes against a bare SKIP LOCKED loop.

    PYTHONPATH=. python bench/delivery.py --rows 20000 --workers 1 4

N due outbox rows (appointment reminders to 200 patients with SMS consent, delivered to
a `console` channel writing to /dev/null) are delivered by 1 and by 4 `crm worker`
processes; then the same rows, reset, are claimed and marked sent by the same number of
processes running a bare `SELECT … FOR UPDATE SKIP LOCKED` loop doing the queue's
database work and nothing else. Prints rows/s for each and the ratio. Needs the local
PostgreSQL server (`BENCH_PG`, default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

from bench_support import REPO, drop_database, recreate_database, time_processes, worker_command, worker_project

sys.path.insert(0, str(REPO))

DATABASE = "bench_delivery"
PATIENTS = 200
BATCH = 100

BARE_LOOP = """
import sys, datetime as dt, sqlalchemy as sa
engine = sa.create_engine(sys.argv[1].replace("postgresql://", "postgresql+psycopg://"))
meta = sa.MetaData(); outbox = sa.Table("crm_outbox", meta, autoload_with=engine)
while True:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        ids = list(conn.execute(sa.select(outbox.c.id).where(outbox.c.status.in_(("pending", "failed")),
              outbox.c.next_attempt_at <= now).order_by(outbox.c.next_attempt_at, outbox.c.id)
              .limit(BATCH).with_for_update(skip_locked=True)).scalars())
        if not ids:
            break
        conn.execute(outbox.update().where(outbox.c.id.in_(ids))
                     .values(status="sending", attempts=outbox.c.attempts + 1))
    rows = []
    with engine.connect() as conn:
        rows = conn.execute(sa.select(outbox).where(outbox.c.id.in_(ids))).all()
    with engine.begin() as conn:
        for row in rows:
            conn.execute(outbox.update().where(outbox.c.id == row.id, outbox.c.status == "sending")
                         .values(status="sent", sent_at=now))
""".replace("BATCH", str(BATCH))


def setup(directory: Path, url: str, rows: int) -> None:
    """The clinic template on `url`, migrated; patients, staff and appointments; `rows` due reminders."""
    import sqlalchemy as sa

    from builder.records import SYSTEM
    from builder.runtime import open_runtime
    from builder.system_tables import outbox

    worker_project(directory, url, BATCH)
    runtime = open_runtime(directory)
    try:
        doctor = runtime.records.create(SYSTEM, "staff", {"name": "Dr. Li"})
        appointments = []
        for i in range(PATIENTS):
            patient = runtime.records.create(
                SYSTEM, "patient", {"name": f"患者{i:04d}", "phone": f"1380000{i:04d}", "consent_sms": True}
            )
            appointments.append(
                runtime.records.create(
                    SYSTEM,
                    "appointment",
                    {
                        "patient": patient["id"],
                        "doctor": doctor["id"],
                        "starts_at": (dt.datetime(2026, 3, 1, 9) + dt.timedelta(hours=i)).isoformat(),
                    },
                )["id"]
            )
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=1)
        values = [
            {
                "key": f"appointment_reminder:0:appointment:{appointments[i % PATIENTS]}:{i}",
                "automation": "appointment_reminder",
                "channel": "sms",
                "template": "appointment_reminder",
                "entity": "appointment",
                "record_id": appointments[i % PATIENTS],
                "recipient": "patient",
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for i in range(rows)
        ]
        with runtime.engine.begin() as conn:
            for start in range(0, rows, 5000):
                conn.execute(outbox.insert(), values[start : start + 5000])
            conn.execute(sa.text("ANALYZE crm_outbox"))
    finally:
        runtime.close()


def reset(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        due = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=1)
        conn.execute(
            sa.text(
                "UPDATE crm_outbox SET status = 'pending', attempts = 0, sent_at = NULL, reason = NULL,"
                " next_attempt_at = :due"
            ),
            {"due": due},
        )
        conn.execute(sa.text("ANALYZE crm_outbox"))
    engine.dispose()


def sent(url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM crm_outbox WHERE status = 'sent'")).scalar_one()
    engine.dispose()
    return int(count)


def run(commands: list[list[str]], url: str, rows: int) -> float:
    """Seconds from the first row sent until every row is sent (process start-up is not counted)."""

    def state() -> tuple[bool, bool]:
        done = sent(url)
        return done > 0, done >= rows

    return time_processes(commands, state, gate=(url, "crm_outbox"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    url = recreate_database(DATABASE)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp) / "clinic"
            setup(directory, url, args.rows)
            worker = worker_command(directory)
            bare = [sys.executable, "-c", BARE_LOOP, url]
            for count in args.workers:
                reset(url)
                ours = run([worker] * count, url, args.rows)
                reset(url)
                baseline = run([bare] * count, url, args.rows)
                print(
                    f"{count} worker(s): {args.rows / ours:6.0f} rows/s delivered; bare SKIP LOCKED loop "
                    f"{args.rows / baseline:6.0f} rows/s; delivery runs at {baseline / ours:.0%} of the bare rate"
                )
    finally:
        drop_database(DATABASE)


if __name__ == "__main__":
    main()
