"""The worker loop: call each job with the time, sleep only when none had anything to do.

A job is any callable `job(now) -> int` returning how many items it handled (the
delivery job, the timer job). Jobs share nothing but the database, so any number of
workers on any number of machines may run the same jobs: they claim their rows with
`FOR UPDATE SKIP LOCKED` and never take the same one.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger("crm.worker")

Job = Callable[[dt.datetime], int]
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """Naive UTC, like every stored moment."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def run_once(jobs: Sequence[Job], clock: Clock = utc_now) -> int:
    """Run every job once; a job that fails is logged (its type only: no patient data) and skipped."""
    handled = 0
    for job in jobs:
        try:
            handled += job(clock())
        except Exception as exc:  # noqa: BLE001 - one failing job must not stop the worker
            log.error("job %s failed: %s", getattr(job, "__name__", job), type(exc).__name__)
    return handled


def run_worker(
    jobs: Sequence[Job], clock: Clock = utc_now, stop_event: threading.Event | None = None, poll_seconds: float = 1.0
) -> None:
    """Run the jobs until `stop_event` is set: again at once while there is work, else after `poll_seconds`."""
    stop = stop_event or threading.Event()
    while not stop.is_set():
        if run_once(jobs, clock) == 0:
            stop.wait(poll_seconds)


def start_worker_thread(
    jobs: Sequence[Job], clock: Clock = utc_now, poll_seconds: float = 1.0
) -> tuple[threading.Thread, threading.Event]:
    """The worker in a daemon thread (for `crm serve` on SQLite); set the event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(jobs, clock, stop, poll_seconds), name="crm-worker", daemon=True)
    thread.start()
    return thread, stop
