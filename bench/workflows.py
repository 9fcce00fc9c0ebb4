"""Timer throughput on PostgreSQL: `crm worker` processes firing due reminders against a bare SKIP LOCKED loop.

    PYTHONPATH=. python bench/workflows.py                 # 100,000 due timers, 1 and 4 workers
    PYTHONPATH=. python bench/workflows.py --quick         # 10,000 due timers

N confirmed appointments (200 patients with SMS consent), each with its 24-hour reminder
due in `crm_timer` at a moment of the last hour (within the reminder's 2-hour grace),
are fired (the automation's `if:` read on the record, the notify action's `if:` on the
patient, an outbox row written) and delivered to a `console` channel writing to
/dev/null by 1 and by 4 `crm worker` processes. Then the
same timers, reset, go through the same number of processes running a bare loop doing
the same database work by hand, in as few statements as it can, and nothing else: claim
100 due timers `FOR UPDATE SKIP LOCKED`, read their appointments and patients, mark them
fired in one UPDATE and insert their outbox rows in one INSERT, commit; claim 100 outbox
rows the same way and mark them sending, commit; read them with their appointments and
patients; mark them sent in one UPDATE, commit. It evaluates no condition, decrypts
nothing and renders no message. Prints timers/s for both and the ratio. The bench makes
its own database on the local server (`BENCH_PG`, default
postgresql://postgres@127.0.0.1:5432/postgres) and drops it after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

from bench_support import REPO, drop_database, recreate_database, time_processes, worker_command, worker_project

sys.path.insert(0, str(REPO))

DATABASE = "bench_workflows"
PATIENTS = 200
BATCH = 100

BARE_LOOP = """
import sys, datetime as dt, sqlalchemy as sa
engine = sa.create_engine(sys.argv[1].replace("postgresql://", "postgresql+psycopg://"))
meta = sa.MetaData()
timers = sa.Table("crm_timer", meta, autoload_with=engine)
outbox = sa.Table("crm_outbox", meta, autoload_with=engine)
appointment = sa.Table("appointment", meta, autoload_with=engine)
patient = sa.Table("patient", meta, autoload_with=engine)

def read_records(conn, appointment_ids):
    # what firing and delivering read: the appointments, and the patients they link to
    found = conn.execute(sa.select(appointment).where(appointment.c.id.in_(appointment_ids))).all()
    conn.execute(sa.select(patient).where(patient.c.id.in_({a.patient for a in found}))).all()

idle = 0
while idle < 20:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    with engine.begin() as conn:
        due = conn.execute(sa.select(timers.c.id, timers.c.record_id, timers.c.due_at)
              .where(timers.c.status == "planned", timers.c.due_at <= now).order_by(timers.c.due_at, timers.c.id)
              .limit(BATCH).with_for_update(skip_locked=True)).all()
        if due:
            read_records(conn, [t.record_id for t in due])
            conn.execute(timers.update().where(timers.c.id.in_([t.id for t in due]))
                         .values(status="fired", fired_at=now))
            conn.execute(outbox.insert(), [dict(
                key=f"appointment_reminder:0:appointment:{t.record_id}:{t.due_at.isoformat()}+00:00",
                automation="appointment_reminder", channel="sms", template="appointment_reminder",
                entity="appointment", record_id=t.record_id, recipient="patient", status="pending",
                attempts=0, next_attempt_at=now, created_at=now) for t in due])
    with engine.begin() as conn:
        ids = list(conn.execute(sa.select(outbox.c.id).where(outbox.c.status == "pending",
              outbox.c.next_attempt_at <= now).order_by(outbox.c.next_attempt_at, outbox.c.id)
              .limit(BATCH).with_for_update(skip_locked=True)).scalars())
        if ids:
            conn.execute(outbox.update().where(outbox.c.id.in_(ids))
                         .values(status="sending", attempts=outbox.c.attempts + 1))
    if not due and not ids:
        idle += 1
        continue
    idle = 0
    with engine.connect() as conn:
        rows = conn.execute(sa.select(outbox).where(outbox.c.id.in_(ids))).all()
        read_records(conn, [r.record_id for r in rows])
    with engine.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.id.in_([r.id for r in rows]), outbox.c.status == "sending")
                     .values(status="sent", sent_at=now))
