"""Responses for exports: CSV streamed as it is read, XLSX written to a temporary file and then streamed.

Neither holds the export in memory: CSV lines go out in chunks of about 64 KB as
the rows are read; an XLSX workbook is written row by row to a temporary file
(openpyxl write-only mode) in a worker thread, then sent in chunks and deleted.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from builder.exports import Sheet, csv_chunks, write_xlsx

CHUNK = 64 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _disposition(filename: str) -> dict[str, str]:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"}


def _csv_bytes(sheet: Sheet) -> Iterator[bytes]:
    pending: list[str] = []
    size = 0
    for line in csv_chunks(sheet):
        pending.append(line)
        size += len(line)
        if size >= CHUNK:
            yield "".join(pending).encode("utf-8")
            pending, size = [], 0
    if pending:
        yield "".join(pending).encode("utf-8")


def csv_response(sheet: Sheet, filename: str) -> StreamingResponse:
    """The sheet as CSV, read and sent as it goes (the rows iterator is consumed in a worker thread)."""
    return StreamingResponse(_csv_bytes(sheet), media_type="text/csv; charset=utf-8", headers=_disposition(filename))


def _file_chunks(handle: IO[bytes]) -> Iterator[bytes]:
    try:
        handle.seek(0)
        while chunk := handle.read(CHUNK):
            yield chunk
    finally:
        handle.close()  # a TemporaryFile is gone once closed


async def xlsx_response(sheet: Sheet, filename: str) -> StreamingResponse:
    """The sheet as an XLSX workbook, written to a temporary file first (a zip's directory comes last)."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _file_chunks once sent
    try:
        await run_in_threadpool(write_xlsx, sheet, handle)
    except BaseException:
        handle.close()
        raise
    return StreamingResponse(_file_chunks(handle), media_type=XLSX_TYPE, headers=_disposition(filename))
