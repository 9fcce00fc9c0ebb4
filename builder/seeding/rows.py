"""The values of one new record: every field the seeder can fill, links to records that exist.

Required fields are always given; optional ones mostly, fields with a default or a
`visible_if` about half the time (so defaults and hidden fields are seen at work).
Computed fields and login accounts are never given: the record service and the
accounts own them.

A record has a moment when one of its dates says when it happens (`starts_at`,
`visited_at`, `due_on`: timeline.py): it is drawn first, the record is made (its
`created_at`) around it, and its links point at records made before that. About
half of such records linking to others are *returns*: the same patient and doctor
again some days after an earlier record, so patients have several visits, and a
month's visits include revisits.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from builder.records.link_filters import record_names
from engines.forms import EntitySpec, FieldSpec

from .meaning import Meaning, meaning_of
from .values import ValueMaker

OPTIONAL_SHARE = 0.85
# A clinic always has these, even where the blueprint leaves them optional (an age needs its birth date).
ALWAYS_KNOWN = (Meaning.PERSON_NAME, Meaning.BIRTH_DATE)
CHILD_ROWS = (0, 3)
RETURN_SHARE = 0.55  # of records with a moment and a required link: a return after an earlier one
EARLIEST = dt.datetime.min
RECENT, RECENT_SHARE = dt.timedelta(days=30), 0.5  # links: half to records made in the month before


class LinkPool:
    """The ids each entity has and when each was made: rows found in the database plus rows made in this run."""

    def __init__(self, rng: random.Random, existing: Mapping[str, list[int]]):
        self.rng = rng
        self.ids: dict[str, list[int]] = {name: list(ids) for name, ids in existing.items()}
        self.times: dict[str, list[dt.datetime]] = {name: [EARLIEST] * len(ids) for name, ids in existing.items()}
        self.when: dict[str, dict[int, dt.datetime]] = {}
        self._unordered: set[str] = set()

    def add(self, entity: str, record_id: int, made_at: dt.datetime | None = None) -> None:
        ids, times = self.ids.setdefault(entity, []), self.times.setdefault(entity, [])
        when = made_at or EARLIEST
        if times and when < times[-1]:
            self._unordered.add(entity)
        ids.append(record_id)
        times.append(when)
        self.when.setdefault(entity, {})[record_id] = when

    def drop(self, entity: str, record_ids: set[int]) -> None:
        """Forget records that were rolled back."""
        kept = [(t, i) for t, i in zip(self.times.get(entity, []), self.ids.get(entity, [])) if i not in record_ids]
        self.times[entity], self.ids[entity] = [t for t, _ in kept], [i for _, i in kept]
        for record_id in record_ids:
            self.when.get(entity, {}).pop(record_id, None)

    def pick(self, entity: str, before: dt.datetime | None = None) -> int | None:
        """A random id; with `before`, one made by then (the earliest when none was).

        Half the time it is one made in the month before (a new patient's first visit
        comes soon after registering), so records made late still get their share.
        """
        ids = self.ids.get(entity)
        if not ids:
            return None
        if before is None:
            return self.rng.choice(ids)
        if entity in self._unordered:
            pairs = sorted(zip(self.times[entity], ids))
            self.times[entity], self.ids[entity] = [t for t, _ in pairs], [i for _, i in pairs]
            self._unordered.discard(entity)
            ids = self.ids[entity]
        known = bisect.bisect_right(self.times[entity], before)
        if not known:
            return ids[0]
        recent = bisect.bisect_left(self.times[entity], before - RECENT, 0, known)
        if recent < known and self.rng.random() < RECENT_SHARE:
            return ids[self.rng.randrange(recent, known)]
        return ids[self.rng.randrange(known)]

    def made_at(self, entity: str, record_id: int) -> dt.datetime:
        return self.when.get(entity, {}).get(record_id, EARLIEST)

    def share(self, entities: Iterable[str]) -> dict[str, tuple[list[int], list[dt.datetime]]]:
        """The ids of `entities` and when each was made, oldest first: for a worker's own pool (`take`)."""
        shared = {}
        for entity in entities:
            pairs = sorted(zip(self.times.get(entity, []), self.ids.get(entity, [])))
            shared[entity] = ([i for _, i in pairs], [t for t, _ in pairs])
        return shared

    def take(self, shared: Mapping[str, tuple[list[int], list[dt.datetime]]]) -> None:
        """Know the records another pool `share`d (sorted by when they were made)."""
        for entity, (ids, times) in shared.items():
            self.ids[entity], self.times[entity] = list(ids), list(times)
            self.when[entity] = dict(zip(ids, times))
            self._unordered.discard(entity)


@dataclass
class Made:
    """One record's input, when it was made, and (for records with a moment) what a return would copy."""

    values: dict[str, Any]
    made_at: dt.datetime
    moment: dt.datetime | None = None
    links: dict[str, Any] | None = None


