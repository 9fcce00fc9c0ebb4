"""A batched data rewrite watched and killed from outside: the tests of batched migrations share this."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from live_server import ClinicProject

from builder.storage.database import make_engine
from builder.storage.migrations.rewrites import PROGRESS_TABLE

ROOT = Path(__file__).resolve().parents[2]


def rewrite_progress(project: ClinicProject) -> tuple[int, bool] | None:
    """(rows done, finished) of the project's rewrite, or None before it started."""
    engine = make_engine(project.database_url)
    try:
        if PROGRESS_TABLE not in sa.inspect(engine).get_table_names():
            return None
        with engine.connect() as connection:
            row = connection.execute(sa.text(f"SELECT rows_done, done FROM {PROGRESS_TABLE}")).first()
            return (int(row[0]), bool(row[1])) if row else None
    finally:
        engine.dispose()


def kill_mid_rewrite(project: ClinicProject, flags: tuple[str, ...] = ()) -> tuple[int, bool] | None:
    """Run `crm migrate` (batches of 50) and kill -9 it once its first batch is committed; the progress then."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", "from builder.cli import main; main()"]
    migrating = subprocess.Popen(
        [*command, "migrate", "-p", str(project.root), "--yes", "--batch-size", "50", *flags],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and migrating.poll() is None:
            state = rewrite_progress(project)
            if state and state[0] > 0:
                break
            time.sleep(0.005)
        migrating.send_signal(signal.SIGKILL)
    finally:
        migrating.kill()
        migrating.wait(timeout=30)
    return rewrite_progress(project)
