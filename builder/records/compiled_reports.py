"""Reports compiled once per viewer: a run of an unchanged report does not compile it again.

Compiling a report for a viewer (grants, row filters, the titles it may read, the
statement built with SQLAlchemy and its cache key) costs about 2.5 ms of CPU, as
much as a small report's statement takes to run. What it gives depends only on
the report's definition, its parameters, today's date (periods such as
`last_3_months` move), the dialect and who asks: the role, and the account's own
context that row filters such as `doctor == user.id` read. All of these are the
key; the definition by identity (a report saved by the designer or edited by hand
is a new object, so a new key, and the entry keeps the old one alive so its id is
never reused). The cache belongs to the record service, which a migration
replaces (builder/following.py): a new blueprint starts with an empty cache.

What is kept is the compiled statement, never a result: every run still sends
its statement, sees the data as it is and is audited. Drafts (the designer) are
not kept: each keystroke is another report.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

DEFAULT_ENTRIES = 256


class CompiledReports:
    """Bounded LRU of prepared reports (records/reporting.py's PreparedReport); thread-safe."""

    def __init__(self, entries: int = DEFAULT_ENTRIES):
        self.entries = entries
        self._items: OrderedDict[Hashable, tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, spec: Any) -> Any | None:
        """The prepared report for `key`, if it was prepared from this very `spec` object."""
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] is not spec:
                return None
            self._items.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, spec: Any, prepared: Any) -> None:
        with self._lock:
            self._items[key] = (spec, prepared)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
