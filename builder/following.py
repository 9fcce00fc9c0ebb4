"""Long-running processes follow `crm migrate`: they never serve or write with a stale blueprint.

A server or worker holds a Runtime built from the blueprint as it was when it
started. When a migration lands (a new row in `crm_blueprint_history`), the
follower notices on the next request or job round (one indexed read), loads the
blueprint from disk again and, if it is the one the database was migrated to,
swaps in a new runtime. If the disk holds another blueprint than the one migrated
(a migration run from another machine, an edit not yet migrated), it answers
"updating" (None) rather than guess, and tries again every few seconds.

Writes are guarded in the database itself (storage/blueprint_version.py), so a
write racing a migration is refused, never half-right.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .runtime import Runtime
from .storage.blueprint_version import guard_writes, prepare_version_tracking, read_applied_version
from .storage.migrations import blueprint_hash

log = logging.getLogger("crm.following")

RETRY_SECONDS = 3.0  # a blueprint on disk that does not match the database is looked at again after this
OLD_RUNTIME_GRACE_SECONDS = 60.0  # requests still running on the old runtime finish before it is closed


def follow_migrations(runtime: Runtime, version: int | None = None) -> None:
    """Record the migration `runtime` was opened at and refuse its writes once the database moves on."""
    tracked = prepare_version_tracking(runtime.engine).id
    runtime.version = tracked if version is None else version
    guard_writes(runtime.engine, lambda: runtime.version)


class BlueprintFollower:
    """The runtime of the blueprint the database was last migrated to, reopened when that changes."""

    def __init__(self, runtime: Runtime, reopen: Callable[[], Runtime]) -> None:
        follow_migrations(runtime)
        self._runtime = runtime
        self._reopen = reopen
        self._lock = threading.Lock()
        self._retry_after = 0.0
        self._listeners: list[Callable[[Runtime], None]] = []

    @property
    def runtime(self) -> Runtime:
        return self._runtime

    def on_change(self, listener: Callable[[Runtime], None]) -> None:
        """Call `listener(new_runtime)` after each swap (the web app rebuilds its routes)."""
        self._listeners.append(listener)

    def is_current(self) -> bool:
        """Whether the database is still at the migration this runtime was opened at (one read)."""
        return read_applied_version(self._runtime.engine).id == self._runtime.version

    def current(self) -> Runtime | None:
        """The runtime to use now; None while the blueprint on disk does not match the database."""
        if self.is_current():
            return self._runtime
        with self._lock:
            if self.is_current():  # another request reopened it meanwhile
                return self._runtime
            if time.monotonic() < self._retry_after:
                return None
            return self._swap()

    def _swap(self) -> Runtime | None:
        applied = read_applied_version(self._runtime.engine)
        try:
            fresh = self._reopen()
        except Exception as exc:  # noqa: BLE001 - a broken blueprint on disk: keep answering "updating"
            log.error("the migrated blueprint could not be reopened: %s", type(exc).__name__)
            self._retry_after = time.monotonic() + RETRY_SECONDS
            return None
        if blueprint_hash(fresh.blueprint.entities) != applied.blueprint_hash:
            fresh.close()
            log.warning("the blueprint on disk is not the one the database was migrated to; waiting")
            self._retry_after = time.monotonic() + RETRY_SECONDS
            return None
        follow_migrations(fresh, applied.id)
        fresh.keep_keys_in_step()
        old, self._runtime = self._runtime, fresh
        for listener in self._listeners:
            listener(fresh)
        timer = threading.Timer(OLD_RUNTIME_GRACE_SECONDS, old.close)
        timer.daemon = True
        timer.start()
        log.info("now serving the blueprint of migration %s", fresh.version)
        return fresh
