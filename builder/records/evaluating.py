"""Evaluate an entity's expressions for one record, as the record service sees it.

Links load lazily, `user` is the actor, and count/exists/last/overlaps query the
operation's own connection. Child-table rows get an evaluator of their own, in
which the row's fields are the names and `parent` is the record they belong to:
the same scope the blueprint checks compiled them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .links import LinkLoader


def child_key(entity: str, table_field: str) -> str:
    """How a child table's link fields are looked up (`visit.prescriptions`)."""
    return f"{entity}.{table_field}"


class RecordEvaluator:
    """Call it with (expression, record); `for_rows` gives the evaluator of a child table's rows."""

    def __init__(
        self,
        loader: LinkLoader,
        entity: str,
        user: Mapping[str, Any],
        related: Any,
        timezone: str | None,
        record_id: int | None = None,
        parent: tuple[str, Mapping[str, Any]] | None = None,
    ):
        self.loader, self.entity, self.user, self.related = loader, entity, user, related
        self.timezone, self.record_id, self.parent = timezone, record_id, parent

    def __call__(self, expression: Any, record: Mapping[str, Any]) -> Any:
        context = self.loader.wrap(self.entity, record)
        context["user"] = self.user
        if self.parent is None:
            context.setdefault("id", self.record_id)
        else:
            parent_entity, parent_record = self.parent
            context["parent"] = self.loader.wrap(parent_entity, {**parent_record, "id": self.record_id})
        return expression.evaluate(context, related=self.related, timezone=self.timezone)

    def for_rows(self, table_field: str, parent_record: Mapping[str, Any]) -> RecordEvaluator:
        return RecordEvaluator(
            self.loader,
            child_key(self.entity, table_field),
            self.user,
            self.related,
            self.timezone,
            self.record_id,
            (self.entity, parent_record),
        )