class RowBuilder:
    """Makes the input of one `create` for an entity, and when the record was made."""

    def __init__(self, maker: ValueMaker, links: LinkPool, main: str | None = None):
        self.maker, self.links, self.rng, self.main = maker, links, maker.rng, main
        self.timeline = maker.timeline
        self.history: dict[str, list[tuple[dt.datetime, dict[str, Any]]]] = {}  # for returns
        self._joined: list[dt.datetime] = []
        self._before: dt.datetime | None = None
        self._entity = ""
        self._picked: list[dt.datetime] = []
        self._layouts: dict[int, tuple[Mapping[str, FieldSpec], frozenset[str], list[str]]] = {}

    def prepare(self, name: str, count: int) -> None:
        """Before making `count` rows of `name`: the main entity's registrations are drawn in order."""
        if name == self.main:
            self._joined = self.timeline.joined(count)
            self._joined.reverse()  # popped from the end: earliest first

    def make(self, name: str, entity: EntitySpec) -> Made:
        fields = entity.fields
        self._entity, self._picked = name, []
        row: dict[str, Any] = {}
        when = moment_field(fields)
        moment = made_at = None
        if when is not None:
            spec = fields[when]
            past_only = meaning_of(when, spec) is Meaning.PAST
            earlier = self._return(name, fields, past_only)
            if earlier is not None:
                row.update(earlier[1])
                row[when] = self.maker.at(spec, earlier[0], row)
            else:
                row[when] = self.maker.value(when, spec, row, fields)
            moment = _as_moment(row[when])
            made_at = self.timeline.recorded_after(moment) if past_only else self.timeline.booked_before(moment)
        elif name == self.main:
            made_at = self._joined.pop() if self._joined else self.timeline.past_moment()
        elif not _required_links(fields):
            made_at = self.timeline.reference()
        # Links point at records made before this one happened, not only before it was typed in: a visit
        # recorded at 11:05 for 10:45 must not pick a patient registered at 11:00.
        self._before = made_at if moment is None or made_at is None else min(made_at, moment)
        values = self._values(fields, row)
        if made_at is None:  # made after the records it needs
            made_at = self.timeline.between(max(self._picked, default=self.timeline.start))
        links = {f: values[f] for f, s in fields.items() if s.type == "link" and f in values}
        return Made(values, made_at, moment, links if when is not None and _required_links(fields) else None)

    def remember(self, name: str, made: Made) -> None:
        """A record was created: later records may be returns after it."""
        if made.moment is not None and made.links is not None:
            self.history.setdefault(name, []).append((made.moment, made.links))

    def forget(self, name: str, count: int) -> None:
        """The last `count` remembered records were rolled back."""
        if count and name in self.history:
            del self.history[name][-count:]

    def _return(
        self, name: str, fields: Mapping[str, FieldSpec], past_only: bool
    ) -> tuple[dt.datetime, dict[str, Any]] | None:
        earlier = self.history.get(name)
        if not earlier or self.rng.random() >= RETURN_SHARE:
            return None
        moment, links = earlier[self.rng.randrange(len(earlier))]
        again = self.timeline.return_after(moment, past_only)
        return None if again is None else (again, dict(links))

    def _values(self, fields: Mapping[str, FieldSpec], row: dict[str, Any]) -> dict[str, Any]:
        compared, order = self._layout(fields)
        for name in order:
            spec = fields[name]
            if name in compared and not spec.required:
                continue  # left empty, a link's `filter:` comparing with it admits the link picked at random
            if name in row or spec.compute or spec.type == "user" or not self._wanted(name, spec):
                continue
            value = self._value(name, spec, row, fields)
            if value is not None:
                row[name] = value
        return row

    def _layout(self, fields: Mapping[str, FieldSpec]) -> tuple[frozenset[str], list[str]]:
        """The fields links' filters compare with, and the order fields are made in: worked out once per entity."""
        known = self._layouts.get(id(fields))
        if known is None or known[0] is not fields:
            order = sorted(fields, key=lambda n: _making_order(fields[n]))  # stable: declared order kept
            known = self._layouts[id(fields)] = (fields, _compared_by_filters(fields), order)
        return known[1], known[2]

    def _wanted(self, name: str, spec: FieldSpec) -> bool:
        if spec.readonly_if:
            return False  # its condition may hold for the row made; a refused change would stop the seeding
        if spec.required or spec.required_if or spec.type == "state" or meaning_of(name, spec) in ALWAYS_KNOWN:
            return True
        if spec.default is not None or spec.visible_if:
            return self.rng.random() < 0.5
        return self.rng.random() < OPTIONAL_SHARE

    def _value(self, name: str, spec: FieldSpec, row: dict[str, Any], fields: Mapping[str, FieldSpec]) -> Any:
        if spec.type == "link":
            if not spec.to:
                return None
            picked = self.links.pick(spec.to, None if spec.to == self._entity else self._before)
            if picked is not None and spec.to != self._entity:
                self._picked.append(self.links.made_at(spec.to, picked))
            return picked
        if spec.type == "table":
            low, high = CHILD_ROWS
            return [
                self._values(spec.fields or {}, {})
                for _ in range(self.rng.randint(low if not spec.required else 1, high))
            ]
        if self.maker.can_make(spec):
            return self.maker.value(name, spec, row, fields)
        return None


def moment_field(fields: Mapping[str, FieldSpec]) -> str | None:
    """The field saying when a record happens: its first booking, due date or past-event date or time."""
    for name, spec in fields.items():
        if spec.type not in ("date", "datetime") or spec.compute:
            continue
        if any(isinstance(limit, str) and limit.strip().isidentifier() for limit in (spec.min, spec.max)):
            continue  # follows another field (`min: starts_on`)
        if meaning_of(name, spec) in (Meaning.SCHEDULE, Meaning.PAST):
            return name
    return None


def _compared_by_filters(fields: Mapping[str, FieldSpec]) -> frozenset[str]:
    """The fields a link's `filter:` reads as `record.x` (`record.department == null or …`)."""
    return frozenset(
        n for spec in fields.values() if spec.type == "link" and spec.filter for n in record_names(spec.filter)
    )


def _required_links(fields: Mapping[str, FieldSpec]) -> bool:
    return any(spec.type == "link" and spec.required for spec in fields.values())


def _as_moment(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value)
    return moment if len(value) > 10 else moment.replace(hour=9)


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
