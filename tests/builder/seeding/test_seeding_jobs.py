"""`crm seed --jobs N` (issue 12): several processes seed PostgreSQL, with the rules of one.

Same totals per entity as planned (within refusals), links to records made before the
record's moment, an audit entry per record, unique values unique, and a failing shard
reported with what was kept, as is a worker process killed mid-run; on SQLite one job
whatever is asked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from builder.loading import load_blueprint
from builder.records import SYSTEM
from builder.runtime import open_runtime
from builder.seeding import RowRequest, plan_rows, seeding_order
from builder.seeding.rows import moment_field
from builder.seeding.sharding import default_jobs, read_entities, reads_rows, split, waves
from engines.forms import EntitySpec

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "verticals"))
physio_project = importlib.import_module("physio")
ENTITIES, crm, init_physio_project = physio_project.ENTITIES, physio_project.crm, physio_project.init_physio_project


def ok(*args):
    result = crm(*args)
    assert result.exit_code == 0, result.output
    return result.output


def made_and_skipped(output: str, entity: str) -> tuple[int, int]:
    found = re.search(rf"^\s*{entity}\s+(\d+)\s+(\d+)\s*$", output, re.MULTILINE)
    assert found, output
    return int(found[1]), int(found[2])


def clinic_on(tmp_path: Path, url: str) -> Path:
    ok("init", tmp_path / "clinic")
    toml = tmp_path / "clinic" / "crm.toml"
    toml.write_text(re.sub(r'url = ".*"', f'url = "{url}"', toml.read_text(encoding="utf-8")), encoding="utf-8")
    ok("migrate", "-p", tmp_path / "clinic", "--yes")
    return tmp_path / "clinic"


def as_moment(value: dt.date | dt.datetime) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time(9))


def late_links(runtime) -> list[tuple[str, int, str]]:
    """Links (entity, id, field) to a record made after the linking record's moment (else its making).

    When no record of the target was made by then, the seeder links to the first one made
    (rows.py, `LinkPool.pick`): that one is not late.
    """
    entities, schema = runtime.blueprint.entities, runtime.records.schema
    with runtime.engine.connect() as conn:
        made = {
            name: dict(conn.execute(sa.select(schema.table(name).c.id, schema.table(name).c.created_at)).all())
            for name in entities
        }
        first = {name: min(times.values(), default=None) for name, times in made.items()}
        late = []
        for name, entity in entities.items():
            table, when = schema.table(name), moment_field(entity.fields)
            links = [f for f, s in entity.fields.items() if s.type == "link" and s.to and s.to != name]
            for row in conn.execute(sa.select(table)).mappings():
                by = as_moment(row[when]) if when and row[when] else row["created_at"]
                for field in links:
                    target = entity.fields[field].to or ""
                    at = made[target][row[field]] if row[field] is not None else None
                    if at is not None and at > by and at != first[target]:
                        late.append((name, row["id"], field))
    return late


@pytest.mark.postgres
def test_clinic_seeded_by_two_jobs_keeps_every_rule(tmp_path, postgres_url):
    project = clinic_on(tmp_path, postgres_url)
    output = ok("seed", "-p", project, "--patients", "60", "--jobs", "2", "--batch", "20")
    runtime = open_runtime(project)
    try:
        planned = plan_rows(runtime.blueprint.entities, RowRequest(main=60))
        schema = runtime.records.schema
        with runtime.engine.connect() as conn:
            for name, count in planned.items():
                made, skipped = made_and_skipped(output, name)
                assert made + skipped == count and skipped <= count // 10, (name, made, skipped)
                assert conn.execute(sa.select(sa.func.count()).select_from(schema.table(name))).scalar() == made
                audited = conn.execute(
                    sa.text("SELECT count(DISTINCT record_id) FROM crm_audit WHERE entity = :e AND action = 'create'"),
                    {"e": name},
                ).scalar()
                assert audited == made, name
        assert late_links(runtime) == []
        people = runtime.records.list(SYSTEM, "patient", limit=500).items
        for field in ("phone", "id_number"):
            values = [p[field] for p in people if p[field]]
            assert len(values) == len(set(values)), field
    finally:
        runtime.close()


@pytest.mark.postgres
def test_two_jobs_make_other_records_than_one(tmp_path, postgres_url, sqlite_url):
    """One job is the seeding as it always was (repeatable); two draw from each shard's own random source."""
    names = []
    for run, (url, jobs) in enumerate([(sqlite_url, "1"), (postgres_url, "2")]):
        project = clinic_on(tmp_path / f"run{run}", url)
        ok("seed", "-p", project, "--rows", "8", "--rows", "staff=2", "--jobs", jobs)
        runtime = open_runtime(project)
        try:
            assert late_links(runtime) == []
            names.append(sorted(p["name"] for p in runtime.records.list(SYSTEM, "patient", limit=500).items))
        finally:
            runtime.close()
    assert len(names[0]) == len(names[1]) == 8 and names[0] != names[1]


