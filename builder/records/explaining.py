"""Why a computed value is what it is: the values it read and the decision rows that matched.

Shown as "Why?" on record pages and as `_explain` in the API. Inputs the actor may
not read are left out, so an explanation never reveals a hidden field.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .actor import Actor
from .codec import decode
from .related import SqlRelated

if TYPE_CHECKING:
    from .service import RecordService


def explain_record(service: "RecordService", actor: Actor, entity_name: str, record_id: int) -> dict[str, Any]:
    """Why each computed value the actor can see is what it is: values read, decision rows matched.

    Inputs the actor may not read are left out, so "why?" never reveals a hidden field.
    """
    entity = service.entity(entity_name)
    grant = service.policy.require(actor, entity_name, "read")
    explained: dict[str, Any] = {}
    with service.engine.connect() as conn:
        row = service._visible_row(conn, actor, entity_name, grant, record_id)
        record = decode(entity.stored_fields, row, entity_name, service.cipher)
        context = service._loader(conn).wrap(entity_name, record)
        context.update(user=actor.as_context(), id=record_id)
        options = {"related": SqlRelated(service, conn, (entity_name, record_id)), "timezone": service.timezone}
        for name, field in entity.fields.items():
            if field.compute is None or name not in grant.readable:
                continue
            why = field.compute.explain(context, **options)
            why["reads"] = {path: value for path, value in why["reads"].items()
                            if path.split(".")[0] in grant.readable}
            why["decisions"] = [service.decision_tables[t].explain(context, **options)
                                for t in sorted(getattr(field.compute, "tables", None) or ())
                                if t in service.decision_tables]
            hidden = set(entity.fields) - grant.readable
            for decision in why["decisions"]:
                names = set(re.findall(r"[A-Za-z_]\w*", " ".join(str(i.get("input", ""))
                                                                 for i in decision.get("inputs", []))))
                if hidden & names:  # an input the actor may not read: say the outcome, not the why
                    decision.update(inputs=[], rows=[], matched=[], hidden_inputs=True)
            explained[name] = why
    return explained
