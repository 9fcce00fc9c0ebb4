"""What several benchmarks share: a database of their own, a migrated clinic project for workers,
and timing worker processes until the work is done.

Benchmarks import it as a sibling module (`python bench/x.py` puts bench/ on the path).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVER = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def database_url(name: str) -> str:
    """The URL of database `name` on the benchmarks' server."""
    return SERVER.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def recreate_database(name: str) -> str:
    """An empty PostgreSQL database `name` (dropped first if a crashed run left it); its URL."""
    import psycopg

    drop_database(name)
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return database_url(name)


@contextlib.contextmanager
def own_database(kind: str, tmp: Path, filename: str) -> Iterator[str]:
    """A temp SQLite file (`filename` in `tmp`), or a PostgreSQL database of its own dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / filename}"
        return
    name = f"crm_bench_{uuid.uuid4().hex[:12]}"
    url = recreate_database(name)
    try:
        yield url
    finally:
        drop_database(name)


def worker_project(directory: Path, url: str, batch: int) -> None:
    """The clinic template on `url`, migrated, delivering SMS to a console channel writing to /dev/null."""
    from click.testing import CliRunner

    from builder.cli import main
    from builder.project import init_project
    from builder.storage.crypto import Keyring

    init_project(directory, "clinic")
    Keyring.generate(directory / "keys.json")
    (directory / "crm.toml").write_text(
        f'[project]\nblueprint = "blueprint"\n[database]\nurl = "{url}"\n[security]\nkey_file = "keys.json"\n'
        '[channels.sms]\ntype = "console"\nstream = "/dev/null"\nconsent = "consent_sms"\n'
        '[channels.inbox]\ntype = "inbox"\n'
        f'[delivery]\nquiet_hours = ""\ndaily_cap = 0\nbatch = {batch}\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["migrate", "-p", str(directory), "--yes"])
    assert result.exit_code == 0, result.output


def worker_command(directory: Path) -> list[str]:
    """`crm worker` for the project, polling every 50 ms when idle."""
    crm = [sys.executable, "-c", "from builder.cli import main; main()"]
    return [*crm, "worker", "-p", str(directory), "--poll", "0.05"]


def time_processes(
    commands: list[list[str]], progress: Callable[[], tuple[bool, bool]], *, gate: tuple[str, str] | None = None
) -> float:
    """Start `commands`; seconds from when `progress()` first says (started, _) until it says (_, done).

    `gate` = (database URL, table): the table is locked until every process waits on it, so all
    start working at the same moment. Without it a process that booted first would work alone
    for a while, and the workers, whose start-up (imports, blueprint) is longer than a bare
    loop's, would be timed partly on fewer processes. The processes get SIGTERM at the end.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("CRM_DATABASE_URL", None)
    with contextlib.ExitStack() as stack:
        if gate is not None:
            stack.enter_context(_locked_until_all_wait(gate[0], gate[1], len(commands)))
        processes = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL) for c in commands]
    started: float | None = None
    try:
        while True:
            begun, done = progress()
            if begun and started is None:
                started = time.perf_counter()
            if done:
                return time.perf_counter() - (started or time.perf_counter())
            if all(p.poll() is not None for p in processes):
                raise SystemExit("the processes ended before the work was done")
            time.sleep(0.02)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait()


@contextlib.contextmanager
def _locked_until_all_wait(url: str, table: str, count: int, timeout: float = 300) -> Iterator[None]:
    """Hold `table` locked while the block starts processes, then until `count` sessions wait for it."""
    import psycopg

    with psycopg.connect(url) as conn, psycopg.connect(url, autocommit=True) as watch:
        conn.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
        yield
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # pg_stat_activity: a fresh snapshot per statement outside a transaction
            waiting = watch.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if waiting is not None and waiting[0] >= count:
                break
            time.sleep(0.05)
        conn.commit()
