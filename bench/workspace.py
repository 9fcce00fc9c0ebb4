"""The workspace pages at scale on PostgreSQL (run by `python bench/api.py --workspace`).

A fresh database gets the clinic's tables from `crm migrate` itself (so its indexes
are a project's), then rows are made by the server with `INSERT … SELECT
generate_series` (no Python per row): 10 doctors, N patients (Chinese names, unique
E.164 phones), M appointments of 20 minutes, 08:00–18:00, Monday to Saturday, 70% of
the slots taken (10 doctors make 1,260 a week, so a million span about 15 years up to
two weeks ahead), and a patient's visits (a quarter of the completed appointments),
vital readings (M/4) and follow-ups (N/2). Patients opened by the benchmark are given
a resident ID (encrypted, with its blind index) and allergies through the record
service, as the app writes them, and one update each for their history.

The project is then served by uvicorn in its own process (`api.py --serve generated`)
and one client per role signs in through `/login` and asks, one request at a time:

  (a) the patient page `/records/patient/{id}` as the doctor (fields, the four related
      lists with their totals, the readings' trend, the history) and as the front desk;
  (b) the calendar week `/records/appointment/calendar?day=…&mode=week` of the 10
      doctors as the front desk (about 1,260 cards);
  (c) global search `/search?q=…` as the front desk by a 2-character name prefix, and
      as the doctor by a whole phone number (a front desk's whole-phone look-ups are
      counted against the masked-lookup limit, 30 per 10 minutes).

Beside each, hand-written SQL returning the same rows on one connection of the same
database (the baseline; the week's patients' names are looked up by id, as the app
does). Prints p50 and p95 of each, the ratio of the p50s and the aim (median under
100 ms). The database is dropped at the end.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PASSWORD = "bench-password-0123456789"
DOCTORS = 10
SLOTS_PER_DAY = 30  # 08:00 to 18:00 at 20 minutes
TAKEN_PERCENT = 70
AIM_MS = 100.0
FAMILY = "王王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林"  # 王 twice in 20: about 10% of patients
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"
OPENED = 20  # patients whose pages are opened (rotated through the rounds)


# -- the project and its rows -----------------------------------------------------------
def make_project(directory: Path, url: str) -> None:
    """A clinic project on `url`, migrated by `crm migrate` (tables, link, search and view indexes)."""
    from builder.project import init_project

    init_project(directory, "clinic")
    text = (directory / "crm.toml").read_text(encoding="utf-8")
    text = text.replace(text[text.index("key_file") :].splitlines()[0], 'key_file = "keys.json"')
    text = re.sub(r"(?m)^url = .*$", f'url = "{url}"', text, count=1)
    (directory / "crm.toml").write_text(text, encoding="utf-8")
    subprocess.run(
        [sys.executable, "-c", "from builder.cli import main; main()", "migrate", "-p", str(directory), "--yes"],
        check=True,
        capture_output=True,
        cwd=REPO,
    )


def seed(engine, patients: int, appointments: int, today: dt.date) -> tuple[float, dt.date]:
    """Rows by SQL on the server; (seconds, the first day of the appointments)."""
    import sqlalchemy as sa

    per_day = DOCTORS * SLOTS_PER_DAY * TAKEN_PERCENT // 100
    workdays = -(-appointments // per_day)
    end = today + dt.timedelta(days=14)
    first = end - dt.timedelta(days=workdays // 6 * 7 + workdays % 6)
    first -= dt.timedelta(days=first.weekday())  # a Monday: workday k is (k // 6) weeks and k % 6 days in
    slots = appointments * 100 // TAKEN_PERCENT + DOCTORS * SLOTS_PER_DAY
    stamp = "timestamp '2025-01-01 09:00'"
    began = time.perf_counter()
    statements = [
        f"""INSERT INTO staff (name, department, created_at, updated_at, created_by, updated_by, version)
        SELECT substr('{FAMILY}', 1 + (d * 7) % 20, 1) || '医生' || lpad(d::text, 2, '0'),
               (ARRAY['internal_medicine','endocrinology','pediatrics','dental'])[1 + d % 4],
               {stamp}, {stamp}, 'bench', 'bench', 1
        FROM generate_series(1, {DOCTORS}) AS d""",
        f"""INSERT INTO patient (name, gender, birth_date, age, phone, primary_doctor, channel, stage, tags,
                             consent_sms, consent_marketing, created_at, updated_at, created_by, updated_by, version)
        SELECT substr('{FAMILY}', 1 + (i * 2654435761 % 20)::int, 1)
               || substr('{GIVEN}', 1 + (i * 40503 % 26)::int, 1)
               || CASE WHEN i % 10 < 7 THEN substr('{GIVEN}', 1 + (i * 69069 % 26)::int, 1) ELSE '' END,
               CASE WHEN i % 2 = 0 THEN 'female' ELSE 'male' END,
               b.born, date_part('year', age(date '{today}', b.born))::int,
               '+86139' || lpad((i * 7919 % 100000000)::text, 8, '0'),
               (SELECT min(id) FROM staff) + i % {DOCTORS},
               (ARRAY['walk_in','referral','wechat','web','phone'])[1 + i % 5],
               (ARRAY['lead','new','active','follow_up','dormant'])[1 + i * 7 % 5],
               CASE WHEN i % 10 = 0 THEN '["diabetes"]' ELSE '[]' END,
               i % 2 = 0, i % 3 = 0, {stamp}, {stamp}, 'bench', 'bench', 1
        FROM generate_series(0::bigint, {patients - 1}) AS i,
             LATERAL (SELECT date '1940-01-01' + (i * 7919 % 29000)::int AS born) AS b""",
        f"""INSERT INTO appointment (patient, doctor, starts_at, minutes, status, channel,
                                 created_at, updated_at, created_by, updated_by, version)
        SELECT p.first + (s * 7919 % {patients}), d.first + s % {DOCTORS}, t.at, 20,
               CASE WHEN t.at >= timestamp '{today}' THEN (ARRAY['requested','confirmed'])[1 + s % 2]
                    ELSE (ARRAY['completed','completed','completed','completed','completed','completed',
                                'no_show','cancelled','completed','completed'])[1 + s * 7 % 10] END,
               (ARRAY['phone','walk_in','wechat','web'])[1 + s * 3 % 4],
               {stamp}, {stamp}, 'bench', 'bench', 1
        FROM (SELECT s FROM generate_series(0::bigint, {slots}) AS s
              WHERE s * 2654435761 % 100 < {TAKEN_PERCENT} LIMIT {appointments}) AS picked,
             LATERAL (SELECT (s / {DOCTORS}) / {SLOTS_PER_DAY} AS k, (s / {DOCTORS}) % {SLOTS_PER_DAY} AS slot) AS w,
             LATERAL (SELECT timestamp '{first}' + ((w.k / 6) * 7 + w.k % 6) * interval '1 day'
                             + interval '8 hours' + w.slot * interval '20 minutes' AS at) AS t,
             (SELECT min(id) AS first FROM patient) AS p, (SELECT min(id) AS first FROM staff) AS d""",
        f"""INSERT INTO visit (patient, department, doctor, visited_at, wait_minutes, diagnosis, satisfaction,
                           created_at, updated_at, created_by, updated_by, version)
        SELECT a.patient, s.department, a.doctor, a.starts_at + interval '5 minutes', a.id % 40,
               '复诊,病情稳定', 6 + a.id % 5, {stamp}, {stamp}, 'bench', 'bench', 1
        FROM appointment a JOIN staff s ON s.id = a.doctor WHERE a.status = 'completed' AND a.id % 4 = 0""",
        f"""INSERT INTO vital_reading (patient, taken_at, systolic, diastolic, glucose, glucose_context, risk,
                                   glucose_risk, created_at, updated_at, created_by, updated_by, version)
        SELECT p.first + (i * 7919 % {patients}), timestamp '{today}' - (i % 3650) * interval '1 day', r.sys, r.dia,
               r.glu, (ARRAY['fasting','after_meal','random'])[1 + i % 3],
               CASE WHEN r.sys >= 140 OR r.dia >= 90 THEN 'high' WHEN r.sys >= 120 THEN 'elevated' ELSE 'normal' END,
               CASE WHEN r.glu >= 11.1 THEN 'high' WHEN r.glu >= 6.1 THEN 'elevated' ELSE 'normal' END,
               {stamp}, {stamp}, 'bench', 'bench', 1
        FROM generate_series(0::bigint, {appointments // 4 - 1}) AS i,
             LATERAL (SELECT 100 + i * 13 % 70 AS sys, 60 + i * 7 % 35 AS dia,
                             round((4.0 + (i * 17 % 80) / 10.0)::numeric, 1) AS glu) AS r,
             (SELECT min(id) AS first FROM patient) AS p""",
        f"""INSERT INTO follow_up (patient, assignee, due_on, reason, status, attempts, outcome,
                               created_at, updated_at, created_by, updated_by, version)
        SELECT p.first + (i * 7919 % {patients}), d.first + i % {DOCTORS}, date '{today}' - (i % 700)::int + 30,
               '复查血压', (ARRAY['open','done','unreachable'])[1 + i % 3], i % 4,
               CASE WHEN i % 3 = 1 THEN '已电话联系' END, {stamp}, {stamp}, 'bench', 'bench', 1
        FROM generate_series(0::bigint, {patients // 2 - 1}) AS i,
             (SELECT min(id) AS first FROM patient) AS p, (SELECT min(id) AS first FROM staff) AS d""",
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    raw = engine.raw_connection()
    try:
        raw.driver_connection.autocommit = True
        with raw.driver_connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    finally:
        raw.close()
    return time.perf_counter() - began, first


def resident_id(born: dt.date, female: bool, n: int) -> str:
    from engines.forms.fieldtypes import resident_id_check_digit

    first17 = f"110105{born:%Y%m%d}{(n % 50) * 2 + (0 if female else 1):03d}"
    return first17 + resident_id_check_digit(first17)


def prepare(directory: Path, patients: int, appointments: int) -> dict:
    """Seed, then the accounts and the opened patients through the app's own code; what the rounds need."""
    import sqlalchemy as sa
    from argon2 import PasswordHasher

    from builder.accounts import add_user
    from builder.records import SYSTEM
    from builder.runtime import open_runtime

    runtime = open_runtime(directory)
    try:
        service, engine = runtime.records, runtime.engine
        today = service.clock().date()
        seconds, first = seed(engine, patients, appointments, today)
        quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        roles = list(runtime.blueprint.roles)
        add_user(engine, "desk", "front_desk", PASSWORD, "zh-CN", roles=roles, hasher=quick)
        doctor = add_user(engine, "doc", "doctor", PASSWORD, "zh-CN", roles=roles, hasher=quick)
        with engine.begin() as conn:
            staff_ids = conn.execute(sa.text("SELECT id FROM staff ORDER BY id")).scalars().all()
            conn.execute(sa.text('UPDATE staff SET "user" = :u WHERE id = :s'), {"u": doctor.id, "s": staff_ids[0]})
            # the doctor's own patients (their appointments pass the doctor's row filter)
            opened = (
                conn.execute(
                    sa.text(
                        "SELECT DISTINCT patient FROM appointment WHERE doctor = :s AND id % 97 = 0 "
                        "ORDER BY patient LIMIT :n"
                    ),
                    {"s": staff_ids[0], "n": OPENED},
                )
                .scalars()
                .all()
            )
            rows = conn.execute(
                sa.text("SELECT id, name, phone, birth_date, gender FROM patient WHERE id = ANY(:ids)"),
                {"ids": list(opened)},
            ).all()
        for n, row in enumerate(rows):
            record = service.get(SYSTEM, "patient", row.id)
            changes = {
                "id_number": resident_id(row.birth_date, row.gender == "female", n),
                "allergies": "青霉素过敏",
                "stage": "active",
            }
            service.update(SYSTEM, "patient", row.id, changes, record["version"])
        week = today - dt.timedelta(days=today.weekday())
        return {
            "seconds": seconds,
            "first": first,
            "patients": [r.id for r in rows],
            "phones": [r.phone for r in rows],
            "prefixes": sorted({r.name[:2] for r in rows}),
            "weeks": [week - dt.timedelta(days=7 * k) for k in range(4)],
        }
    finally:
        runtime.close()


# -- requests ------------------------------------------------------------------------------
def signed_in(base: str, username: str):
    import httpx

    client = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    login = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]*)"', login).group(1)
    answer = client.post("/login", data={"username": username, "password": PASSWORD, "next": "/", "csrf_token": token})
    if answer.status_code != 303:
        raise SystemExit(f"sign-in as {username}: {answer.status_code} {answer.text[:300]}")
    return client


def page(client, url: str) -> Callable[[], None]:
    def get() -> None:
        answer = client.get(url)
        if answer.status_code != 200:
            raise SystemExit(f"{url}: {answer.status_code} {answer.text[:300]}")

    return get


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def timed(work: Callable[[int], object], rounds: int) -> tuple[float, float]:
    for n in range(3):  # warm up (plans, caches, the pool)
        work(n)
    times = []
    for n in range(rounds):
        began = time.perf_counter()
        work(n)
        times.append(time.perf_counter() - began)
    return percentiles(times)


def baselines(engine, prepared: dict) -> dict[str, Callable[[int], object]]:
    """Hand-written SQL giving each page's rows, on one connection (no permissions, audit or HTML)."""
    import sqlalchemy as sa

    def rows(*queries: tuple[str, dict]) -> None:
        with engine.connect() as conn:
            for text, params in queries:
                conn.execute(sa.text(text), params).all()

    def patient_page(n: int) -> None:
        p = {"p": prepared["patients"][n % len(prepared["patients"])]}
        rows(
            ("SELECT * FROM patient WHERE id = :p", p),
            (
                "SELECT a.id, a.starts_at, s.name, a.status, a.channel FROM appointment a JOIN staff s "
                "ON s.id = a.doctor WHERE a.patient = :p ORDER BY a.starts_at DESC, a.id DESC LIMIT 5",
                p,
            ),
            ("SELECT count(*) FROM appointment WHERE patient = :p", p),
            (
                "SELECT v.id, v.visited_at, s.name, v.satisfaction FROM visit v LEFT JOIN staff s ON s.id = v.doctor "
                "WHERE v.patient = :p ORDER BY v.visited_at DESC, v.id DESC LIMIT 5",
                p,
            ),
            ("SELECT count(*) FROM visit WHERE patient = :p", p),
            (
                "SELECT id, taken_at, systolic, diastolic, glucose, risk FROM vital_reading WHERE patient = :p "
                "ORDER BY taken_at DESC, id DESC LIMIT 30",
                p,
            ),
            ("SELECT count(*) FROM vital_reading WHERE patient = :p", p),
            (
                "SELECT f.id, f.due_on, f.reason, s.name, f.status FROM follow_up f LEFT JOIN staff s "
                "ON s.id = f.assignee WHERE f.patient = :p ORDER BY f.due_on DESC, f.id DESC LIMIT 5",
                p,
            ),
            ("SELECT count(*) FROM follow_up WHERE patient = :p", p),
            ("SELECT * FROM crm_audit WHERE entity = 'patient' AND record_id = :p ORDER BY at DESC LIMIT 50", p),
        )

    def week(n: int) -> None:
        """The week joined to the doctors, then its patients' names by their ids: joined to `patient` as
        well, PostgreSQL hashes all 100,000 patients (80 ms here) rather than look up 1,260 of them."""
        first = prepared["weeks"][n % len(prepared["weeks"])]
        with engine.connect() as conn:
            week = conn.execute(
                sa.text(
                    "SELECT a.id, a.version, a.patient, a.starts_at, a.minutes, a.status, s.name FROM appointment a "
                    "JOIN staff s ON s.id = a.doctor WHERE a.starts_at >= :a AND a.starts_at < :b "
                    "ORDER BY a.starts_at, a.id"
                ),
                {"a": first, "b": first + dt.timedelta(days=7)},
            ).all()
            ids = sorted({r.patient for r in week})
            conn.execute(sa.text("SELECT id, name FROM patient WHERE id = ANY(:ids)"), {"ids": ids}).all()

    def by_name(n: int) -> None:
        q = {"q": prepared["prefixes"][n % len(prepared["prefixes"])] + "%"}
        rows(
            ("SELECT id, name, phone FROM patient WHERE lower(name) LIKE :q ORDER BY id DESC LIMIT 6", q),
            ("SELECT id, name FROM staff WHERE lower(name) LIKE :q ORDER BY id DESC LIMIT 6", q),
        )

    def by_phone(n: int) -> None:
        rows(("SELECT * FROM patient WHERE phone = :p", {"p": prepared["phones"][n % len(prepared["phones"])]}))

    return {"patient": patient_page, "week": week, "name": by_name, "phone": by_phone}


def measure(base: str, url: str, prepared: dict, rounds: int) -> list[tuple[str, float, float, float, float]]:
    from urllib.parse import quote

    from builder.storage.database import make_engine

    desk, doc = signed_in(base, "desk"), signed_in(base, "doc")
    engine = make_engine(url)
    try:
        sql = baselines(engine, prepared)
        ids, weeks = prepared["patients"], prepared["weeks"]
        prefixes, phones = prepared["prefixes"], prepared["phones"]
        requests = [
            (
                "patient page, doctor (4 related lists, trend)",
                lambda n: page(doc, f"/records/patient/{ids[n % len(ids)]}")(),
                sql["patient"],
            ),
            (
                "patient page, front desk",
                lambda n: page(desk, f"/records/patient/{ids[n % len(ids)]}")(),
                sql["patient"],
            ),
            (
                "calendar week, 10 doctors, front desk",
                lambda n: page(desk, f"/records/appointment/calendar?day={weeks[n % len(weeks)]}&mode=week")(),
                sql["week"],
            ),
            (
                "global search, 2-char name prefix",
                lambda n: page(desk, f"/search?q={quote(prefixes[n % len(prefixes)])}")(),
                sql["name"],
            ),
            (
                "global search, whole phone (doctor)",
                lambda n: page(doc, f"/search?q={quote(phones[n % len(phones)][3:])}")(),
                sql["phone"],
            ),
        ]
        return [(label, *timed(ours, rounds), *timed(theirs, rounds)) for label, ours, theirs in requests]
    finally:
        desk.close()
        doc.close()
        engine.dispose()


def week_size(url: str, first: dt.date) -> int:
    import sqlalchemy as sa

    from builder.storage.database import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            query = "SELECT count(*) FROM appointment WHERE starts_at >= :a AND starts_at < :b"
            return conn.execute(sa.text(query), {"a": first, "b": first + dt.timedelta(days=7)}).scalar_one()
    finally:
        engine.dispose()


def run_workspace(server: str, patients: int, appointments: int, rounds: int, start: Callable) -> int:
    """Create the database, seed, serve, measure, print; drop the database whatever happens."""
    from builder.storage.database import make_engine

    name = f"crm_bench_ws_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp) / "clinic"
            make_project(directory, url)
            prepared = prepare(directory, patients, appointments)
            held = week_size(url, prepared["weeks"][0])
            process, base = start("generated", directory)
            try:
                rows = measure(base, url, prepared, rounds)
            finally:
                process.terminate()
                process.wait(timeout=10)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    print(
        f"Workspace pages on PostgreSQL: {patients:,} patients, {appointments:,} appointments from "
        f"{prepared['first']} ({DOCTORS} doctors; this week holds {held:,}), seeded in {prepared['seconds']:.0f} s; "
        f"served by uvicorn, one request at a time, {rounds} rounds"
    )
    print(f"{'request':44}{'p50 ms':>8}{'p95 ms':>8}{'SQL p50':>9}{'SQL p95':>9}{'ratio':>7}  aim p50 < 100 ms")
    for label, p50, p95, b50, b95 in rows:
        verdict = "met" if p50 < AIM_MS else "NOT met"
        print(f"{label:44}{p50:8.1f}{p95:8.1f}{b50:9.1f}{b95:9.1f}{p50 / b50:6.1f}x  {verdict}")
    return 0