@pytest.mark.postgres
def test_physio_vertical_seeds_with_jobs(tmp_path, postgres_url):
    project = init_physio_project(tmp_path / "physio", postgres_url)
    ok("migrate", "-p", project, "--yes")
    output = ok("seed", "-p", project, "--rows", "24", "--rows", "therapist=3", "--jobs", "2", "--batch", "5")
    assert "Traceback" not in output
    runtime = open_runtime(project)
    try:
        assert late_links(runtime) == []
        with runtime.engine.connect() as conn:
            for name in ENTITIES:
                made, skipped = made_and_skipped(output, name)
                assert made > 0 and made + skipped == (3 if name == "therapist" else 24), name
                assert conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar() == made
        sessions = [s for s in runtime.records.list(SYSTEM, "session", limit=500).items if s["status"] != "cancelled"]
        for one in sessions:  # the overlaps rule held: sessions are made by one job (their rule locks a scope)
            for other in sessions:
                if one["id"] < other["id"] and one["therapist"] == other["therapist"]:
                    first, second = sorted((one, other), key=lambda s: s["starts_at"])
                    assert first["starts_at"] + dt.timedelta(minutes=first["minutes"]) <= second["starts_at"]
        assert reads_rows(runtime.blueprint.entities["session"]) and not reads_rows(
            runtime.blueprint.entities["client"]
        )
    finally:
        runtime.close()


@pytest.mark.postgres
def test_a_failing_shard_keeps_what_was_committed_and_says_so(tmp_path, postgres_url):
    # The database fails the audit entries of any batch that would bring the rooms to 7 or more.
    project = tmp_path / "small"
    project.mkdir()
    (project / "blueprint.yaml").write_text(
        "app: {name: rooms}\nentities:\n  room:\n    fields:\n      code: {type: text, required: true}\n",
        encoding="utf-8",
    )
    (project / "crm.toml").write_text(f'[database]\nurl = "{postgres_url}"\n', encoding="utf-8")
    ok("migrate", "-p", project, "--yes")
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF (SELECT count(*) FROM room) >= 7 THEN RAISE EXCEPTION 'the disk is full'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        conn.execute(
            sa.text("CREATE TRIGGER seventh BEFORE INSERT ON crm_audit FOR EACH ROW EXECUTE FUNCTION disk_full()")
        )
    try:
        result = crm("seed", "-p", project, "--rows", "12", "--batch", "3", "--jobs", "2")
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "rolled back" in result.output and "the disk is full" in result.output
        kept = re.search(r"(\d+) records seeded are kept", result.output)
        assert kept, result.output
        with engine.connect() as conn:
            rooms = conn.execute(sa.text("SELECT count(*) FROM room")).scalar()
            audited = conn.execute(sa.text("SELECT count(*) FROM crm_audit WHERE entity = 'room'")).scalar()
        assert 3 <= rooms < 12 and rooms == audited == int(kept[1])
    finally:
        engine.dispose()


def test_sqlite_seeds_with_one_job_whatever_is_asked(tmp_path):
    ok("init", tmp_path / "clinic")
    ok("migrate", "-p", tmp_path / "clinic", "--yes")
    output = ok("seed", "-p", tmp_path / "clinic", "--rows", "3", "--jobs", "2")
    assert "one writer at a time: seeding with one job" in output and "Seeded" in output
    assert default_jobs("sqlite", 4) == 1 and default_jobs("postgresql", 3) == 3
    assert default_jobs("postgresql", None) == 1  # a small run stays repeatable
    assert 1 <= default_jobs("postgresql", None, 20_000) <= 4 and default_jobs("postgresql", None, 19_999) == 1


def test_rows_split_into_nearly_equal_shards():
    assert split(10, 3) == [range(0, 4), range(4, 7), range(7, 10)]
    assert split(2, 4) == [range(0, 1), range(1, 2)] and split(0, 2) == [] and split(5, 1) == [range(0, 5)]


def test_entities_that_need_no_other_of_their_wave_are_seeded_at_once():
    clinic = load_blueprint(ROOT / "blueprints" / "clinic").blueprint.entities
    assert waves(clinic, seeding_order(clinic)) == [
        ["staff"],
        ["patient"],
        ["appointment", "follow_up", "visit", "vital_reading"],  # each links to patients and staff only
        ["satisfaction"],  # links to visits
    ]
    assert read_entities(clinic["appointment"]) == {"appointment"}  # its overlaps rule: made by one job
    counted = EntitySpec(
        fields={"n": {"type": "integer"}},
        validations=[{"rule": "count('note') < 5", "message": "too many"}],
    )
    note = EntitySpec(fields={"text": {"type": "text"}})
    assert read_entities(counted) == {"note"}
    assert waves({"note": note, "counted": counted}, ["note", "counted"]) == [["note"], ["counted"]]
    assert waves({"counted": counted, "note": note}, ["counted", "note"]) == [["counted"], ["note"]]


