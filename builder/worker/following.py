"""A worker that follows `crm migrate`: each round runs the jobs of the runtime the database holds.

A worker started before a migration would otherwise go on with the old blueprint
(its writes are refused by the database guard, so it would fail every round until
restarted). Here each round asks the follower first, and rebuilds the jobs when the
runtime was swapped; while the blueprint on disk does not match, the round does nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from ..following import BlueprintFollower
from ..runtime import Runtime
from .loop import Job, run_once


def following_jobs(follower: BlueprintFollower, make_jobs: Callable[[Runtime], list[Job]]) -> list[Job]:
    """One job that runs `make_jobs(current runtime)` in turn, rebuilt after each swap."""
    built: dict[int, list[Job]] = {}

    def current_jobs(now: dt.datetime) -> int:
        runtime = follower.current()
        if runtime is None:
            return 0
        jobs = built.get(id(runtime))
        if jobs is None:
            built.clear()
            jobs = built[id(runtime)] = make_jobs(runtime)
        return run_once(jobs, lambda: now)

    return [current_jobs]
