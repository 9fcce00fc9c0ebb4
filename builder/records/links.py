"""Linked records as lazy mappings, so `patient.primary_doctor.name` reads only what it needs.

Each operation gets one `LinkLoader`, which caches records by (entity, id): an
expression touching the same link twice costs one query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

Fetch = Callable[[str, int], dict[str, Any] | None]


class LinkLoader:
    """Loads and caches linked records for one operation."""

    def __init__(self, fetch: Fetch, link_targets: Callable[[str], dict[str, str]]):
        self._fetch = fetch
        self._targets = link_targets
        self._cache: dict[tuple[str, int], dict[str, Any] | None] = {}

    def record(self, entity: str, record_id: int) -> dict[str, Any] | None:
        key = (entity, record_id)
        if key not in self._cache:
            self._cache[key] = self._fetch(entity, record_id)
        return self._cache[key]

    def prime(self, entity: str, found: Mapping[int, dict[str, Any] | None]) -> None:
        """Take records read in bulk beforehand (None: no such record), so reading them costs no query."""
        for record_id, values in found.items():
            self._cache[(entity, record_id)] = values

    def wrap(self, entity: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """`values` with each link field replaced by a lazy view of the linked record."""
        wrapped = dict(values)
        for name, target in self._targets(entity).items():
            if isinstance(values.get(name), int):
                wrapped[name] = LinkedRecord(self, target, values[name])
        return wrapped


class LinkedRecord(Mapping):
    """A record behind a link; loads on first access; compares equal to its id."""

    def __init__(self, loader: LinkLoader, entity: str, record_id: int):
        self._loader, self._entity, self.id = loader, entity, record_id
        self._values: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._values is None:
            raw = self._loader.record(self._entity, self.id) or {}
            self._values = self._loader.wrap(self._entity, raw)
        return self._values

    def __getitem__(self, key: str) -> Any:
        if key == "id":
            return self.id
        return self._load()[key]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LinkedRecord):
            return (self._entity, self.id) == (other._entity, other.id)
        return self.id == other

    def __hash__(self) -> int:
        return hash((self._entity, self.id))

    def __repr__(self) -> str:
        return f"<{self._entity} {self.id}>"
