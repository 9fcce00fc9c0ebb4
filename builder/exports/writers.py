"""Write a sheet (headers, then rows as they come) as CSV chunks or as an XLSX workbook.

Both take the rows as an iterator and hold one row at a time: CSV is yielded
line by line (a streaming response sends it as it is read); XLSX uses
openpyxl's write-only mode, which appends each row to a temporary file, so a
million rows cost a file on disk, not memory. The workbook is sent once written
(an XLSX is a zip whose directory comes last).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from .cells import safe_value

PERCENT_FORMAT = "0.0%"
SHEET_TITLE_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})


@dataclass
class Sheet:
    """What to write: a title, the header labels, rows of cell values, per-column formats (percent...)."""

    title: str
    headers: list[str]
    rows: Iterable[Sequence[Any]]
    formats: dict[int, str] = field(default_factory=dict)  # column index -> number, percent or integer


def csv_chunks(sheet: Sheet) -> Iterator[str]:
    """The sheet as UTF-8 CSV text with a BOM (Excel reads Chinese right), one line per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values: Sequence[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if v is None else safe_value(v) for v in values])
        return buffer.getvalue()

    yield "\ufeff" + line([safe_value(h) for h in sheet.headers])
    for row in sheet.rows:
        yield line(row)


def write_xlsx(sheet: Sheet, target: IO[bytes]) -> int:
    """Write the sheet as an XLSX workbook to `target` (a binary file); the number of rows written."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    ws = book.create_sheet((sheet.title.translate(SHEET_TITLE_FORBIDDEN).strip() or "Sheet")[:31])
    bold = Font(bold=True)
    header = []
    for text in sheet.headers:
        cell = WriteOnlyCell(ws, value=safe_value(text))
        cell.font = bold
        header.append(cell)
    ws.append(header)
    count = 0
    for row in sheet.rows:
        cells: list[Any] = []
        for index, value in enumerate(row):
            value = safe_value(value)
            if isinstance(value, str):
                cell = WriteOnlyCell(ws, value=value)
                cell.data_type = "s"  # never a formula, whatever the text
                cells.append(cell)
            elif value is not None and sheet.formats.get(index) == "percent":
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = PERCENT_FORMAT
                cells.append(cell)
            else:
                cells.append(value)
        ws.append(cells)
        count += 1
    book.save(target)
    return count