""".replace("BATCH", str(BATCH))


def engine_for(url: str):
    import sqlalchemy as sa

    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


def setup(directory: Path, url: str, count: int) -> None:
    """The clinic template on `url`, migrated; patients and a doctor; `count` confirmed appointments in bulk."""
    from builder.records import SYSTEM
    from builder.runtime import open_runtime

    worker_project(directory, url, BATCH)
    runtime = open_runtime(directory)
    try:
        doctor = runtime.records.create(SYSTEM, "staff", {"name": "Dr. Li"})["id"]
        patients = [
            runtime.records.create(
                SYSTEM, "patient", {"name": f"患者{i:04d}", "phone": f"1380000{i:04d}", "consent_sms": True}
            )["id"]
            for i in range(PATIENTS)
        ]
        table = runtime.records.schema.table("appointment")
        stamp = dt.datetime(2026, 1, 1)
        starts = dt.datetime(2027, 1, 1, 9)
        rows = [
            {
                "patient": patients[i % PATIENTS],
                "doctor": doctor,
                "starts_at": starts + dt.timedelta(minutes=30 * i),
                "minutes": 20,
                "status": "confirmed",
                "channel": "phone",
                "created_at": stamp,
                "updated_at": stamp,
                "created_by": "bench",
                "updated_by": "bench",
                "version": 1,
            }
            for i in range(count)
        ]
        with runtime.engine.begin() as conn:
            for start in range(0, count, 5000):
                conn.execute(table.insert(), rows[start : start + 5000])
    finally:
        runtime.close()


def reset(url: str) -> None:
    """Every appointment's reminder planned and due within the last hour (a minute ago at the latest); no outbox.

    The moments are spread over the hour as real reminders are: 100,000 timers due at the very
    same second would make each claim sort them all by id, which no clinic's timers do.
    """
    import sqlalchemy as sa

    engine = engine_for(url)
    due = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) - dt.timedelta(minutes=1)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM crm_outbox"))
        conn.execute(sa.text("DELETE FROM crm_timer"))
        conn.execute(
            sa.text(
                "INSERT INTO crm_timer (automation, entity, record_id, due_at, status, updated_at)"
                " SELECT 'appointment_reminder', 'appointment', id,"
                " :due - (id % 3600) * interval '1 second', 'planned', :due FROM appointment"
            ),
            {"due": due},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE crm_timer"))
        conn.execute(sa.text("VACUUM ANALYZE crm_outbox"))
    engine.dispose()


def progress(url: str) -> tuple[int, int]:
    """(timers fired, outbox rows sent)."""
    import sqlalchemy as sa

    engine = engine_for(url)
    with engine.connect() as conn:
        fired = conn.execute(sa.text("SELECT count(*) FROM crm_timer WHERE status = 'fired'")).scalar_one()
        sent = conn.execute(sa.text("SELECT count(*) FROM crm_outbox WHERE status = 'sent'")).scalar_one()
    engine.dispose()
    return int(fired), int(sent)


def run(commands: list[list[str]], url: str, count: int) -> float:
    """Seconds from the first timer fired until every reminder is sent (process start-up is not counted)."""

    def state() -> tuple[bool, bool]:
        fired, sent = progress(url)
        return fired > 0, sent >= count

    return time_processes(commands, state, gate=(url, "crm_timer"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timers", type=int, default=None, help="due timers (default 100,000; --quick 10,000)")
    parser.add_argument("--quick", action="store_true", help="a smaller run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    count = args.timers or (10_000 if args.quick else 100_000)
    url = recreate_database(DATABASE)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp) / "clinic"
            setup(directory, url, count)
            worker = worker_command(directory)
            bare = [sys.executable, "-c", BARE_LOOP, url]
            print(f"{count} due reminders, fired and delivered to the console channel (PostgreSQL)")
            for workers in args.workers:
                reset(url)
                ours = run([worker] * workers, url, count)
                reset(url)
                baseline = run([bare] * workers, url, count)
                print(
                    f"{workers} worker(s): {count / ours:6.0f} timers/s fired and delivered; bare SKIP LOCKED loop "
                    f"{count / baseline:6.0f} timers/s; the workers run at {baseline / ours:.0%} of the bare rate"
                )
    finally:
        drop_database(DATABASE)


if __name__ == "__main__":
    main()
