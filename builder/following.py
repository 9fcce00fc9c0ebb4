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

Reports and dashboards need no migration: a report saved by the designer (or
edited by hand) under the blueprint folder reaches every server on the same
files from its next request. The follower compares the blueprint files' sizes
and modification times (at most once a second); when they have changed it loads
the blueprint again (with `crm validate`'s checks and examples) and, if only the
`reports` and `dashboards` sections differ from the running blueprint, serves a
runtime with the new ones (the same database, record service and keys). Any other
difference waits for `crm migrate`, as before; a blueprint that no longer loads
keeps the running one (and is logged).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .runtime import Runtime, load_checked
from .storage.blueprint_version import guard_writes, prepare_version_tracking, read_applied_version
from .storage.migrations import blueprint_hash

log = logging.getLogger("crm.following")

RETRY_SECONDS = 3.0  # a blueprint on disk that does not match the database is looked at again after this
OLD_RUNTIME_GRACE_SECONDS = 60.0  # requests still running on the old runtime finish before it is closed
FILE_CHECK_SECONDS = 1.0  # the blueprint files are looked at no more often than this
FOLLOWED_SECTIONS = ("reports", "dashboards")  # sections served from the files without a migration


def blueprint_files(path: Path) -> tuple[tuple[str, int, int], ...]:
    """Each file of the blueprint (a folder or one file): its path, size and modification time (ns)."""
    found = []
    paths = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in paths:
        try:
            stat = file.stat()
        except OSError:  # removed while listed
            continue
        found.append((os.fspath(file), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def follow_migrations(runtime: Runtime, version: int | None = None) -> None:
    """Record the migration `runtime` was opened at and refuse its writes once the database moves on."""
    tracked = prepare_version_tracking(runtime.engine).id
    runtime.version = tracked if version is None else version
    guard_writes(runtime.engine, lambda: runtime.version)


class BlueprintFollower:
    """The runtime of the blueprint the database was last migrated to, reopened when that changes."""

    def __init__(
        self, runtime: Runtime, reopen: Callable[[], Runtime], *, file_check_seconds: float = FILE_CHECK_SECONDS
    ) -> None:
        follow_migrations(runtime)
        self._runtime = runtime
        self._reopen = reopen
        self._lock = threading.Lock()
        self._retry_after = 0.0
        self._listeners: list[Callable[[Runtime], None]] = []
        self._file_check_seconds = file_check_seconds
        self._files = blueprint_files(runtime.project.blueprint_path)
        self._files_checked = time.monotonic()

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
            if time.monotonic() - self._files_checked >= self._file_check_seconds:
                self._follow_files()
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
        self._files = blueprint_files(fresh.project.blueprint_path)
        old, self._runtime = self._runtime, fresh
        for listener in self._listeners:
            listener(fresh)
        timer = threading.Timer(OLD_RUNTIME_GRACE_SECONDS, old.close)
        timer.daemon = True
        timer.start()
        log.info("now serving the blueprint of migration %s", fresh.version)
        return fresh

    def _follow_files(self) -> None:
        """Serve the reports and dashboards of the blueprint files when they changed (and nothing else did)."""
        with self._lock:
            self._files_checked = time.monotonic()
            running = self._runtime
            files = blueprint_files(running.project.blueprint_path)
            if files == self._files:
                return
            self._files = files  # looked at once per change, whatever comes of it
            try:
                loaded = load_checked(running.project.blueprint_path)
            except Exception as exc:  # noqa: BLE001 - a blueprint being edited: keep serving the running one
                log.error("the changed blueprint files do not load; still serving the running blueprint: %s", exc)
                return
            kept = {section: getattr(running.blueprint, section) for section in FOLLOWED_SECTIONS}
            if loaded.blueprint.model_copy(update=kept) != running.blueprint:
                log.warning("the blueprint files changed beyond reports and dashboards: served after `crm migrate`")
                return
            if all(getattr(loaded.blueprint, section) == kept[section] for section in FOLLOWED_SECTIONS):
                return
            fresh = dataclasses.replace(running, loaded=loaded)  # the same database, records and keys
            self._runtime = fresh
            for listener in self._listeners:
                listener(fresh)
            log.info("now serving the reports and dashboards of the blueprint files")
