"""Assemble the running parts of a project: blueprint, database, keys, record service.

Engines never import the builder; this is where the builder hands each engine what
it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .loading import LoadedBlueprint, load_blueprint
from .project import Project
from .records import RecordService

if TYPE_CHECKING:
    from .storage.keysync import SharedKeyring


def load_checked(path: Path | str, run_examples: bool = True) -> LoadedBlueprint:
    """Load a blueprint and (by default) run its examples; BlueprintError lists every problem."""
    loaded = load_blueprint(path)
    if run_examples:
        run_blueprint_examples(loaded)
    return loaded


def run_blueprint_examples(loaded: LoadedBlueprint) -> int:
    """Run every `examples:` entry; raise BlueprintError naming the failing ones; return the count."""
    from .errors import BlueprintError
    from .examples import blueprint_examples

    count, problems = blueprint_examples(loaded)
    if problems:
        raise BlueprintError(loaded.locate(problems))
    return count


DEFAULT_KEY_CHECK_SECONDS = 30


@dataclass
class Runtime:
    """Everything a command or the web app needs, built once from a project."""

    project: Project
    loaded: LoadedBlueprint
    engine: sa.Engine
    records: RecordService
    keys: SharedKeyring | None = None
    version: int = 0  # the migration (crm_blueprint_history id) this runtime follows; see builder/following.py

    @property
    def blueprint(self):
        return self.loaded.blueprint

    def keep_keys_in_step(self) -> None:
        """For long-running processes: a heartbeat thread that also follows key rotations when idle."""
        if self.keys is not None:
            seconds = float(self.project.setting("security", "key_check_seconds", DEFAULT_KEY_CHECK_SECONDS))
            self.keys.start_heartbeat(seconds)

    def close(self) -> None:
        if self.keys is not None:
            self.keys.close()
        if self.records.reports_engine is not None:
            self.records.reports_engine.dispose()
        self.engine.dispose()


def open_runtime(project: Project | Path | str = ".", database_url: str | None = None) -> Runtime:
    """Load the project's blueprint, connect to its database and build the record service.

    The database must already be migrated (`crm migrate`); system tables are created
    if missing.
    """
    from engines.rules import set_timezone

    from .storage.database import make_engine
    from .storage.keysync import SharedKeyring
    from .system_tables import create_system_tables

    if not isinstance(project, Project):
        project = Project.load(project)
    loaded = load_checked(project.blueprint_path)
    engine = make_engine(database_url or project.database_url)
    create_system_tables(engine)
    keyring = SharedKeyring.open(engine, project.key_file) if _has_encrypted(loaded) else None
    set_timezone(loaded.blueprint.app.timezone)
    records = RecordService(
        loaded.blueprint.entities,
        engine,
        keyring,
        decision_tables=loaded.decision_tables,
        timezone=loaded.blueprint.app.timezone,
        flows=loaded.flows,
        forms=loaded.blueprint.forms,
    )
    configure_reports(project, records)
    return Runtime(project, loaded, engine, records, keyring)


DEFAULT_REPORT_CACHE_ENTRIES = 256


def configure_reports(project: Project, records: RecordService) -> None:
    """Reports run on `[database] reports_url` when set (a read replica), through a per-process result cache."""
    from .records.report_cache import ReportCache
    from .storage.database import make_engine

    url = project.reports_database_url
    if url:
        records.reports_engine = make_engine(url)
    entries = project.setting("reports", "cache_entries", DEFAULT_REPORT_CACHE_ENTRIES)
    if not isinstance(entries, int) or isinstance(entries, bool) or entries < 0:
        from .errors import ProjectError

        raise ProjectError(f"crm.toml: [reports] cache_entries is a whole number of at least 0, not {entries!r}")
    records.report_cache = ReportCache(entries) if entries else None


def _has_encrypted(loaded: LoadedBlueprint) -> bool:
    for entity in loaded.blueprint.entities.values():
        for field in entity.fields.values():
            if field.encrypted or any(child.encrypted for child in (field.fields or {}).values()):
                return True
    return False
