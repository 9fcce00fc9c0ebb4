"""Users' own saved list filters: a name and a list page's query string, per user and entity.

Private by construction: every read and delete is keyed by the signed-in user's id, so
another user's filter is never listed, opened or deleted (a wrong id is "not found").
A saved filter holds only the query string; running it goes through the record service
like any list, so it can never show more than the user may see today.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa

from builder.system_tables import saved_filters

from .actor import Actor

MAX_SAVED = 50  # per user and entity
MAX_NAME = 80
MAX_QUERY = 2000
DROPPED = ("after", "skip", "offset", "deleted", "saved", "csrf_token", "name")


class SavedFilterRefused(ValueError):
    """A filter that cannot be saved: `code` is no_user, bad_name, too_long or too_many (pages word it)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class SavedFilter:
    id: int
    name: str
    query: str


def clean_query(query: str) -> str:
    """The query string without paging and page-state keys (a saved filter starts on page one)."""
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=False) if k not in DROPPED]
    return urlencode(pairs)


def list_saved(engine: sa.Engine, actor: Actor, entity: str) -> list[SavedFilter]:
    if actor.id is None:
        return []
    t = saved_filters
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.id, t.c.name, t.c.query)
            .where(t.c.user_id == actor.id, t.c.entity == entity)
            .order_by(t.c.name, t.c.id)
        ).all()
    return [SavedFilter(r.id, r.name, r.query) for r in rows]


def save_filter(engine: sa.Engine, actor: Actor, entity: str, name: str, query: str, now: dt.datetime) -> int:
    name = name.strip()
    if actor.id is None:
        raise SavedFilterRefused("no_user")
    if not name or len(name) > MAX_NAME:
        raise SavedFilterRefused("bad_name")
    query = clean_query(query)
    if len(query) > MAX_QUERY:
        raise SavedFilterRefused("too_long")
    t = saved_filters
    with engine.begin() as conn:
        held = conn.execute(
            sa.select(sa.func.count()).where(t.c.user_id == actor.id, t.c.entity == entity)
        ).scalar_one()
        if held >= MAX_SAVED:
            raise SavedFilterRefused("too_many")
        result = conn.execute(
            t.insert().values(user_id=actor.id, entity=entity, name=name, query=query, created_at=now)
        )
        key = result.inserted_primary_key
        return int(key[0]) if key else 0


def delete_saved(engine: sa.Engine, actor: Actor, entity: str, filter_id: int) -> bool:
    """Delete the actor's own filter; False when there is none of theirs with that id."""
    if actor.id is None:
        return False
    t = saved_filters
    with engine.begin() as conn:
        done = conn.execute(
            t.delete().where(t.c.id == filter_id, t.c.user_id == actor.id, t.c.entity == entity)
        ).rowcount
    return bool(done)