def running_in_group(group: int) -> list[int]:
    """Processes of process group `group` still running (not zombies), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def gone_within(seconds: float, group: int) -> list[int]:
    """The processes of `group` still running after up to `seconds`: multiprocessing's resource tracker ends
    once it sees its parent gone, a moment after it (longer on a busy machine)."""
    deadline = time.monotonic() + seconds
    while (left := running_in_group(group)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@contextlib.contextmanager
def seeding_in_visits(tmp_path: Path, postgres_url: str) -> Iterator[tuple[subprocess.Popen, sa.Engine, int]]:
    """`crm seed` of 2000 patients by two jobs, in its own process group (as a terminal's Ctrl-C reaches it), once
    it is in the visits' wave (its longest); with an engine on its database and the visits committed by then."""
    project = clinic_on(tmp_path, postgres_url)
    env = {k: v for k, v in os.environ.items() if k != "CRM_DATABASE_URL"}
    run = subprocess.Popen(
        [sys.executable, "-c", "from builder.cli import main; main()", "seed", "-p", str(project)]
        + ["--patients", "2000", "--jobs", "2", "--batch", "20"],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            while not (visits := conn.execute(sa.text("SELECT count(*) FROM visit")).scalar()) and run.poll() is None:
                conn.rollback()
                time.sleep(0.5)
        assert run.poll() is None, run.stdout.read() if run.stdout else ""  # still seeding
        yield run, engine, visits or 0
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        engine.dispose()


def assert_committed_with_audit(engine: sa.Engine) -> None:
    """Each committed record has its audit entry, and the surveys (the last wave) never started."""
    with engine.connect() as conn:
        for name in ("patient", "appointment", "visit", "satisfaction"):
            made = conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar()
            audited = conn.execute(
                sa.text("SELECT count(*) FROM crm_audit WHERE entity = :e AND action = 'create'"), {"e": name}
            ).scalar()
            assert made == audited, (name, made, audited)
        assert conn.execute(sa.text("SELECT count(*) FROM satisfaction")).scalar() == 0


@pytest.mark.postgres
def test_ctrl_c_stops_the_workers_and_keeps_the_committed_batches(tmp_path, postgres_url):
    with seeding_in_visits(tmp_path, postgres_url) as (run, engine, _):
        os.killpg(run.pid, signal.SIGINT)
        output, _ = run.communicate(timeout=120)
        assert run.returncode == 1 and "Aborted" in output and "Traceback" not in output, output
        assert gone_within(10.0, run.pid) == []  # no worker left behind (the helpers end as the parent is gone)
        assert_committed_with_audit(engine)


def seeding_workers(parent: int) -> list[int]:
    """The worker processes of the seeding process `parent` (its spawned children, not the resource tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"--multiprocessing-fork" in command:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.postgres
def test_a_killed_worker_stops_the_run_and_keeps_the_committed_batches(tmp_path, postgres_url):
    """A worker killed (the OOM killer, SIGKILL) ends the run with what was lost, not a run waiting for ever;
    the records said kept are those in the database, the stopped shards' committed batches counted too."""
    with seeding_in_visits(tmp_path, postgres_url) as (run, engine, visits):
        workers = seeding_workers(run.pid)
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)
        output, _ = run.communicate(timeout=60)  # a multiprocessing.Pool waited for ever
        assert run.returncode == 1 and "Traceback" not in output, output
        assert "a seeding worker process died (killed, perhaps out of memory)" in output, output
        assert re.search(
            r"seeding \w+ rows \d+-\d+(, \w+ rows \d+-\d+)* stopped, their open batches rolled back", output
        ), output
        kept = re.search(r"(\d+) records seeded are kept", output)
        assert kept and int(kept[1]) > 0, output
        assert gone_within(10.0, run.pid) == []  # the other worker ended too
        assert_committed_with_audit(engine)
        entities = load_blueprint(ROOT / "blueprints" / "clinic").blueprint.entities
        with engine.connect() as conn:
            stored = {name: conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar() for name in entities}
        assert stored["visit"] >= visits > 0  # the visits' wave had committed batches when it stopped
        assert stored["patient"] == 2000  # the waves before
        assert int(kept[1]) == sum(stored.values()), (output, stored)


@pytest.mark.postgres
def test_a_failed_runs_count_waits_for_writers_only_so_long(tmp_path, postgres_url, monkeypatch):
    """The count after a failure waits for the tables' writers to end, but a writer that stays does not hang it."""
    from builder.seeding import sharding

    project = clinic_on(tmp_path, postgres_url)
    ok("seed", "-p", project, "--rows", "5", "--rows", "staff=2")
    monkeypatch.setattr(sharding, "SETTLE_SECONDS", 1)
    runtime = open_runtime(project)
    try:
        before = sharding._rows(runtime.records, ["patient"])
        with runtime.engine.connect() as holder:
            holder.execute(sa.text("UPDATE patient SET name = name WHERE id = (SELECT min(id) FROM patient)"))
            release = threading.Timer(8, holder.rollback)  # so a count that waits for ever ends the test anyway
            release.start()
            started = time.monotonic()
            try:
                assert sharding._rows(runtime.records, ["patient"], settled=True) == before
            finally:
                waited = time.monotonic() - started
                release.cancel()
            holder.rollback()
        assert 0.9 <= waited < 5  # it waited for the lock (about SETTLE_SECONDS), then counted
    finally:
        runtime.close()
