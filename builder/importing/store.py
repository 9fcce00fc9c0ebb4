"""Where an import remembers itself: its run (crm_import_run) and the rows it finished (crm_import_row).

A finished row is written in the same transaction as its record, so after a crash or
a Ctrl-C the table says exactly which rows are in the database: a resume skips those
and no row is imported twice. Rejected rows are not remembered; a resume tries them again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..system_tables import import_rows, import_runs
from .errors import ImportFailed


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_import_id() -> str:
    """A short id to type after --resume: the date and a random part (20261130-3f9a2c)."""
    return f"{dt.datetime.now(dt.UTC):%Y%m%d}-{secrets.token_hex(3)}"


def _utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


@dataclass
class ImportRun:
    id: str
    entity: str
    file_name: str
    file_sha256: str
    actor: str
    status: str
    mapping: str
    summary: dict[str, Any] | None


def start_run(engine: sa.Engine, run_id: str, entity: str, path: Path, digest: str, actor: str, mapping: str) -> None:
    now = _utc()
    with engine.begin() as conn:
        conn.execute(
            import_runs.insert().values(
                id=run_id,
                entity=entity,
                file_name=path.name[:255],
                file_sha256=digest,
                actor=actor,
                status="running",
                mapping=mapping,
                created_at=now,
                updated_at=now,
            )
        )


def load_run(engine: sa.Engine, run_id: str) -> ImportRun:
    with engine.connect() as conn:
        row = conn.execute(sa.select(import_runs).where(import_runs.c.id == run_id)).first()
    if row is None:
        raise ImportFailed(f"there is no import `{run_id}` to resume")
    summary = json.loads(row.summary) if row.summary else None
    return ImportRun(row.id, row.entity, row.file_name, row.file_sha256, row.actor, row.status, row.mapping, summary)


def list_runs(engine: sa.Engine, limit: int = 20) -> list[ImportRun]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(import_runs).order_by(import_runs.c.created_at.desc()).limit(limit)).all()
    return [
        ImportRun(r.id, r.entity, r.file_name, r.file_sha256, r.actor, r.status, r.mapping, _summary(r.summary))
        for r in rows
    ]


def _summary(text: str | None) -> dict[str, Any] | None:
    return json.loads(text) if text else None


def set_status(engine: sa.Engine, run_id: str, status: str, summary: dict[str, Any] | None = None) -> None:
    values: dict[str, Any] = {"status": status, "updated_at": _utc()}
    if summary is not None:
        values["summary"] = json.dumps(summary, ensure_ascii=False, default=str)
    with engine.begin() as conn:
        conn.execute(import_runs.update().where(import_runs.c.id == run_id).values(**values))


def finished_rows(engine: sa.Engine, run_id: str) -> dict[int, tuple[str, int | None]]:
    """{source row: (outcome, record id)} of the rows this import already wrote or skipped."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(import_rows.c.source_row, import_rows.c.outcome, import_rows.c.record_id).where(
                import_rows.c.import_id == run_id
            )
        ).all()
    return {r.source_row: (r.outcome, r.record_id) for r in rows}


def remember_rows(conn: sa.Connection, run_id: str, rows: Iterable[tuple[int, str, int | None]]) -> None:
    """Mark rows finished, in the caller's transaction (the one that wrote their records)."""
    entries = [{"import_id": run_id, "source_row": r, "outcome": o, "record_id": i} for r, o, i in rows]
    if entries:
        conn.execute(import_rows.insert(), entries)
