"""A per-process cache of report results, invalidated by the tables' change counters.

A key holds everything a result depends on: the report, its parameters, the
page asked for, today's date (periods such as `this_month` move), who is asking
(the role; and the account's own context when a row filter of the role applies
to a table the report reads, so two doctors never share "my patients"), and the
change counters (`crm_table_version`) of every table the report may read: its
source and every entity reachable through links from it. A write to any of them
moves a counter, so the next run misses and runs the query again; the stale
entry is never read again and ages out.

The counters live in the database and are read on each run (one indexed
select), so a write made by another process invalidates here too; the cache
itself is per process, a bounded LRU. Results with many rows are not kept (they
are pages or exports, which stream).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import replace

from engines.reports import ReportResult

DEFAULT_ENTRIES = 256
MAX_CACHED_ROWS = 5000


class ReportCache:
    """Bounded LRU of results; thread-safe (pages run reports in worker threads)."""

    def __init__(self, entries: int = DEFAULT_ENTRIES, max_rows: int = MAX_CACHED_ROWS):
        self.entries = entries
        self.max_rows = max_rows
        self._items: OrderedDict[Hashable, ReportResult] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> ReportResult | None:
        """A copy of the cached result (callers may change their rows), or None."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
        return _copy(found)

    def put(self, key: Hashable, result: ReportResult) -> None:
        if self.entries <= 0 or len(result.rows) > self.max_rows:
            return
        with self._lock:
            self._items[key] = _copy(result)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def _copy(result: ReportResult) -> ReportResult:
    return replace(
        result,
        rows=[dict(row) for row in result.rows],
        totals=None if result.totals is None else dict(result.totals),
        notes=list(result.notes),
    )
