"""The values of one new record: every field the seeder can fill, links to records that exist.

Required fields are always given; optional ones mostly, fields with a default or a
`visible_if` about half the time (so defaults and hidden fields are seen at work).
Computed fields and login accounts are never given: the record service and the
accounts own them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from engines.forms import EntitySpec, FieldSpec

from .meaning import Meaning, meaning_of
from .values import ValueMaker

OPTIONAL_SHARE = 0.85
# A clinic always has these, even where the blueprint leaves them optional (an age needs its birth date).
ALWAYS_KNOWN = (Meaning.PERSON_NAME, Meaning.BIRTH_DATE)
CHILD_ROWS = (0, 3)


class LinkPool:
    """The ids each entity has: rows found in the database plus rows made in this run."""

    def __init__(self, rng: random.Random, existing: Mapping[str, list[int]]):
        self.rng = rng
        self.ids: dict[str, list[int]] = {name: list(ids) for name, ids in existing.items()}

    def add(self, entity: str, record_id: int) -> None:
        self.ids.setdefault(entity, []).append(record_id)

    def pick(self, entity: str) -> int | None:
        ids = self.ids.get(entity)
        return self.rng.choice(ids) if ids else None


class RowBuilder:
    """Makes the input of one `create` for an entity."""

    def __init__(self, maker: ValueMaker, links: LinkPool):
        self.maker, self.links, self.rng = maker, links, maker.rng

    def record(self, entity: EntitySpec) -> dict[str, Any]:
        return self._values(entity.fields)

    def _values(self, fields: Mapping[str, FieldSpec]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for name in sorted(fields, key=lambda n: _making_order(fields[n])):  # stable: declared order kept
            spec = fields[name]
            if spec.compute or spec.type == "user" or not self._wanted(name, spec):
                continue
            value = self._value(name, spec, row, fields)
            if value is not None:
                row[name] = value
        return row

    def _wanted(self, name: str, spec: FieldSpec) -> bool:
        if spec.required or spec.type == "state" or meaning_of(name, spec) in ALWAYS_KNOWN:
            return True
        if spec.default is not None or spec.visible_if:
            return self.rng.random() < 0.5
        return self.rng.random() < OPTIONAL_SHARE

    def _value(self, name: str, spec: FieldSpec, row: dict[str, Any], fields: Mapping[str, FieldSpec]) -> Any:
        if spec.type == "link":
            return self.links.pick(spec.to) if spec.to else None
        if spec.type == "table":
            low, high = CHILD_ROWS
            return [
                self._values(spec.fields or {}) for _ in range(self.rng.randint(low if not spec.required else 1, high))
            ]
        if self.maker.can_make(spec):
            return self.maker.value(name, spec, row, fields)
        return None


def _making_order(spec: FieldSpec) -> int:
    """Choices first (a name fits the sex), values that follow others last (an ID from the birth date,
    a state from the record's moment)."""
    if spec.type == "state":
        return 3
    if spec.type in ("select", "boolean"):
        return 0
    if spec.type == "cn_resident_id" or (
        spec.type in ("date", "datetime")
        and any(isinstance(limit, str) and limit.strip().isidentifier() for limit in (spec.min, spec.max))
    ):
        return 2
    return 1
