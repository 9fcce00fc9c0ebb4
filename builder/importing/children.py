"""Child rows of a `table` field (a visit's prescriptions) from a second sheet or file.

Old systems export one visit a row and its prescriptions on another sheet, or in a
second CSV, each prescription naming its visit by a number the visits sheet has too
(or by the visit's row number). The child sheet is read once before the main rows and
its rows grouped by that key; each main row then takes its group as the table field's
value, so a visit and its prescriptions are one write of the record service: a bad
prescription rejects its visit (both go to the rejects files), never half of it.
Child rows whose key no main row has are reported as orphans, by their row number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..records import Actor, RecordService
from .converting import RowConverter, RowProblem
from .errors import ImportFailed
from .mapping import ChildRule, ImportMapping
from .messages import say
from .normalising import text_of
from .reading import Source, SourceRow, open_source
from .store import file_digest


@dataclass
class ChildSheet:
    """One table field's rows, grouped by their parent's key, and which parent took which group."""

    table: str  # the table field
    rule: ChildRule
    label: str  # the sheet or file, as messages name it
    source: Source  # kept (rows consumed) for its columns, encoding and kind: the child rejects file's shape
    groups: dict[str, list[SourceRow]]
    rows_read: int
    converter: RowConverter
    claimed: dict[str, int] = field(default_factory=dict)  # key -> the main row that took its rows
    attached: int = 0  # child rows written with their parent (committed batches only)

    def key_of(self, row: SourceRow) -> str | None:
        """The key a main row's children carry: its key column's cell, or its row number."""
        column = self.rule.parent.parent_column()
        return str(row.row) if column is None else text_of(row.cells.get(column))

    def take(self, row: SourceRow) -> tuple[list[SourceRow], int | None]:
        """The child rows of main row `row`; or none and the earlier row of the file with the same key."""
        key = self.key_of(row)
        if key is None:
            return [], None
        rows = self.groups.get(key, [])
        earlier = self.claimed.get(key)
        if earlier is not None and earlier != row.row and rows:
            return [], earlier
        self.claimed[key] = row.row
        return rows, None

    def rows_of(self, row: SourceRow) -> list[SourceRow]:
        """The child rows main row `row` took (none if another row holds its key)."""
        key = self.key_of(row)
        return self.groups.get(key, []) if key is not None and self.claimed.get(key) == row.row else []

    def key_column(self) -> str:
        """The main file's column that keys the children (or the row number, said as such)."""
        return self.rule.parent.parent_column() or self.rule.parent.column

    def orphans(self) -> list[int]:
        """Child rows no main row of the file claimed (their key is in no row, or a mistyped one)."""
        return sorted(r.row for key, rows in self.groups.items() if key not in self.claimed for r in rows)

    def as_dict(self) -> dict[str, Any]:
        orphans = self.orphans()
        return {
            "field": self.table,
            "source": self.label,
            "rows_read": self.rows_read,
            "attached": self.attached,
            "orphans": len(orphans),
            "orphan_rows": orphans[:200],
        }


def open_children(
    records: RecordService,
    actor: Actor,
    mapping: ImportMapping,
    entities: dict[str, Any],
    main: Path,
    main_sheet: str | None,
) -> list[ChildSheet]:
    """Read every `children:` sheet of the mapping, grouped by parent key; ImportFailed if one cannot work."""
    sheets = []
    for name, rule in mapping.children.items():
        path = main.parent / rule.file if rule.file else main
        if rule.file is None and main.suffix.lower() not in (".xlsx", ".xlsm"):
            raise ImportFailed(f"children: `{name}`: a sheet needs an Excel workbook; for a CSV give `file:`")
        if rule.file is None and rule.sheet == main_sheet:
            raise ImportFailed(f"children: `{name}`: its sheet `{rule.sheet}` is the main sheet")
        if rule.file and not path.is_file():
            raise ImportFailed(f"children: `{name}`: there is no file {rule.file} beside {main.name}")
        if rule.file and rule.sha256 and file_digest(path) != rule.sha256:
            raise ImportFailed(f"children: `{name}`: {rule.file} is not the file this import read (it changed)")
        source = open_source(path, rule.sheet)
        try:
            missing = [r.column for r in rule.fields.values() if r.column not in source.columns]
            if rule.parent.column not in source.columns:
                missing.insert(0, rule.parent.column)
            label = rule.sheet if rule.file is None else Path(rule.file).name
            if missing:
                raise ImportFailed(
                    f"children: `{name}`: {label} has no column "
                    + ", ".join(f"`{c}`" for c in missing)
                    + f" (columns: {', '.join(source.columns)})"
                )
            groups: dict[str, list[SourceRow]] = {}
            count = 0
            for row in source.rows:
                count += 1
                key = text_of(row.cells.get(rule.parent.column))
                groups.setdefault(key or "", []).append(row)
        finally:
            source.close()
        converter = RowConverter(records, actor, mapping, entities, table=name)
        sheets.append(ChildSheet(name, rule, label or name, source, groups, count, converter))
    return sheets


def with_child_digests(mapping: ImportMapping, main: Path) -> ImportMapping:
    """The mapping with each child file's SHA-256, as a run stores it for its resume."""
    children = {
        name: rule.model_copy(update={"sha256": file_digest(main.parent / rule.file)}) if rule.file else rule
        for name, rule in mapping.children.items()
    }
    return mapping.model_copy(update={"children": children})


def child_values(
    sheet: ChildSheet, parent: SourceRow, rows: list[SourceRow], conn: sa.Connection, locale: str
) -> tuple[list[dict[str, Any]], list[RowProblem]]:
    """The table field's value for one main row, and its child rows' problems (said as the parent row's)."""
    values: list[dict[str, Any]] = []
    problems: list[RowProblem] = []
    for row in rows:
        converted, found = sheet.converter.convert(row, conn)
        values.append(converted)
        problems += [child_problem(sheet, parent.row, row.row, p.column, p.message, locale) for p in found]
    return values, problems


def child_problem(sheet: ChildSheet, parent: int, child: int, column: str, message: str, locale: str) -> RowProblem:
    """A child row's problem, reported on its parent's row: `处方 row 7 剂量: …`."""
    where = say("child_cell", locale, source=sheet.label, row=child, column=column).rstrip()
    return RowProblem(parent, where, message)
