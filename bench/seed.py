"""Seeding benchmark: `crm seed` one transaction per record, in batches, and a raw executemany.

On the clinic template, on SQLite (a temp file) and PostgreSQL (its own database,
dropped after), in the same run:

  (a) per record: the seeder with `batch_size=1` (one transaction per record, as
      `crm seed` did before batches), on a tenth of the patients;
  (b) batched: the seeder with `batch_size=500` (the default), on all of them;
  (c) raw: the rows (b) made, read back and inserted into a fresh database of the same
      schema with executemany, one transaction per table: no rules, no audit, no
      encryption work: the floor.

Prints records per second and the ratios batched/per record and raw/batched.

    python bench/seed.py                 # 2,000 patients (about 18,000 records)
    python bench/seed.py --patients 500  # smaller
    python bench/seed.py --quick         # 200 patients, SQLite and PostgreSQL
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SERVER = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A database of its own on the PostgreSQL server, dropped afterwards."""
    import psycopg

    name = f"crm_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


@contextlib.contextmanager
def databases(kind: str, tmp: Path, count: int) -> Iterator[list[str]]:
    """`count` fresh empty databases of `kind`."""
    if kind == "sqlite":
        yield [f"sqlite:///{tmp / f'seed{i}.sqlite3'}" for i in range(count)]
        return
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(postgres_database()) for _ in range(count)]


def project_on(directory: Path, url: str) -> Path:
    """A clinic project (`crm init`) on `url`, migrated."""
    from click.testing import CliRunner

    from builder.cli import main

    directory.mkdir(parents=True)
    runner = CliRunner()
    for args in (["init", str(directory / "p")], ["migrate", "-p", str(directory / "p"), "--yes"]):
        result = runner.invoke(main, args, env={"CRM_DATABASE_URL": url}, catch_exceptions=False)
        if result.exit_code != 0:
            raise SystemExit(result.output)
    return directory / "p"


def seeded(project: Path, url: str, patients: int, batch_size: int) -> tuple[int, float]:
    """Records made and seconds taken by the seeder (the blueprint's load not counted)."""
    from builder.runtime import open_runtime
    from builder.seeding import RowRequest, plan_rows, seed

    runtime = open_runtime(project, url)
    try:
        counts = plan_rows(runtime.blueprint.entities, RowRequest(main=patients))
        started = time.perf_counter()
        report = seed(runtime.records, runtime.blueprint.entities, counts, batch_size=batch_size)
        return report.total, time.perf_counter() - started
    finally:
        runtime.close()


def raw_copy(source: str, target: str, project: Path) -> tuple[int, float]:
    """The rows of every blueprint table in `source` inserted into `target` by executemany; rows and seconds."""
    from builder.runtime import open_runtime

    runtime = open_runtime(project, source)
    schema = runtime.records.schema
    tables = [t for t in schema.metadata.sorted_tables]
    with runtime.engine.connect() as conn:
        rows = {t.name: [dict(r._mapping) for r in conn.execute(t.select().order_by(t.c.id))] for t in tables}
    runtime.close()
    target_runtime = open_runtime(project, target)
    try:
        started = time.perf_counter()
        with target_runtime.engine.begin() as conn:
            for table in tables:
                if rows[table.name]:
                    conn.execute(table.insert(), rows[table.name])
        return sum(map(len, rows.values())), time.perf_counter() - started
    finally:
        target_runtime.close()


def bench(kind: str, patients: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, databases(kind, Path(tmp), 3) as (one, many, raw):
        root = Path(tmp)
        project = project_on(root / "a", one)
        project_on(root / "b", many)
        project_on(root / "c", raw)
        single_made, single_time = seeded(project, one, max(patients // 10, 10), 1)
        batch_made, batch_time = seeded(project, many, patients, 500)
        raw_rows, raw_time = raw_copy(many, raw, project)
    single, batched, floor = single_made / single_time, batch_made / batch_time, raw_rows / raw_time
    print(f"{kind}: {patients} patients")
    print(f"  per record (batch 1)   {single_made:>8} records  {single_time:7.2f} s  {single:8.0f} records/s")
    print(f"  batched (500)          {batch_made:>8} records  {batch_time:7.2f} s  {batched:8.0f} records/s")
    print(f"  raw executemany        {raw_rows:>8} rows     {raw_time:7.2f} s  {floor:8.0f} rows/s")
    print(f"  batched / per record   {batched / single:.1f}x;  raw / batched {floor / batched:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="200 patients")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    os.environ.pop("CRM_DATABASE_URL", None)
    with tempfile.TemporaryDirectory() as keys:
        os.environ["CRM_KEY_FILE"] = str(Path(keys) / "keys.json")
        for kind in args.databases.split(","):
            bench(kind.strip(), 200 if args.quick else args.patients)


if __name__ == "__main__":
    main()
