"""`crm worker`: deliver the outbox (and run every other background job) until stopped.

Run as many as you like, on as many machines as share the database: each claims its
rows with `FOR UPDATE SKIP LOCKED` (see docs/workflows.md, "Running workers").
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click
from rich.markup import escape

from .base import main, out, project_option


def in_process_worker(runtime, follower=None) -> tuple[threading.Thread, threading.Event] | None:
    """The worker thread `crm serve` starts: always on SQLite, on PostgreSQL when `[worker] in_process = true`.

    A channel problem does not stop the web app: it is printed and the thread is not started.
    With a `follower` (builder/following.py) the jobs follow migrations, as the web app does.
    """
    from ..errors import ProjectError
    from ..storage.database import is_sqlite
    from ..worker import project_jobs, start_worker_thread
    from ..worker.following import following_jobs

    wanted = runtime.project.setting("worker", "in_process", None)
    if wanted is False or (wanted is None and not is_sqlite(runtime.engine)):
        return None
    try:
        jobs = project_jobs(runtime)
    except ProjectError as exc:
        out.print(f"[yellow]The outbox worker is not started:[/yellow] {escape(str(exc))}")
        return None
    if follower is not None:
        jobs = following_jobs(follower, project_jobs)
    poll = float(runtime.project.setting("worker", "poll_seconds", 2))
    out.print("Outbox worker running in this process.")
    return start_worker_thread(jobs, poll_seconds=poll)


@main.command()
@project_option
@click.option(
    "--poll",
    "poll_seconds",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0.05, 3600),
    help="Seconds to wait when there is no work.",
)
@click.option("--once", is_flag=True, help="Run every job once and exit (for cron or a test).")
def worker(project_dir: Path, poll_seconds: float, once: bool) -> None:
    """Deliver due outbox messages until SIGTERM or Ctrl+C."""
    from ..following import BlueprintFollower
    from ..runtime import open_runtime
    from ..worker import project_jobs, run_once, run_worker
    from ..worker.following import following_jobs

    runtime = open_runtime(project_dir)
    follower = BlueprintFollower(runtime, lambda: open_runtime(project_dir))
    try:
        runtime.keep_keys_in_step()
        project_jobs(runtime)  # channel settings are checked before the first round
        jobs = following_jobs(follower, project_jobs)
        if once:
            out.print(f"Handled {run_once(jobs)} item(s).")
            return
        stop = threading.Event()

        def _stop(signum: int, _frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        out.print(f"Worker for {project_dir.resolve()} running (SIGTERM or Ctrl+C stops it after the current batch).")
        run_worker(jobs, stop_event=stop, poll_seconds=poll_seconds)
        out.print("Worker stopped.")
    finally:
        follower.runtime.close()
