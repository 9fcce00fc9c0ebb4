"""Pruning what public forms leave behind: dead links and old rate-limit rows.

A link that expired, was spent (single use) or was revoked is kept `keep` longer (the
record's page lists it, a late visitor is told why it no longer works), then deleted;
the audit trail keeps its id. Counted submissions (`crm_public_attempt`) are deleted once
past the limits' window: they count for nothing more. The worker runs this every
PRUNE_EVERY (`crm worker`, and the worker thread of `crm serve` on SQLite); `crm
prune-form-links` runs it at once. Deleting rows of the past is safe on any number of
processes at the same time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from builder.storage.database import write_transaction
from builder.system_tables import public_attempts, public_tokens

PRUNE_EVERY = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Pruned:
    links: int
    attempts: int

    @property
    def total(self) -> int:
        return self.links + self.attempts


def prune_public(engine: sa.Engine, now: dt.datetime, keep: dt.timedelta, window: dt.timedelta) -> Pruned:
    """Delete links dead for longer than `keep` and attempts older than `window`."""
    links = public_tokens.c
    before = now - keep
    dead = (
        (links.expires_at <= before)
        | (links.revoked_at <= before)
        | (links.used_at.isnot(None) & (links.used_at <= before) & sa.not_(links.reusable))
    )
    with write_transaction(engine) as conn:
        gone_links = conn.execute(public_tokens.delete().where(dead)).rowcount
        gone_attempts = conn.execute(public_attempts.delete().where(public_attempts.c.at <= now - window)).rowcount
    return Pruned(gone_links or 0, gone_attempts or 0)


def pruning_job(
    engine: sa.Engine, keep: dt.timedelta, window: dt.timedelta, every: dt.timedelta = PRUNE_EVERY
) -> Callable[[dt.datetime], int]:
    """A worker job (`job(now) -> rows deleted`) that prunes at most once every `every` of the worker's clock."""
    last: list[dt.datetime] = []

    def prune_public_forms(now: dt.datetime) -> int:
        if last and now - last[0] < every:
            return 0
        last[:] = [now]
        return prune_public(engine, now, keep, window).total

    return prune_public_forms
