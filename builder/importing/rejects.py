"""The rejects file: the rows that could not be imported, as they were, plus why, to fix and import again.

It has the input's shape (CSV in the input's encoding and delimiter, or XLSX) and the
same columns, so the same mapping imports the fixed file; the last column says what is
wrong with each row (row number, column, message).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from .converting import RowProblem
from .messages import say
from .reading import EXTRA, Source, SourceRow


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

    def add(self, row: SourceRow, problems: list[RowProblem]) -> None:
        word = say("row", self.locale)
        reason = "; ".join(
            f"{word} {p.row}" + (f" {p.column}" if p.column else "") + f": {p.message}" for p in problems
        )
        cells = [row.cells.get(c) for c in self.source.columns] + list(row.cells.get(EXTRA) or [])
        if self.count == 0:
            self._open()
        self.count += 1
        if self._sheet is not None:
            self._sheet.append([*cells, reason])
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
        if self._book is not None:
            self._book.save(self.path)
            self._book = None
        if self._handle is not None:
            self._handle.close()
            self._handle = None
