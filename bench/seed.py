"""Seeding benchmark: `crm seed` one transaction per record, in batches, and a raw executemany.

On the clinic template, on SQLite (a temp file) and PostgreSQL (its own database,
dropped after), in the same run:

  (a) per record: the seeder with `batch_size=1` (one transaction per record, as
      `crm seed` did before batches), on a tenth of the patients;
  (b) batched: the seeder with `batch_size=500` (the default), on all of them;
  (c) raw: the rows (b) made, read back and inserted into a fresh database of the same
      schema with executemany, one transaction per table: no rules, no audit, no
      encryption work: the floor.

Prints records per second, by the wall clock and by the process's own CPU time (on a
machine shared with other work the wall clock mostly counts waiting for a core; an idle
machine's wall clock approaches the CPU time on SQLite), and the ratios batched/per record
and raw/batched. `--patients-only` skips (a) and (c): the batched run alone, for big runs;
with `--jobs 1,2` once per number of seeding processes (`crm seed --jobs`, PostgreSQL), each
on a fresh database, the CPU time then counting the worker processes' too.

    python bench/seed.py                 # 2,000 patients (about 18,000 records)
    python bench/seed.py --patients 500  # smaller
    python bench/seed.py --quick         # 200 patients, SQLite and PostgreSQL
    python bench/seed.py --patients 5000 --databases postgresql --patients-only --jobs 1,2
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
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


def children_cpu() -> float:
    """CPU seconds of this process's ended (and waited for) children: the seeding workers."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def seeded(project: Path, url: str, patients: int, batch_size: int, jobs: int = 1) -> tuple[int, float, float]:
    """Records made, seconds and CPU seconds (workers' included) taken by the seeder (blueprint load not counted)."""
    from builder.runtime import open_runtime
    from builder.seeding import RowRequest, plan_rows, seed

    runtime = open_runtime(project, url)
    try:
        counts = plan_rows(runtime.blueprint.entities, RowRequest(main=patients))
        started, cpu, workers = time.perf_counter(), time.process_time(), children_cpu()
        report = seed(
            runtime.records,
            runtime.blueprint.entities,
            counts,
            batch_size=batch_size,
            jobs=jobs,
            project=runtime.project,
        )
        cpu_used = time.process_time() - cpu + children_cpu() - workers
        return report.total, time.perf_counter() - started, cpu_used
    finally:
        runtime.close()


def raw_copy(source: str, target: str, project: Path) -> tuple[int, float, float]:
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
        started, cpu = time.perf_counter(), time.process_time()
        with target_runtime.engine.begin() as conn:
            for table in tables:
                if rows[table.name]:
                    conn.execute(table.insert(), rows[table.name])
        return sum(map(len, rows.values())), time.perf_counter() - started, time.process_time() - cpu
    finally:
        target_runtime.close()


def line(label: str, made: int, wall: float, cpu: float, unit: str = "records") -> str:
    return (
        f"  {label:<22} {made:>8} {unit:<7}  {wall:7.1f} s {made / wall:7.0f}/s   cpu {cpu:7.1f} s {made / cpu:7.0f}/s"
    )


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def batched_alone(kind: str, patients: int, jobs: list[int]) -> None:
    """The batched run alone, once per number of jobs, each on a fresh database; ratios against the first."""
    from builder.seeding.sharding import default_jobs

    with tempfile.TemporaryDirectory() as tmp, databases(kind, Path(tmp), len(jobs)) as urls:
        projects = [project_on(Path(tmp) / f"p{i}", url) for i, url in enumerate(urls)]
        print(f"{kind}: {patients} patients")
        runs = []
        for project, url, asked in zip(projects, urls, jobs):
            used = default_jobs(kind, asked)
            runs.append(seeded(project, url, patients, 500, used))
            print(line(f"batched (500), {used} job{'s' if used > 1 else ''}", *runs[-1]), f"  load {load()}")
    for asked, (made, wall, cpu) in list(zip(jobs, runs))[1:]:
        base_made, base_wall, base_cpu = runs[0]
        print(
            f"  {asked} jobs / {jobs[0]}           {made / wall / (base_made / base_wall):.2f}x wall rate, "
            f"{made / cpu / (base_made / base_cpu):.2f}x cpu rate (workers' CPU counted)"
        )


def bench(kind: str, patients: int, alone: bool, jobs: list[int]) -> None:
    if alone:
        batched_alone(kind, patients, jobs)
        return
    with tempfile.TemporaryDirectory() as tmp, databases(kind, Path(tmp), 3) as urls:
        root = Path(tmp)
        projects = [project_on(root / f"p{i}", url) for i, url in enumerate(urls)]
        print(f"{kind}: {patients} patients")
        one, many, raw = urls
        single = seeded(projects[0], one, max(patients // 10, 10), 1)
        batched = seeded(projects[0], many, patients, 500)
        floor = raw_copy(many, raw, projects[0])
    print(line("per record (batch 1)", *single))
    print(line("batched (500)", *batched))
    print(line("raw executemany", *floor, unit="rows"))
    rate = [made / wall for made, wall, _cpu in (single, batched, floor)]
    cpu_rate = [made / cpu for made, _wall, cpu in (single, batched, floor)]
    print(f"  batched / per record   {rate[1] / rate[0]:.1f}x wall, {cpu_rate[1] / cpu_rate[0]:.1f}x cpu")
    print(f"  raw / batched          {rate[2] / rate[1]:.1f}x wall, {cpu_rate[2] / cpu_rate[1]:.1f}x cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="200 patients")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--patients-only", action="store_true", help="the batched run alone")
    parser.add_argument(
        "--jobs",
        default="1",
        help="with --patients-only: seeding processes, or a list (1,2) run one after the other (PostgreSQL only)",
    )
    args = parser.parse_args()
    os.environ.pop("CRM_DATABASE_URL", None)
    with tempfile.TemporaryDirectory() as keys:
        os.environ["CRM_KEY_FILE"] = str(Path(keys) / "keys.json")
        for kind in args.databases.split(","):
            jobs = [int(n) for n in args.jobs.split(",")]
            bench(kind.strip(), 200 if args.quick else args.patients, args.patients_only, jobs)


if __name__ == "__main__":
    main()
