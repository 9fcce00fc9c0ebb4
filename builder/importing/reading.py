"""Reading a spreadsheet a clinic exported from somewhere: CSV in any common encoding, or XLSX.

Old systems in China export GBK (often with a stray UTF-8 byte-order mark), Excel saves
UTF-16 "Unicode text" with tabs, newer tools UTF-8: the encoding is detected from the
first bytes, the delimiter sniffed. XLSX is streamed (openpyxl read-only), and a header
row whose cells are merged over several columns (a group title over sub-headers) is read
as two header rows. Rows are numbered as a spreadsheet program shows them (the header
is row 1), so a report's "row 57" is the row a person opens.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ImportFailed

SAMPLE_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
UTF8_BOM = codecs.BOM_UTF8


@dataclass
class SourceRow:
    """One data row: its row number in the file and its cells by column name (None: empty)."""

    row: int
    cells: dict[str, Any]


@dataclass
class Source:
    """An opened file: its columns, how it was read, and its rows (read once, streamed)."""

    path: Path
    kind: str  # csv | xlsx
    columns: list[str]
    rows: Iterator[SourceRow]
    encoding: str | None = None
    delimiter: str | None = None
    header_rows: int = 1
    total_hint: int | None = None  # about how many data rows (for a progress bar)
    _closers: list[Any] = field(default_factory=list, repr=False)

    def close(self) -> None:
        for closer in self._closers:
            closer()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_source(path: Path | str, sheet: str | None = None) -> Source:
    """Open a CSV or XLSX file; ImportFailed says plainly why a file cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"there is no file {path}")
    with path.open("rb") as probe:
        head = probe.read(4)
    if head.startswith(b"PK\x03\x04") or path.suffix.lower() in (".xlsx", ".xlsm"):
        return _open_xlsx(path, sheet)
    return _open_csv(path)


def sheet_names(path: Path | str) -> list[str]:
    """The sheets of an XLSX workbook in their order; none for a CSV file."""
    path = Path(path)
    with path.open("rb") as probe:
        head = probe.read(4)
    if not (head.startswith(b"PK\x03\x04") or path.suffix.lower() in (".xlsx", ".xlsm")):
        return []
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFailed(f"{path.name} is not an Excel .xlsx workbook ({exc})") from None
    try:
        return list(book.sheetnames)
    finally:
        book.close()


# -- CSV ---------------------------------------------------------------------------------
def detect_encoding(sample: bytes) -> tuple[str, int]:
    """(codec, bytes of byte-order mark to skip) for a file starting with `sample`.

    A UTF-8 mark followed by bytes that are not UTF-8 is a GBK file some tool marked
    wrongly: the mark is skipped and the rest read as GB18030 (a superset of GBK).
    """
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", 0
    bom = len(UTF8_BOM) if sample.startswith(UTF8_BOM) else 0
    body = sample[bom:]
    if body and body.count(b"\x00") > len(body) // 4:  # UTF-16 without a mark: every other byte is 0
        return ("utf-16-le" if body[1::2].count(b"\x00") > body[0::2].count(b"\x00") else "utf-16-be"), 0
    try:
        codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
        return "utf-8", bom
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(body, final=False)
        return "gb18030", bom
    except UnicodeDecodeError:
        raise ImportFailed("the file is neither UTF-8, UTF-16 nor GBK/GB18030 text; save it as CSV UTF-8") from None


def _open_csv(path: Path) -> Source:
    raw = path.open("rb")
    sample = raw.read(SAMPLE_BYTES)
    encoding, skip = detect_encoding(sample)
    head = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample[skip:], final=False)
    delimiter = _sniff(head)
    raw.seek(skip)
    text = io.TextIOWrapper(raw, encoding=encoding, newline="", errors="strict")
    reader = csv.reader(text, delimiter=delimiter)
    number = 0
    header: list[str] | None = None
    for cells in _decoded(reader):
        number += 1
        if any(c.strip() for c in cells):
            header = cells
            break
    if header is None:
        raw.close()
        raise ImportFailed("the file has no header row")
    columns = unique_names(header)
    start = number

    def rows() -> Iterator[SourceRow]:
        position = start
        for cells in _decoded(reader):
            position += 1
            if not any(c.strip() for c in cells):
                continue
            values: dict[str, Any] = {c: (cells[i] if i < len(cells) else None) for i, c in enumerate(columns)}
            if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns) :]):
                values[EXTRA] = cells[len(columns) :]
            yield SourceRow(position, values)

    return Source(path, "csv", columns, rows(), encoding, delimiter, 1, _line_count(path) - start, [text.close])


def _line_count(path: Path) -> int:
    """Lines in the file, counted in binary (fast; quoted line breaks make it a slight overestimate)."""
    count = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            count += block.count(b"\n")
    return count + 1


EXTRA = "\x00extra"  # cells beyond the header: a broken row, reported as such


def _decoded(reader: Any) -> Iterator[list[str]]:
    try:
        yield from reader
    except UnicodeDecodeError as exc:
        raise ImportFailed(f"the file is not valid text in its encoding near byte {exc.start}") from None
    except csv.Error as exc:
        raise ImportFailed(f"the CSV file cannot be read at line {reader.line_num}: {exc}") from None


