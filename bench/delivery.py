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
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SERVER = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
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


def admin_url(database: str) -> str:
    return SERVER.rsplit("/", 1)[0] + "/" + database


def recreate_database() -> str:
    import psycopg

    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    return admin_url(DATABASE)


def drop_database() -> None:
    import psycopg

    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def setup(directory: Path, url: str, rows: int) -> None:
    """The clinic template on `url`, migrated; patients, staff and appointments; `rows` due reminders."""
    import sqlalchemy as sa
    from click.testing import CliRunner

    from builder.cli import main
    from builder.project import init_project
    from builder.records import SYSTEM
    from builder.runtime import open_runtime
    from builder.storage.crypto import Keyring
    from builder.system_tables import outbox

    init_project(directory, "clinic")
    Keyring.generate(directory / "keys.json")
    (directory / "crm.toml").write_text(
        f'[project]\nblueprint = "blueprint"\n[database]\nurl = "{url}"\n[security]\nkey_file = "keys.json"\n'
        '[channels.sms]\ntype = "console"\nstream = "/dev/null"\nconsent = "consent_sms"\n'
        '[channels.inbox]\ntype = "inbox"\n'
        f'[delivery]\nquiet_hours = ""\ndaily_cap = 0\nbatch = {BATCH}\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["migrate", "-p", str(directory), "--yes"])
    assert result.exit_code == 0, result.output
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
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("CRM_DATABASE_URL", None)
    processes = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL) for c in commands]
    started: float | None = None
    try:
        while (done := sent(url)) < rows:
            if done and started is None:
                started = time.perf_counter()
            if all(p.poll() is not None for p in processes):
                raise SystemExit(f"the processes ended with {sent(url)} of {rows} rows sent")
            time.sleep(0.02)
        return time.perf_counter() - (started or time.perf_counter())
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    url = recreate_database()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp) / "clinic"
            setup(directory, url, args.rows)
            worker = [sys.executable, "-c", "from builder.cli import main; main()", "worker", "-p", str(directory)]
            bare = [sys.executable, "-c", BARE_LOOP, url]
            for count in args.workers:
                reset(url)
                ours = run([[*worker, "--poll", "0.05"]] * count, url, args.rows)
                reset(url)
                baseline = run([bare] * count, url, args.rows)
                print(
                    f"{count} worker(s): {args.rows / ours:6.0f} rows/s delivered; bare SKIP LOCKED loop "
                    f"{args.rows / baseline:6.0f} rows/s; delivery runs at {baseline / ours:.0%} of the bare rate"
                )
    finally:
        drop_database()


if __name__ == "__main__":
    main()
