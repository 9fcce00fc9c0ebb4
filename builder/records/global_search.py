"""Global search (the header's box, `/search`, `GET /api/search`): `q` across every entity one may read.

Each entity is searched by the same `list()` the entity's own list runs, so
everything a list guarantees holds per group: the role's row filter, readable fields
only, masking, the per-type strategies of search.py (a whole phone or resident ID
exactly, the last 4 digits only with full access, names by prefix or substring, each
on an index), a look-up by a masked field counted against the actor's limit
(masked_lookups.py), and one audit entry per entity that returned protected fields.
Groups come in the blueprint's order of entities, at most `per_group` records each,
no totals (`count=none`: a count over a million rows per keystroke is the slow part),
only whether more follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from builder.storage.search_indexes import searched_fields

from .actor import Actor

if TYPE_CHECKING:
    from .service import RecordService

PER_GROUP = 5
MAX_PER_GROUP = 20
MAX_Q = 100  # characters: longer is not a name, a phone or an ID


@dataclass(frozen=True)
class SearchGroup:
    """The matches of one entity."""

    entity: str
    items: list[dict[str, Any]]
    more: bool  # more records match than `items` holds (open the entity's list with the same q)


def searchable_entities(service: RecordService, actor: Actor) -> list[str]:
    """Entities the actor may list and `q` can look at (some searched or title field readable)."""
    names = []
    for name, entity in service.entities.items():
        grant = service.policy.grant(actor, name)
        if not grant.allows("read"):
            continue
        fields = set(searched_fields(entity.spec)) | {entity.spec.title_field or ""}
        if fields & grant.readable:
            names.append(name)
    return names


def search_everything(service: RecordService, actor: Actor, q: str, per_group: int = PER_GROUP) -> list[SearchGroup]:
    """Groups with at least one match, each through `service.list` (audited like a list)."""
    text = q.strip()[:MAX_Q]
    if not text:
        return []
    per_group = max(1, min(per_group, MAX_PER_GROUP))
    groups = []
    for name in searchable_entities(service, actor):
        entity = service.entity(name)
        grant = service.policy.grant(actor, name)
        title = entity.spec.title_field
        shown = [f for f in [title, *searched_fields(entity.spec)] if f and f in grant.readable]
        page = service.list(actor, name, q=text, limit=per_group, fields=shown, count="none")
        if page.items:
            groups.append(SearchGroup(name, page.items, page.next_after is not None))
    return groups