def _sniff(head: str) -> str:
    lines = head.splitlines()[:20]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = lines[0] if lines else ""
        return max(DELIMITERS, key=first.count) if any(d in first for d in DELIMITERS) else ","


def unique_names(header: list[Any]) -> list[str]:
    """Column names: trimmed, blanks named by position, repeats numbered (电话, 电话 (2))."""
    names: list[str] = []
    for i, cell in enumerate(header, start=1):
        name = re.sub(r"\s+", " ", str(cell if cell is not None else "")).strip() or f"column {i}"
        base, n = name, 2
        while name in names:
            name, n = f"{base} ({n})", n + 1
        names.append(name)
    return names


# -- XLSX --------------------------------------------------------------------------------
def _open_xlsx(path: Path, sheet: str | None) -> Source:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFailed(f"{path.name} is not an Excel .xlsx workbook ({exc})") from None
    if sheet is not None and sheet not in book.sheetnames:
        book.close()
        raise ImportFailed(f"the workbook has no sheet `{sheet}` (it has: {', '.join(book.sheetnames)})")
    ws = book[sheet] if sheet else book.worksheets[0]
    merges = _merged_ranges(ws)
    stream = ws.iter_rows(values_only=True)
    number = 0
    first: tuple | None = None
    for cells in stream:
        number += 1
        if any(_filled(c) for c in cells):
            first = cells
            break
    if first is None:
        book.close()
        raise ImportFailed("the sheet has no header row")
    header = list(first)
    header_rows = 1
    across = [m for m in merges if m[0] == number and m[2] > m[1]]  # (row, first col, last col, last row)
    if across:  # a group title over sub-headers: the next row names the columns
        second = list(next(stream, ()) or ())
        header_rows = 2
        header = _two_row_header(header, second, merges, number)
        number += 1
    else:
        header = _fill_merged(header, merges, number)
    while header and not _filled(header[-1]):
        header.pop()
    columns = unique_names(header)
    start = number

    def rows() -> Iterator[SourceRow]:
        position = start
        for cells in stream:
            position += 1
            if not any(_filled(c) for c in cells):
                continue
            values = {c: (cells[i] if i < len(cells) else None) for i, c in enumerate(columns)}
            extra = [c for c in cells[len(columns) :] if _filled(c)]
            if extra:
                values[EXTRA] = extra
            yield SourceRow(position, values)

    total = (ws.max_row - start) if isinstance(ws.max_row, int) else None
    return Source(path, "xlsx", columns, rows(), None, None, header_rows, total, [book.close])


def _filled(cell: Any) -> bool:
    return cell is not None and (not isinstance(cell, str) or bool(cell.strip()))


def _merged_ranges(ws: Any) -> list[tuple[int, int, int, int]]:
    """(first row, first column, last column, last row) of each merged range, read from the sheet's XML.

    openpyxl's read-only sheets do not expose merges, and they sit after the cells in the
    file, so the XML is streamed once more and only `mergeCell` elements are kept.
    """
    from xml.etree.ElementTree import iterparse

    from openpyxl.utils.cell import range_boundaries

    found: list[tuple[int, int, int, int]] = []
    try:
        source = ws._get_source()
    except (AttributeError, KeyError):
        return found
    with source:
        for _event, element in iterparse(source, events=("end",)):
            if element.tag.endswith("}mergeCell"):
                ref = element.get("ref")
                if ref:
                    min_col, min_row, max_col, max_row = range_boundaries(ref)
                    found.append((min_row, min_col, max_col, max_row))
            if element.tag.endswith("}row"):
                element.clear()
    return found


def _fill_merged(header: list[Any], merges: list[tuple[int, int, int, int]], row: int) -> list[Any]:
    filled = list(header)
    for first_row, first_col, last_col, _last_row in merges:
        if first_row == row:
            for col in range(first_col + 1, last_col + 1):
                while len(filled) < col:
                    filled.append(None)
                filled[col - 1] = filled[first_col - 1] if first_col - 1 < len(filled) else None
    return filled


def _two_row_header(top: list[Any], sub: list[Any], merges: list[tuple[int, int, int, int]], row: int) -> list[Any]:
    """One name per column from a group row and a sub-header row: the sub-header, else the group's name.

    A sub-header used under two groups (电话 under 患者 and under 联系人) becomes `group/sub`.
    """
    groups = _fill_merged(top, merges, row)
    width = max(len(groups), len(sub))
    groups += [None] * (width - len(groups))
    sub = sub + [None] * (width - len(sub))
    names = [_text(s) if _filled(s) else _text(g) for g, s in zip(groups, sub, strict=True)]
    for i, name in enumerate(names):
        if name and names.count(name) > 1 and _filled(sub[i]) and _filled(groups[i]):
            names[i] = f"{_text(groups[i])}/{name}"
    return names


def _text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, dt.datetime):
        return cell.isoformat()
    return str(cell).strip()
