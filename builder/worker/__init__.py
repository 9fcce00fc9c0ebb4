"""The background worker: a loop over job callables (`job(now) -> int`), see loop.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .loop import Clock, Job, run_once, run_worker, start_worker_thread, utc_now

if TYPE_CHECKING:
    from ..runtime import Runtime


def project_jobs(runtime: Runtime, environ: Mapping[str, str] | None = None) -> list[Job]:
    """The jobs a worker of this project runs. Register new job kinds here (timers, schedules)."""
    from ..delivery import delivery_job, open_delivery

    return [delivery_job(open_delivery(runtime, environ))]


__all__ = ["Clock", "Job", "project_jobs", "run_once", "run_worker", "start_worker_thread", "utc_now"]
