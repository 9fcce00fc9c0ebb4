"""Audit entries for reads that return protected fields: one entry per list, search or export.

A list of 500 patients is one entry holding the 500 ids and the names of the fields
returned, so the trail shows who saw whose data without a row per record. Values
never go in: not the fields', not the filters' (only their names), not the search text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from builder.storage.database import write_transaction
from builder.system_tables import audit as audit_table

from .actor import Actor
from .auditing import audit_row
from .compiled import CompiledEntity
from .policy import Grant
from .querying import ListQuery


def protected_fields(entity: CompiledEntity, grant: Grant) -> list[str]:
    """The readable fields whose reading is audited: PHI, encrypted and sensitive ones (masked or not)."""
    return sorted(
        name
        for name, field in entity.fields.items()
        if name in grant.readable and (field.spec.phi or field.spec.encrypted or field.spec.sensitive)
    )


def read_detail(
    entity: CompiledEntity,
    grant: Grant,
    items: Sequence[dict[str, Any]],
    spec: ListQuery,
    masked_lookup: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What one audited read returned: ids and field names, plus the names (only) of what it asked."""
    detail: dict[str, Any] = {
        "rows": len(items),
        "ids": [item["id"] for item in items],
        "fields": sorted(name for name in entity.fields if name in grant.readable),
        "filters": sorted(spec.filters),
        "search": bool(spec.q and spec.q.strip()),
    }
    if spec.sort:
        detail["sort"] = spec.sort
    if masked_lookup:
        detail["masked_lookup"] = masked_lookup
    return detail


def write_read_audit(
    engine: sa.Engine, actor: Actor, action: str, entity: CompiledEntity, at: Any, detail: dict[str, Any]
) -> None:
    """One audit entry for one read request, in its own short transaction."""
    with write_transaction(engine) as conn:
        conn.execute(  # parameters, not .values(): one compiled INSERT for every request
            audit_table.insert(),
            audit_row(actor, action, entity.name, None, at, detail=json.dumps(detail, ensure_ascii=False)),
        )


def write_refs_audit(engine: sa.Engine, actor: Actor, action: str, refs: Sequence[tuple[str, int]], at: Any) -> None:
    """One entry per entity for a page that shows records of several (the outbox, an inbox): their ids.

    Nothing is written for an empty page: there was nobody's data to see."""
    by_entity: dict[str, list[int]] = {}
    for entity, record_id in refs:
        by_entity.setdefault(entity, []).append(record_id)
    if not by_entity:
        return
    with write_transaction(engine) as conn:
        conn.execute(
            audit_table.insert(),
            [
                audit_row(actor, action, entity, None, at, detail=json.dumps({"rows": len(ids), "ids": ids}))
                for entity, ids in sorted(by_entity.items())
            ],
        )
