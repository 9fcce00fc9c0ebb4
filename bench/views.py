"""Views benchmark: the calendar week of 10 doctors at 100,000 appointments, against a hand-written query.

A clinic project on SQLite (or `--database-url` for PostgreSQL) gets 10 doctors, 2,000
patients and N appointments (default 100,000) spread over 18 months, inserted in bulk.
Then, in this process, each measured REPEAT times (medians printed):

  (a) page: `GET /records/appointment/calendar?day=…&mode=week` through the whole app
      (session, security headers, record service with grants, row filter, link titles,
      template), signed in as the front desk;
  (b) service: the calendar's data alone (`build_calendar`: the range read through the
      record service, titles, groups);
  (c) baseline: one hand-written SQLAlchemy Core query of the same week, joined to the
      doctors' names, rows fetched (no permissions, no audit, no HTML).

Prints the medians and the ratios page/baseline and service/baseline, and how many
appointments the week holds.

    python bench/views.py                 # 100,000 appointments, 20 repeats
    python bench/views.py --smoke         # small and quick (used by the tests)
    python bench/views.py --database-url postgresql+psycopg://…/bench_views   # an empty database
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PASSWORD = "bench-password-0123456789"
SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"
DOCTORS = 10
PATIENTS = 2000
DAYS = 548  # 18 months
WEEK = dt.date(2026, 6, 1)  # a Monday inside the seeded span


def setup(directory: Path, appointments: int, database_url: str | None):
    """The project with its rows in bulk; returns the open runtime."""
    from builder.project import init_project
    from builder.runtime import open_runtime
    from builder.storage.crypto import Keyring

    init_project(directory, "clinic")
    text = (directory / "crm.toml").read_text(encoding="utf-8")
    text = text.replace(text[text.index("key_file") :].splitlines()[0], 'key_file = "keys.json"')
    if database_url:
        text = re.sub(r"(?m)^url = .*$", f'url = "{database_url}"', text, count=1)
    (directory / "crm.toml").write_text(text, encoding="utf-8")
    Keyring.generate(directory / "keys.json")
    runtime = open_runtime(directory)
    runtime.records.schema.metadata.create_all(runtime.engine)
    schema = runtime.records.schema
    rng = random.Random(2026)
    now = dt.datetime(2026, 1, 1)
    stamps = {"created_at": now, "updated_at": now, "created_by": "bench", "updated_by": "bench", "version": 1}
    with runtime.engine.begin() as conn:
        conn.execute(
            schema.table("staff").insert(),
            [{"name": f"Dr. {i:02d}", "department": "internal_medicine", **stamps} for i in range(DOCTORS)],
        )
        conn.execute(
            schema.table("patient").insert(),
            [
                {
                    "name": f"患者{i:05d}",
                    "phone": f"13{i:09d}",
                    "gender": rng.choice(["female", "male"]),
                    "stage": "active",
                    "tags": "[]",
                    "consent_marketing": False,
                    "consent_sms": False,
                    **stamps,
                }
                for i in range(PATIENTS)
            ],
        )
        staff_ids = [
            r[0] for r in conn.execute(schema.table("staff").select().with_only_columns(schema.table("staff").c.id))
        ]
        patient_ids = [
            r[0] for r in conn.execute(schema.table("patient").select().with_only_columns(schema.table("patient").c.id))
        ]
        start = dt.datetime.combine(WEEK, dt.time(8)) - dt.timedelta(days=DAYS // 2)
        rows = []
        for i in range(appointments):
            day = start + dt.timedelta(days=rng.randrange(DAYS))
            rows.append(
                {
                    "patient": rng.choice(patient_ids),
                    "doctor": staff_ids[i % DOCTORS],
                    "starts_at": day + dt.timedelta(minutes=20 * rng.randrange(30)),
                    "minutes": 20,
                    "status": rng.choice(["requested", "confirmed", "completed", "cancelled"]),
                    "channel": "phone",
                    **stamps,
                }
            )
        table = schema.table("appointment")
        for first in range(0, len(rows), 5000):
            conn.execute(table.insert(), rows[first : first + 5000])
    return runtime


def median_ms(work, repeat: int) -> float:
    work()  # warm caches and the connection pool
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def run(appointments: int, repeat: int, database_url: str | None) -> dict[str, float]:
    import sqlalchemy as sa
    from argon2 import PasswordHasher
    from starlette.testclient import TestClient

    from builder.accounts import add_user
    from builder.records import Actor
    from builder.web.app import create_app
    from builder.web.pages.calendar import build_calendar
    from builder.web.security import SecuritySettings

    with tempfile.TemporaryDirectory() as tmp:
        runtime = setup(Path(tmp) / "clinic", appointments, database_url)
        try:
            quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
            user = add_user(
                runtime.engine, "desk", "front_desk", PASSWORD, "en", roles=list(runtime.blueprint.roles), hasher=quick
            )
            actor = Actor(id=user.id, name="desk", role="front_desk", locale="en")
            service = runtime.records
            entity = service.entity("appointment")
            view = entity.spec.views["calendar"]
            client = TestClient(create_app(runtime, SecuritySettings(secret_key=SECRET)), follow_redirects=False)
            login = client.get("/login").text
            token = re.search(r'name="csrf_token" value="([^"]*)"', login).group(1)
            signed = client.post(
                "/login", data={"username": "desk", "password": PASSWORD, "next": "/", "csrf_token": token}
            )
            assert signed.status_code == 303, signed.text
            url = f"/records/appointment/calendar?day={WEEK.isoformat()}&mode=week"

            def page():
                answer = client.get(url)
                assert answer.status_code == 200, answer.text[:500]

            def data():
                build_calendar(service, actor, entity, view, WEEK, "week")

            appointment, staff = service.schema.table("appointment"), service.schema.table("staff")
            first = dt.datetime.combine(WEEK, dt.time())
            query = (
                sa.select(appointment, staff.c.name.label("doctor_name"))
                .join(staff, staff.c.id == appointment.c.doctor)
                .where(appointment.c.starts_at >= first, appointment.c.starts_at < first + dt.timedelta(days=7))
                .order_by(appointment.c.starts_at, appointment.c.id)
            )

            def baseline():
                with runtime.engine.connect() as conn:
                    conn.execute(query).all()

            with runtime.engine.connect() as conn:
                held = len(conn.execute(query).all())
            results = {
                "week_appointments": float(held),
                "page_ms": median_ms(page, repeat),
                "service_ms": median_ms(data, repeat),
                "baseline_ms": median_ms(baseline, repeat),
            }
            client.close()
            return results
        finally:
            runtime.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small counts, for the test suite")
    parser.add_argument("--appointments", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument(
        "--database-url", default=None, help="an empty database to fill (default: SQLite in a temp dir)"
    )
    args = parser.parse_args()
    appointments = args.appointments or (2_000 if args.smoke else 100_000)
    repeat = args.repeat or (3 if args.smoke else 20)
    started = time.perf_counter()
    results = run(appointments, repeat, args.database_url)
    print(f"appointments: {appointments:,}; doctors: {DOCTORS}; the week holds {int(results['week_appointments'])}")
    print(f"calendar week page (whole app): {results['page_ms']:.1f} ms median")
    print(f"calendar week data (record service): {results['service_ms']:.1f} ms median")
    print(f"baseline hand-written query: {results['baseline_ms']:.1f} ms median")
    print(
        f"ratio page/baseline: {results['page_ms'] / results['baseline_ms']:.1f}x; "
        f"service/baseline: {results['service_ms'] / results['baseline_ms']:.1f}x"
    )
    print(f"(whole run {time.perf_counter() - started:.0f} s, {repeat} repeats each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
