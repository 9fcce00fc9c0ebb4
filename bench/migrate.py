"""Migration benchmark: a `crm migrate` data rewrite of `patient.email` over N rows while the API is in use.

A clinic project gets N patients with plain e-mails (inserted in bulk). Then, in one run:

  (a) baseline: a raw batched UPDATE of the same rows (1,000 by id, one commit each,
      `SET email = email || ''`): the least any rewrite of those rows costs;
  (b) the migration: `apply_migration` encrypting `email` (schema change, then committed
      batches of 1,000 with their done markers, then VACUUM ANALYZE on PostgreSQL),
      while two threads act as servers following the migration (builder/following.py):
      one reads random patients through the record service, one edits their names.

Prints the migration's time, the ratio to (a), and the longest time any concurrent
request waited (aim: under 1 s; a 503 "updating" while the server reloads counts as a
request that was answered).

`--rewrite` picks the rewrite (the same batched machinery, rewrite_kinds.py): `encrypt`
(above), `fill` (a new required field `referral` with a default: every row filled),
`cut` (`email` gets `max_length: 10`, with data loss allowed: every value cut; on
PostgreSQL a length check after the last batch, no type change), or `drop` (`email`
removed, with data loss allowed: no batches, only the backup of `patient` and the
schema change).

    python bench/migrate.py                     # SQLite, 100,000 rows
    python bench/migrate.py --db postgresql     # BENCH_PG (default postgresql://postgres@127.0.0.1:5432/postgres)
    python bench/migrate.py --rows 10000
    python bench/migrate.py --db postgresql --rewrite cut
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402
from bench_support import own_database  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from builder.cli import main  # noqa: E402
from builder.following import BlueprintFollower  # noqa: E402
from builder.project import init_project  # noqa: E402
from builder.records import SYSTEM  # noqa: E402
from builder.runtime import open_runtime  # noqa: E402
from builder.storage.database import make_engine  # noqa: E402
from builder.storage.locks import MIGRATION_LOCK  # noqa: E402

BATCH = 1000
MIGRATE = f"""
import sys, time
from builder.runtime import load_checked
from builder.storage.crypto import Keyring
from builder.storage.database import make_engine
from builder.storage.migrations import apply_migration, plan_migration
root, url, keys, allow = sys.argv[1:]
loaded = load_checked(root + "/blueprint")
engine = make_engine(url)
started, wall = time.perf_counter(), time.time()
marks = []
def progress(description, done, total):
    marks.append(time.perf_counter() - started)
