"""Which entities to seed, in what order, and how many rows of each.

Links decide the order: a record can only point at records that exist, so targets are
seeded before the entities that link to them. Optional links give way when links form
a cycle (they are filled in afterwards); a cycle of required links is broken where it
must be, and rows that cannot find a target are skipped and counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engines.forms import EntitySpec

from ..errors import ProjectError

DEFAULT_MAIN_ROWS = 200
DEPENDENTS_PER_MAIN = 2  # appointments, readings... per main record, by default
MIN_REFERENCE_ROWS = 6  # staff-like entities nothing requires a link from


class SeedRequestError(ProjectError):
    """`--rows` given something the seeder cannot use (an unknown entity, a count that is not a number)."""


@dataclass(frozen=True)
class RowRequest:
    """What the user asked for: one count for every entity, counts per entity, the main entity's count."""

    every: int | None = None
    per_entity: Mapping[str, int] = field(default_factory=dict)
    main: int | None = None


def parse_rows(values: list[str] | tuple[str, ...], main: int | None = None) -> RowRequest:
    """`--rows 50 --rows visit=10` as a RowRequest; SeedRequestError for anything else."""
    every: int | None = None
    per_entity: dict[str, int] = {}
    for value in values:
        name, _, count = value.rpartition("=")
        number = _count(count.strip(), value)
        if name:
            per_entity[name.strip()] = number
        else:
            every = number
    return RowRequest(every, per_entity, main)


def _count(text: str, given: str) -> int:
    if not text.isdigit() or int(text) > 1_000_000:
        raise SeedRequestError(f"--rows {given}: expected a count from 0 to 1000000, as N or entity=N")
    return int(text)


def link_targets(entity: EntitySpec, required_only: bool = False) -> list[str]:
    """Entities this one links to (child tables' links included), each once, in field order."""
    found: list[str] = []
    for spec in entity.fields.values():
        specs = list((spec.fields or {}).values()) if spec.type == "table" else [spec]
        for one in specs:
            if one.type == "link" and one.to and (one.required or not required_only) and one.to not in found:
                found.append(one.to)
    return found


def main_entity(entities: Mapping[str, EntitySpec]) -> str:
    """`patient` where there is one; else the entity most others require a link to (first declared on a tie)."""
    if "patient" in entities:
        return "patient"
    required_by = {name: 0 for name in entities}
    for name, entity in entities.items():
        for target in link_targets(entity, required_only=True):
            if target != name and target in required_by:
                required_by[target] += 1
    return max(entities, key=lambda name: required_by[name])


def seeding_order(entities: Mapping[str, EntitySpec]) -> list[str]:
    """Every entity after the ones it links to, as far as cycles allow (self-links do not count)."""
    done: list[str] = []
    pending = list(entities)
    while pending:
        ready = (
            _ready(entities, pending, done, required_only=False)
            or _ready(entities, pending, done, required_only=True)
            or [_least_blocked(entities, pending, done)]
        )
        for name in ready:
            done.append(name)
            pending.remove(name)
    return done


def _ready(entities: Mapping[str, EntitySpec], pending: list[str], done: list[str], required_only: bool) -> list[str]:
    return [
        name
        for name in pending
        if all(t in done or t == name or t not in entities for t in link_targets(entities[name], required_only))
    ]


def _least_blocked(entities: Mapping[str, EntitySpec], pending: list[str], done: list[str]) -> str:
    """In a cycle of required links: the entity with the fewest required targets still missing."""
    return min(
        pending,
        key=lambda name: sum(t not in done and t != name for t in link_targets(entities[name], required_only=True)),
    )


def plan_rows(entities: Mapping[str, EntitySpec], request: RowRequest) -> dict[str, int]:
    """How many rows to make of each entity, in seeding order.

    `--rows N` gives every entity N; without it the main entity gets `--patients` (or
    200), staff-like entities a handful and the others twice the main count. Per-entity
    overrides win over both.
    """
    unknown = sorted(set(request.per_entity) - set(entities))
    if unknown:
        raise SeedRequestError(
            f"--rows: no entity called {', '.join(f'`{u}`' for u in unknown)} (entities: {', '.join(entities)})"
        )
    main = main_entity(entities)
    main_rows = (
        request.main
        if request.main is not None
        else (request.every if request.every is not None else DEFAULT_MAIN_ROWS)
    )
    counts: dict[str, int] = {}
    for name in seeding_order(entities):
        if name in request.per_entity:
            counts[name] = request.per_entity[name]
        elif name == main:
            counts[name] = main_rows
        elif request.every is not None:
            counts[name] = request.every
        elif link_targets(entities[name], required_only=True):
            counts[name] = main_rows * DEPENDENTS_PER_MAIN
        else:
            counts[name] = max(MIN_REFERENCE_ROWS, main_rows // 150)
    return counts
