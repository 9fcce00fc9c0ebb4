"""The rejects file: the rows that could not be imported, as they were, plus why, to fix and import again.

It has the input's shape (CSV in the input's encoding and delimiter, or XLSX) and the
same columns, so the same mapping imports the fixed file; the last column says what is
wrong with each row (row number, column, message). The child rows (`children:`) of a
rejected row go with it: to a sheet of the same name in the rejects workbook when they
came from a sheet of the main workbook, else to their own file's rejects file.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .converting import RowProblem
from .messages import say
from .reading import EXTRA, Source, SourceRow

if TYPE_CHECKING:
    from .children import ChildSheet


def rejects_path_for(source: Path) -> Path:
    """patients.csv -> patients.rejects.csv beside it."""
    return source.with_name(f"{source.stem}.rejects{source.suffix or '.csv'}")


class RejectsFile:
    """Opened on the first rejected row, so a clean import leaves no empty file behind."""

    def __init__(self, path: Path, source: Source, locale: str):
        self.path = path
        self.source = source
        self.locale = locale
        self.count = 0
        self._csv: Any = None
        self._handle: Any = None
        self._book: Any = None
        self._sheet: Any = None
        self._child_sheets: dict[str, Any] = {}  # sheet name -> a sheet of this workbook
        self._child_files: dict[str, RejectsFile] = {}  # table field -> its own rejects file

    def add(self, row: SourceRow, problems: list[RowProblem]) -> None:
        if self.count == 0:
            self._open()
        self.count += 1
        self._write(self._sheet, self.source, row, problems)

    def add_child(self, sheet: ChildSheet, row: SourceRow, problems: list[RowProblem]) -> None:
        """A child row of a rejected row, beside it (add() its parent first)."""
        name = sheet.rule.sheet
        if self._book is not None and sheet.rule.file is None and name:
            if name not in self._child_sheets:
                self._child_sheets[name] = self._book.create_sheet(name)
                self._child_sheets[name].append([*sheet.source.columns, say("errors_column", self.locale)])
            self._write(self._child_sheets[name], sheet.source, row, problems)
            return
        if sheet.table not in self._child_files:
            self._child_files[sheet.table] = RejectsFile(rejects_path_for(sheet.source.path), sheet.source, self.locale)
        self._child_files[sheet.table].add(row, problems)

    @property
    def child_paths(self) -> list[Path]:
        """The children's own rejects files written (child sheets of a workbook are in this one)."""
        return [f.path for f in self._child_files.values() if f.count]

    def _write(self, sheet: Any, source: Source, row: SourceRow, problems: list[RowProblem]) -> None:
        word = say("row", self.locale)
        reason = "; ".join(
            f"{word} {p.row}" + (f" {p.column}" if p.column else "") + f": {p.message}" for p in problems
        )
        cells = [row.cells.get(c) for c in source.columns] + list(row.cells.get(EXTRA) or [])
        if sheet is not None:
            sheet.append([*cells, reason])
        else:
            self._csv.writerow(["" if c is None else c for c in cells] + [reason])

    def _open(self) -> None:
        header = [*self.source.columns, say("errors_column", self.locale)]
        if self.source.kind == "xlsx":
            from openpyxl import Workbook

            self._book = Workbook(write_only=True)
            self._sheet = self._book.create_sheet("rejects")
            self._sheet.append(header)
            return
        encoding = self.source.encoding or "utf-8"
        encoding = "utf-8-sig" if encoding == "utf-8" else encoding  # a mark, so Excel reads UTF-8
        self._handle = self.path.open("w", encoding=encoding, newline="")
        self._csv = csv.writer(self._handle, delimiter=self.source.delimiter or ",")
        self._csv.writerow(header)

    def close(self) -> None:
        for child in self._child_files.values():
            child.close()
        if self._book is not None:
            self._book.save(self.path)
            self._book = None
        if self._handle is not None:
            self._handle.close()
            self._handle = None
