"""Field paths across links: `doctor`, `patient.primary_doctor`, `patient.gender`.

A path starts at the report's source entity; every part but the last must be a
`link` field, and each hop lands on the linked entity. Besides the entity's own
fields a path may end on the system columns every table has: `id`, and
`created_at` / `updated_at` (naive local times, like datetime fields). Checks and the compiler
both resolve paths here, so what validates is exactly what compiles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engines.forms import EntitySpec, FieldSpec, field_type

SYSTEM_FIELDS = {
    "id": FieldSpec(type="integer"),
    "created_at": FieldSpec(type="datetime"),
    "updated_at": FieldSpec(type="datetime"),
}


class PathError(ValueError):
    """A path that does not resolve; `part` is the index of the part that is wrong."""

    def __init__(self, message: str, part: int, name: str, candidates: list[str]):
        super().__init__(message)
        self.part = part
        self.name = name
        self.candidates = candidates


@dataclass(frozen=True)
class Hop:
    """One link followed: from `entity`, through its link field `field`, to `target`."""

    entity: str
    field: str
    target: str


@dataclass(frozen=True)
class FieldPath:
    """A resolved path: the links followed, and the field it ends on (of `entity`)."""

    text: str
    hops: tuple[Hop, ...]
    entity: str
    field: str
    spec: FieldSpec

    @property
    def rule_type(self) -> str:
        """The rules engine's type of the final field (text, integer, date, record...)."""
        return field_type(self.spec.type).rule_type

    @property
    def is_link(self) -> bool:
        return self.spec.type == "link" and self.spec.to is not None

    @property
    def stored(self) -> bool:
        return field_type(self.spec.type).stored


def resolve_path(entities: Mapping[str, EntitySpec], source: str, text: str) -> FieldPath:
    """The path `text` from entity `source`; raises PathError naming the wrong part."""
    parts = text.split(".")
    entity = source
    hops: list[Hop] = []
    for index, part in enumerate(parts):
        fields = {**SYSTEM_FIELDS, **entities[entity].fields}
        if part not in fields:
            raise PathError(f"`{entity}` has no field `{part}`", index, part, list(fields))
        spec = fields[part]
        if index == len(parts) - 1:
            return FieldPath(text, tuple(hops), entity, part, spec)
        if spec.type != "link" or spec.to is None or spec.to not in entities:
            message = f"`{entity}.{part}` is not a link, so `.{parts[index + 1]}` cannot follow it"
            raise PathError(message, index, part, [])
        hops.append(Hop(entity, part, spec.to))
        entity = spec.to
    raise PathError("the path is empty", 0, "", [])  # pragma: no cover - split gives one part at least