plan = plan_migration(engine, loaded.blueprint.entities, loaded.blueprint.app.timezone)
apply_migration(
    engine, plan, keyring=Keyring.load(keys), batch_size={BATCH}, allow_data_loss=allow == "yes",
    backup_dir=root + "/../backups", on_progress=progress,
)
took = time.perf_counter() - started
print(wall, marks[0] if marks else took, marks[-1] if marks else took)
print(took)
"""


def cli(*args: str) -> None:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output


def make_project(tmp: Path, url: str, rows: int) -> Path:
    root = init_project(tmp / "clinic", "clinic")
    (root / "crm.toml").write_text(
        f'[project]\nblueprint = "blueprint"\n\n[database]\nurl = "{url}"\n\n'
        f'[security]\nkey_file = "{tmp / "keys.json"}"\n',
        encoding="utf-8",
    )
    cli("migrate", "-p", str(root), "--yes")
    runtime = open_runtime(root)
    try:
        runtime.records.create(SYSTEM, "patient", {"name": "Template", "phone": "13900000000"})
    finally:
        runtime.close()
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            table = sa.Table("patient", sa.MetaData(), autoload_with=connection)
            template = dict(connection.execute(sa.select(table).limit(1)).one()._mapping)
            template.pop("id")
            for start in range(0, rows, 10_000):
                connection.execute(
                    table.insert(),
                    [
                        {**template, "name": f"P {n}", "phone": f"137{n:08d}", "email": f"p{n}@clinic.cn"}
                        for n in range(start, min(rows, start + 10_000))
                    ],
                )
    finally:
        engine.dispose()
    return root


def raw_batched_update(url: str) -> float:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            top = connection.execute(sa.text("SELECT max(id) FROM patient")).scalar_one()
        started = time.perf_counter()
        for low in range(0, top + 1, BATCH):
            with engine.begin() as connection:
                connection.execute(
                    sa.text("UPDATE patient SET email = email || '' WHERE id > :low AND id <= :high"),
                    {"low": low, "high": low + BATCH},
                )
        return time.perf_counter() - started
    finally:
        engine.dispose()


EMAIL = "email:       {type: email, label:"
REWRITES = {  # the blueprint edit behind each kind of rewrite
    "encrypt": "email:       {type: email, encrypted: true, label:",
    "fill": "referral: {type: text, required: true, default: none, label: {en: Referral, zh-CN: 推荐}}\n    " + EMAIL,
    "cut": "email:       {type: email, max_length: 10, label:",
    "drop": EMAIL,  # the line is removed (change_blueprint)
}


def change_blueprint(root: Path, rewrite: str) -> None:
    path = root / "blueprint/entities/patient.yaml"
    text = path.read_text(encoding="utf-8")
    if rewrite == "drop":  # the whole field goes, and the intake form's use of it
        text = "".join(line for line in text.splitlines(keepends=True) if EMAIL not in line)
        form = root / "blueprint/forms/patient_intake.yaml"
        form.write_text(form.read_text(encoding="utf-8").replace(", email]", "]"), encoding="utf-8")
    path.write_text(text.replace(EMAIL, REWRITES[rewrite]), encoding="utf-8")


LOCKS = sa.text(
    """SELECT l.mode FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation
    WHERE l.granted AND l.pid <> pg_backend_pid() AND (
      (l.locktype = 'relation' AND c.relname = 'patient' AND l.mode = 'AccessExclusiveLock')
      OR (l.locktype = 'advisory' AND l.mode = 'ExclusiveLock' AND l.objsubid = 1
          AND l.classid::bigint = :high AND l.objid::bigint = :low))"""
).bindparams(high=(MIGRATION_LOCK >> 32) & 0xFFFFFFFF, low=MIGRATION_LOCK & 0xFFFFFFFF)


def watch_locks(url: str, stop: threading.Event, longest: dict[str, float]) -> None:
    """PostgreSQL: the longest time the table was locked against reads (ACCESS EXCLUSIVE) and writers were held off
    (the migration's advisory lock, taken exclusively), polled every 5 ms."""
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            since: dict[str, float] = {}
            while not stop.is_set():
                now = time.perf_counter()
                held = {mode for (mode,) in connection.execute(LOCKS)}
                for mode in held:
                    since.setdefault(mode, now)
                for mode in [m for m in since if m not in held]:
                    longest[mode] = max(longest.get(mode, 0.0), now - since.pop(mode))
                time.sleep(0.005)
    finally:
        engine.dispose()


def migrate_under_load(
    root: Path, url: str, rows: int, rewrite: str
) -> tuple[float, float, float, float, int, int, list[str]]:
    """(migration s, longest read wait, longest write wait, blueprint reload, requests answered, ciphertexts seen,
    requests that failed: what a server would answer with a 500)."""
    follower = BlueprintFollower(open_runtime(root), lambda: open_runtime(root))
    change_blueprint(root, rewrite)  # on disk; the servers keep the old blueprint until the migration lands
    stop = threading.Event()
    waits = {"read": 0.0, "write": 0.0}
    slowest = {"read": 0.0, "write": 0.0}  # when the longest wait began (wall clock, as the migration's process)
    outcome = {"read": "", "write": ""}  # and how it ended
    reloads = {"read": 0.0, "write": 0.0}
    answered = [0]
    ciphertexts = [0]
    failed: list[str] = []

    def serve(kind: str) -> None:
        rng = random.Random(kind)
        before = follower.runtime
        while not stop.is_set():
            started = time.perf_counter()
            runtime = follower.current()
            if runtime is not None and runtime is not before:  # this request waited for the blueprint reload
                before = runtime
                reloads[kind] = max(reloads[kind], time.perf_counter() - started)
                continue
            ended = "no runtime (503)"
            if runtime is not None:
                row_id = rng.randint(2, rows)
                ended = "answered"
                try:
                    if kind == "read":
                        email = runtime.records.get(SYSTEM, "patient", row_id).get("email")
                        ciphertexts[0] += bool(email and str(email).startswith("v1:"))
                    else:
                        current = runtime.records.get(SYSTEM, "patient", row_id)
                        runtime.records.update(
                            SYSTEM, "patient", row_id, {"name": f"Edited {row_id}"}, current["version"]
                        )
                except Exception as exc:  # refused as stale (503), a conflict (409), invalid (422): answers too
                    ended = type(exc).__name__
                    if type(exc).__name__ not in ("StaleBlueprint", "Conflict", "ValidationFailed"):
                        failed.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")  # a 500
                        time.sleep(0.005)
                        continue
            took = time.perf_counter() - started
            if took > waits[kind]:
                waits[kind], slowest[kind] = took, time.time() - took
                outcome[kind] = ended
            answered[0] += 1
            time.sleep(0.005)

    threads = [threading.Thread(target=serve, args=(kind,), daemon=True) for kind in ("read", "write")]
    locks: dict[str, float] = {}
    if url.startswith("postgresql"):
        threads.append(threading.Thread(target=watch_locks, args=(url, stop, locks), daemon=True))
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    try:
        # In a process of its own, like `crm migrate` (in this one it would compete for the GIL).
        finished = subprocess.run(
            [
                sys.executable,
                "-c",
                MIGRATE,
                str(root),
                url,
                str(root.parent / "keys.json"),
                "yes" if rewrite in ("cut", "drop") else "no",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        if finished.returncode:
            raise SystemExit(f"the migration failed:\n{finished.stderr}")
        *_, phases, total = finished.stdout.strip().splitlines()
        took = float(total)
        wall, committed, batched = (float(t) for t in phases.split())
    finally:
        time.sleep(0.3)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        follower.runtime.close()
    print(
        f"  (schema committed {committed:.2f} s, batches done {batched:.2f} s after the migration began "
        "(its process started, imports done); "
        f"longest read began at {slowest['read'] - wall:.2f} s ({outcome['read']}), "
        f"longest write at {slowest['write'] - wall:.2f} s ({outcome['write']}))"
    )
    if locks or url.startswith("postgresql"):
        print(
            f"  (longest ACCESS EXCLUSIVE lock on patient: {locks.get('AccessExclusiveLock', 0) * 1000:.0f} ms; "
            f"writers held off by the migration's transaction: {locks.get('ExclusiveLock', 0) * 1000:.0f} ms)"
        )
    return took, waits["read"], waits["write"], max(reloads.values()), answered[0], ciphertexts[0], failed


def run(kind: str, rows: int, rewrite: str = "encrypt") -> None:
    with tempfile.TemporaryDirectory() as tmp_name, own_database(kind, Path(tmp_name), "migrate.sqlite3") as url:
        tmp = Path(tmp_name)
        root = make_project(tmp, url, rows)
        baseline = raw_batched_update(url)
        took, read_wait, write_wait, reload, answered, ciphertexts, failed = migrate_under_load(
            root, url, rows, rewrite
        )
        print(f"{kind}, {rows:,} patients, batches of {BATCH:,}")
        print(f"  raw batched UPDATE:            {baseline:8.2f} s")
        print(f"  {'crm migrate (' + rewrite + '):':31}{took:8.2f} s   ratio {took / baseline:5.2f}x (aim < 3x)")
        print(f"  longest concurrent read wait:  {read_wait * 1000:8.0f} ms")
        print(f"  longest concurrent write wait: {write_wait * 1000:8.0f} ms   (aim < 1 s)")
        print(f"  one-off blueprint reload:      {reload * 1000:8.0f} ms   (each server, once, when the schema lands)")
        print(f"  requests answered meanwhile:   {answered:8d}   ciphertexts returned: {ciphertexts}")
        print(f"  requests failed (a 500):       {len(failed):8d}   {failed[0] if failed else ''}")


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rewrite", choices=sorted(REWRITES), default="encrypt")
    arguments = parser.parse_args()
    run(arguments.db, arguments.rows, arguments.rewrite)


if __name__ == "__main__":
    main_()
