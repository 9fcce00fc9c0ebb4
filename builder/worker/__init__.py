"""The background worker: a loop over job callables (`job(now) -> int`), see loop.py."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

from .loop import Clock, Job, run_once, run_worker, start_worker_thread, utc_now

if TYPE_CHECKING:
    from ..runtime import Runtime


def project_jobs(runtime: Runtime, environ: Mapping[str, str] | None = None) -> list[Job]:
    """The jobs a worker of this project runs, in order: scheduled runs, due timers and scheduled report
    mails (which write outbox rows), then the delivery of the outbox, so a reminder goes out in the same round;
    last, hourly, the pruning of dead public-form links and old rate-limit rows."""
    from ..delivery import delivery_job, open_delivery
    from ..public_forms.pruning import pruning_job
    from ..public_forms.submitting import Limits
    from ..records.report_mail_jobs import run_due_report_mails
    from ..records.schedule_jobs import schedules_job
    from ..records.timer_jobs import fire_due_timers

    limits = Limits.from_project(runtime.project)
    return [
        schedules_job(runtime.records),
        partial(fire_due_timers, runtime.records),
        partial(run_due_report_mails, runtime.records, runtime.blueprint.reports),
        delivery_job(open_delivery(runtime, environ)),
        pruning_job(runtime.engine, limits.keep, limits.window),
    ]


__all__ = ["Clock", "Job", "project_jobs", "run_once", "run_worker", "start_worker_thread", "utc_now"]
