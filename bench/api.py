"""API benchmark: the generated API against a hand-written Starlette + SQLAlchemy Core baseline.

On N seeded patients (inserted in bulk), both servers answer the same two requests
with the same uvicorn settings, each in its own subprocess on 127.0.0.1, both up at
once, their loads alternating in slices of 100 requests (best round kept):

  (a) list: 50 patients, filtered (stage=active) and sorted (name), as the `marketing`
      role: its row filter (consent_marketing) and phone masking applied;
  (b) create: one patient, as `admin` (validated, written with its audit entry).

The baseline checks the same bearer token, runs the same SQL, masks the same way,
validates the phone the same way and writes the same audit rows (the list's read
entry too), by hand. Prints requests per second for both, the ratios, and each
server's resident memory.

    python bench/api.py              # 10,000 patients, 1,000 list + 300 create requests, 2 rounds
    python bench/api.py --db postgresql  # the same on PostgreSQL (BENCH_PG; a database of each, dropped)
    python bench/api.py --smoke      # small and quick (used by the tests)
    python bench/api.py --planning   # only what planning timers adds to a create and an update
    python bench/api.py --workspace  # the patient page, the calendar week and global search at
                                     # 100,000 patients and 1,000,000 appointments on PostgreSQL
                                     # (bench/workspace.py; --patients, --appointments, --rounds)

It also measures, in-process on SQLite and PostgreSQL (`BENCH_PG`), what the workflows add
to creating and to moving a confirmed appointment: each plans or moves its two timers.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"
CONCURRENCY = 8
SLICE = 100  # requests sent to one server before the other gets the same (see `run`)
WRITERS = int(
    os.environ.get("BENCH_WRITERS", "1")
)  # SQLite: one writer at a time (concurrent deferred transactions fail with "database is locked")


# -- setup ---------------------------------------------------------------------------
def setup_project(directory: Path, patients: int, url: str | None = None) -> dict[str, str]:
    """A clinic project (on SQLite, or on `url`) with `patients` rows inserted in bulk; returns API tokens."""

    from builder.accounts import create_token
    from builder.project import init_project
    from builder.runtime import open_runtime
    from builder.storage.crypto import Keyring

    init_project(directory, "clinic")
    text = (directory / "crm.toml").read_text(encoding="utf-8")
    text = text.replace(text[text.index("key_file") :].splitlines()[0], 'key_file = "keys.json"')
    if url is not None:
        text = text.replace('url = "sqlite:///crm.sqlite3"', f'url = "{url}"')
    (directory / "crm.toml").write_text(text, encoding="utf-8")
    Keyring.generate(directory / "keys.json")
    runtime = open_runtime(directory)
    try:
        runtime.records.schema.metadata.create_all(runtime.engine)
        table = runtime.records.schema.table("patient")
        rng = random.Random(2026)
        now = dt.datetime(2026, 1, 1)
        rows = [
            {
                "name": f"患者{i:05d}",
                "phone": f"13{rng.randrange(10**9):09d}"[:11] + f"{i}"[-0:0],
                "gender": rng.choice(["female", "male"]),
                "stage": rng.choice(["lead", "new", "active", "dormant"]),
                "tags": "[]",
                "consent_marketing": rng.random() < 0.5,
                "consent_sms": False,
                "created_at": now,
                "updated_at": now,
                "created_by": "bench",
                "updated_by": "bench",
                "version": 1,
            }
            for i in range(patients)
        ]
        for i, row in enumerate(rows):
            row["phone"] = f"13{i:09d}"
        with runtime.engine.begin() as conn:
            for start in range(0, len(rows), 2000):
                conn.execute(table.insert(), rows[start : start + 2000])
        roles = list(runtime.blueprint.roles)
        return {
            role: create_token(runtime.engine, f"bench-{role}", role, roles=roles) for role in ("admin", "marketing")
        }
    finally:
        runtime.close()


# -- servers -------------------------------------------------------------------------
def generated_app(directory: Path):
    from builder.runtime import open_runtime
    from builder.web.app import create_app
    from builder.web.security import SecuritySettings

    runtime = open_runtime(directory)
    return create_app(runtime, SecuritySettings(secret_key=SECRET))


# what a created patient's answer holds (every field of the entity, `age` computed: empty here)
ANSWERED = [
    "name",
    "gender",
    "birth_date",
    "age",
    "phone",
    "id_number",
    "email",
    "allergies",
    "pregnancy",
    "primary_doctor",
    "channel",
]


def baseline_app(directory: Path):
    """The same two endpoints written by hand with Starlette and SQLAlchemy Core.

    Each does the work the generated endpoint does, no less: the token looked up (and its
    account's state), the same columns and masking, the list's read audit entry (ids and
    field names) in its own transaction; the create validates the name and the phone (a
    real number of the region, stored E.164), refuses a duplicate phone, and writes the
    same audit entry (old and new values, `changed` for the sensitive phone).
    """
    import phonenumbers
    import sqlalchemy as sa
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from builder.project import Project
    from builder.storage.database import make_engine
    from builder.system_tables import audit, tokens, users

    engine = make_engine(Project.load(directory).database_url)
    meta = sa.MetaData()
    patient = sa.Table("patient", meta, autoload_with=engine)
    token_query = (
        sa.select(tokens.c.name, tokens.c.role, users.c.disabled)
        .select_from(tokens.outerjoin(users, users.c.id == tokens.c.user_id))
        .where(tokens.c.token_hash == sa.bindparam("digest"), tokens.c.revoked_at.is_(None))
    )
    listed = ("id", "name", "stage", "tags", "phone", "version", "created_at", "created_by", "updated_at")
    list_query = (
        sa.select(*(patient.c[name] for name in listed), patient.c.updated_by)
        .where(patient.c.consent_marketing == sa.true(), patient.c.stage == sa.bindparam("stage"))
        .order_by(patient.c.name, patient.c.id.desc())
        .limit(sa.bindparam("limit"))
    )
    count_query = sa.select(sa.func.count()).select_from(
        sa.select(patient.c.id)
        .where(patient.c.consent_marketing == sa.true(), patient.c.stage == sa.bindparam("stage"))
        .subquery()
    )

    def actor_of(request: Request) -> tuple[str, str] | None:
        """(audit name, role) of the bearer token, None if unknown, revoked or its account disabled."""
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        digest = hashlib.sha256(token.encode()).hexdigest()
        with engine.connect() as conn:
            row = conn.execute(token_query, {"digest": digest}).first()
        return (f"token:{row.name}", row.role) if row and row.disabled is not True else None

    def audit_values(request: Request, actor: tuple[str, str], action: str, **values) -> dict:
        at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        client = request.client.host if request.client else None
        return dict(at=at, actor=actor[0], role=actor[1], address=client, action=action, entity="patient", **values)

    def mask(phone: str | None) -> str | None:
        return None if phone is None else phone[:3] + "*" * (len(phone) - 7) + phone[-4:]

    def listing(request: Request):
        actor = actor_of(request)
        if actor is None or actor[1] != "marketing":
            return JSONResponse({"errors": []}, status_code=403)
        stage = request.query_params.get("stage")
        limit = int(request.query_params.get("limit", "50"))
        with engine.connect() as conn:
            total = conn.execute(count_query, {"stage": stage}).scalar_one()
            rows = conn.execute(list_query, {"stage": stage, "limit": limit + 1}).all()
        more, rows = len(rows) > limit, rows[:limit]
        items = [
            {
                "id": r.id,
                "name": r.name,
                "phone": mask(r.phone),
                "stage": r.stage,
                "tags": json.loads(r.tags or "[]"),
                "version": r.version,
                "created_at": r.created_at.isoformat(),
                "created_by": r.created_by,
                "updated_at": r.updated_at.isoformat(),
                "updated_by": r.updated_by,
            }
            for r in rows
        ]
        detail = {
            "rows": len(items),
            "ids": [item["id"] for item in items],
            "fields": ["name", "phone", "stage", "tags"],
            "filters": ["stage"],
            "search": False,
            "sort": request.query_params.get("sort"),
        }
        with engine.begin() as conn:  # the read of a sensitive field is audited, as the generated API does
            conn.execute(
                audit.insert().values(
                    **audit_values(request, actor, "list", detail=json.dumps(detail, ensure_ascii=False))
                )
            )
        cursor = str(rows[-1].id) if more else None
        return JSONResponse(
            {"items": items, "total": total, "total_kind": "exact", "limit": limit, "offset": 0, "next_after": cursor}
        )

    async def create(request: Request):
        body = await request.json()
        return await run_in_threadpool(_insert, request, body)

    def e164(text: object) -> str | None:
        """A valid mobile or landline number of China in E.164, else None."""
        try:
            number = phonenumbers.parse(str(text), "CN")
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number_for_region(number, "CN"):
            return None
        kinds = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
        if phonenumbers.number_type(number) not in (*kinds, phonenumbers.PhoneNumberType.FIXED_LINE):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def _insert(request: Request, body: dict):
        actor = actor_of(request)
        if actor is None or actor[1] != "admin":
            return JSONResponse({"errors": []}, status_code=403)
        name, phone = body.get("name"), e164(body.get("phone"))
        if not isinstance(name, str) or not name.strip() or len(name) > 50 or phone is None:
            return JSONResponse({"errors": []}, status_code=422)
        now = dt.datetime.now().replace(microsecond=0)
        values = {
            "name": name.strip(),
            "phone": phone,
            "stage": "lead",
            "tags": "[]",
            "consent_sms": False,
            "consent_marketing": False,
            "created_at": now,
            "updated_at": now,
            "created_by": actor[0],
            "updated_by": actor[0],
            "version": 1,
        }
        changes = {
            "name": [None, values["name"]],
            "phone": "changed",
            "stage": [None, "lead"],
            "consent_sms": [None, False],
            "consent_marketing": [None, False],
        }
        with engine.begin() as conn:
            if conn.execute(sa.select(patient.c.id).where(patient.c.phone == phone)).first():
                return JSONResponse({"errors": []}, status_code=422)
            new_id = conn.execute(patient.insert().values(**values)).inserted_primary_key[0]
            conn.execute(
                audit.insert().values(
                    **audit_values(
                        request, actor, "create", record_id=new_id, changes=json.dumps(changes, ensure_ascii=False)
                    )
                )
            )
        shown = dict.fromkeys(ANSWERED, None) | values | {"id": new_id, "tags": []}
        shown.update(created_at=now.isoformat(), updated_at=now.isoformat())
        return JSONResponse(shown, status_code=201)

    return Starlette(
        routes=[Route("/api/patient", listing, methods=["GET"]), Route("/api/patient", create, methods=["POST"])]
    )


def serve(kind: str, directory: Path, port: int) -> None:
    import uvicorn

    app = generated_app(directory) if kind == "generated" else baseline_app(directory)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, server_header=False)


# -- load ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of the server process (and its children: `timeout` wraps it)."""
    total = 0
    for candidate in [pid] + _children(pid):
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = [int(k) for k in kids]
    return found + [g for k in found for g in _children(k)]


def start(kind: str, directory: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        ["timeout", "900", sys.executable, __file__, "--serve", kind, "--project", str(directory), "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(300):
        try:
            httpx.get(base + "/api/patient", timeout=1)
            return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the {kind} server did not start")


def load(base: str, requests: list[tuple[str, dict]], token_for: dict[str, str], concurrency: int = 0) -> float:
    """Send every request (`concurrency` at a time); requests per second. Any non-2xx is an error."""
    concurrency = concurrency or CONCURRENCY
    import httpx

    def worker(chunk: list[tuple[str, dict]]) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            for kind, payload in chunk:
                if kind == "list":
                    r = client.get(
                        "/api/patient",
                        params={"stage": "active", "sort": "name", "limit": 50},
                        headers={"Authorization": f"Bearer {token_for['marketing']}"},
                    )
                else:
                    r = client.post(
                        "/api/patient", json=payload, headers={"Authorization": f"Bearer {token_for['admin']}"}
                    )
                if r.status_code >= 300:
                    raise SystemExit(f"{kind}: {r.status_code} {r.text[:200]}")

    chunks = [requests[i::concurrency] for i in range(concurrency)]
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, chunks))
    return len(requests) / (time.perf_counter() - started)


def run(patients: int, list_requests: int, create_requests: int, rounds: int, db: str) -> dict[str, dict]:
    """Both servers up side by side, their loads alternating in slices of SLICE requests.

    Each round sends every list request, then every create, to each server, a slice to one
    then the same slice to the other: both get the same share of a shared machine's quiet
    and busy moments (whole runs one after the other differed by 2x here). A round's rate
    is its requests over the summed time of its slices.
    """
    from bench_support import own_database  # this script's folder is on sys.path

    kinds = ("baseline", "generated")
    results: dict[str, dict] = {kind: {"list": [], "create": []} for kind in kinds}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        servers = {}
        for kind in kinds:
            url = stack.enter_context(own_database(db, Path(tmp), "unused")) if db == "postgresql" else None
            tokens = setup_project(Path(tmp) / kind, patients, url)  # identical data for both
            process, base = start(kind, Path(tmp) / kind)
            stack.callback(stop, process)
            servers[kind] = (process, base, tokens)
            load(base, [("list", {})] * min(20, list_requests), tokens)  # warm up
        for round_ in range(rounds):
            for what, count in (("list", list_requests), ("create", create_requests)):
                spent = dict.fromkeys(kinds, 0.0)
                for first in range(0, count, SLICE):
                    size = min(SLICE, count - first)
                    for offset, kind in enumerate(kinds):
                        _, base, tokens = servers[kind]
                        if what == "list":
                            requests = [("list", {})] * size
                        else:
                            phones = [f"15{offset}{round_}{i:07d}" for i in range(first, first + size)]
                            requests = [("create", {"name": f"新患者{i}", "phone": p}) for i, p in enumerate(phones)]
                        spent[kind] += size / load(base, requests, tokens, 0 if what == "list" else WRITERS)
                for kind in kinds:
                    results[kind][what].append(count / spent[kind])
        for kind in kinds:
            results[kind]["rss"] = rss_mb(servers[kind][0].pid)
    return results


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


# -- planning timers -------------------------------------------------------------------
def planning_rates(url: str, with_workflows: bool, count: int) -> tuple[float, float]:
    """Creates/s and updates/s of confirmed appointments through the record service, in-process.

    With workflows each create plans the appointment's two timers (reminder, no-show check)
    and each update (a move) moves them; without, the same service has no workflows.
    """
    from builder.loading import load_blueprint
    from builder.records import SYSTEM, RecordService
    from builder.storage.database import make_engine
    from builder.system_tables import create_system_tables
    from engines.rules import set_timezone

    loaded = load_blueprint(REPO / "blueprints" / "clinic")
    blueprint = loaded.blueprint
    set_timezone(blueprint.app.timezone)
    engine = make_engine(url)
    service = RecordService(
        blueprint.entities,
        engine,
        decision_tables=loaded.decision_tables,
        timezone=blueprint.app.timezone,
        flows=loaded.flows if with_workflows else None,
    )
    try:
        service.schema.metadata.create_all(engine)
        create_system_tables(engine)
        doctor = service.create(SYSTEM, "staff", {"name": "Dr Li"})["id"]
        patient = service.create(SYSTEM, "patient", {"name": "王芳", "phone": "13800138000", "consent_sms": True})["id"]
        first = dt.datetime.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=3)
        data = {"patient": patient, "doctor": doctor, "status": "confirmed"}
        started = time.perf_counter()
        made = [
            service.create(SYSTEM, "appointment", {**data, "starts_at": (first + dt.timedelta(hours=i)).isoformat()})
            for i in range(count)
        ]
        creates = count / (time.perf_counter() - started)
        started = time.perf_counter()
        for i, appt in enumerate(made):
            moved = first + dt.timedelta(days=400, hours=i)
            service.update(SYSTEM, "appointment", appt["id"], {"starts_at": moved.isoformat()}, appt["version"])
        updates = count / (time.perf_counter() - started)
        if with_workflows:
            from builder.system_tables import timers

            with engine.connect() as conn:
                planned = conn.execute(sa_count(timers)).scalar_one()
            assert planned == 2 * count, planned  # the timers were planned and moved, not skipped
        return creates, updates
    finally:
        engine.dispose()


def sa_count(table):
    import sqlalchemy as sa

    return sa.select(sa.func.count()).select_from(table).where(table.c.status == "planned")


def planning_overhead(count: int, postgres: str | None) -> None:
    """Print how much slower a create and an update are with workflows (timers planned) than without."""
    import psycopg

    targets = [("SQLite", None)] + ([("PostgreSQL", postgres)] if postgres else [])
    print(f"Planning timers: {count} confirmed appointments created then moved, in-process, with / without workflows")
    for name, server in targets:
        best: dict[bool, list[float]] = {}
        for _round in range(2):  # alternate, keep each variant's best: the machine is shared
            for with_workflows in (False, True):
                with tempfile.TemporaryDirectory() as tmp:
                    if server is None:
                        url = f"sqlite:///{tmp}/planning.db"
                    else:
                        with psycopg.connect(server, autocommit=True) as conn:
                            conn.execute("DROP DATABASE IF EXISTS bench_planning WITH (FORCE)")
                            conn.execute("CREATE DATABASE bench_planning")
                        url = server.rsplit("/", 1)[0] + "/bench_planning"
                    try:
                        rates = planning_rates(url, with_workflows, count)
                    finally:
                        if server is not None:
                            with psycopg.connect(server, autocommit=True) as conn:
                                conn.execute("DROP DATABASE IF EXISTS bench_planning WITH (FORCE)")
                    previous = best.get(with_workflows, [0.0, 0.0])
                    best[with_workflows] = [max(a, b) for a, b in zip(previous, rates)]
        (c0, u0), (c1, u1) = best[False], best[True]
        print(
            f"  {name:<11} create {c0:6.1f} -> {c1:6.1f} /s ({c0 / c1 - 1:+.0%} time), "
            f"update {u0:6.1f} -> {u1:6.1f} /s ({u0 / u1 - 1:+.0%} time)  (aim <= +20%)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small counts, for the test suite")
    parser.add_argument("--patients", type=int, default=None)
    parser.add_argument("--serve", choices=["generated", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--project", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--planning", action="store_true", help="only the planning overhead (SQLite, PostgreSQL)")
    parser.add_argument("--workspace", action="store_true", help="only the workspace pages at scale (PostgreSQL)")
    parser.add_argument("--appointments", type=int, default=None, help="with --workspace (default 1,000,000)")
    parser.add_argument(
        "--rounds", type=int, default=None, help="alternating rounds (default 2); with --workspace: requests per page"
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite", help="postgresql: BENCH_PG")
    args = parser.parse_args()
    postgres = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    if args.workspace:
        from workspace import run_workspace  # bench/workspace.py: this script's folder is on sys.path

        os.environ.setdefault("CRM_SECRET_KEY", SECRET)
        return run_workspace(
            postgres,
            args.patients or (1_000 if args.smoke else 100_000),
            args.appointments or (10_000 if args.smoke else 1_000_000),
            args.rounds or (3 if args.smoke else 30),
            start,
        )
    if args.planning:
        planning_overhead(100 if args.smoke else 300, postgres)
        return 0
    if args.serve:
        serve(args.serve, args.project, args.port)
        return 0
    os.environ.setdefault("CRM_SECRET_KEY", SECRET)
    patients = args.patients or (300 if args.smoke else 10_000)
    lists, creates = (40, 20) if args.smoke else (1000, 300)
    rounds = args.rounds or (1 if args.smoke else 2)
    results = run(patients, lists, creates, rounds, args.db)
    base, gen = results["baseline"], results["generated"]
    print(
        f"API benchmark ({args.db}): {patients} patients, {lists} list + {creates} create requests,"
        f" concurrency {CONCURRENCY} (creates: {WRITERS}), {rounds} alternating round(s), best kept"
    )
    print(f"{'':<12}{'list req/s':>20}{'create req/s':>20}{'RSS MB':>10}")
    for kind in ("baseline", "generated"):
        r = results[kind]
        each = [" / ".join(f"{v:.1f}" for v in r[what]) for what in ("list", "create")]
        print(f"{kind:<12}{each[0]:>20}{each[1]:>20}{r['rss']:>10.1f}")
    list_ratio = max(gen["list"]) / max(base["list"])
    create_ratio = max(gen["create"]) / max(base["create"])
    print(f"ratio generated/baseline: list {list_ratio:.2f}, create {create_ratio:.2f}  (aim >= 0.80)")
    for what in ("list", "create"):
        each = ", ".join(f"{g / b:.2f}" for g, b in zip(gen[what], base[what], strict=True))
        print(f"  {what} ratio in each round: {each}")
    print(f"generated server memory: {gen['rss']:.1f} MB  (aim < 150 MB)")
    if args.db != "sqlite":
        return 0
    planning_overhead(30 if args.smoke else 300, None if args.smoke else postgres)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
