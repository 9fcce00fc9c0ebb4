"""Cells as people type them into spreadsheets, made into values a field type takes.

Full-width digits and letters (１３８００１３８０００, typed with a Chinese input method)
become ASCII, spaces around and inside numbers go, and dates come in many shapes:
2026-03-05, 2026/3/5, 2026.3.5, 2026年3月5日, 20260305, an Excel date cell or an Excel
serial number (46086). Nothing here guesses between day-first and month-first: a
format like 05/03/2026 needs the mapping's `format:`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
FULL_WIDTH.update({0x3000: 0x20, 0x00A0: 0x20, 0x3002: 0x2E})  # ideographic space, no-break space, 。
EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 1 is 1900-01-01 (Excel's 1900 leap-year bug included)
SERIAL_RANGE = (1, 2958465)  # 1900-01-01 .. 9999-12-31

_DATE_PARTS = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TIME = re.compile(r"^(\d{1,2})\s*[:时點点]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2})\s*秒?)?\s*分?$")


def text_of(cell: Any) -> str | None:
    """The cell as trimmed half-width text (None when empty); numbers without a needless `.0`."""
    if type(cell) is str:  # most cells: straight to the end
        return cell.translate(FULL_WIDTH).strip() or None
    if cell is None:
        return None
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float):
        return str(int(cell)) if cell.is_integer() else repr(cell)
    if isinstance(cell, dt.datetime):
        return cell.date().isoformat() if cell.time() == dt.time() else cell.isoformat(sep=" ")
    if isinstance(cell, (dt.date, dt.time)):
        return cell.isoformat()
    text = str(cell).translate(FULL_WIDTH).strip()
    return text or None


def compact_number(text: str) -> str:
    """A phone or ID number without the spaces and dashes people put in (138-0013-8000)."""
    return re.sub(r"[\s\-()]", "", text)


def parse_date(cell: Any, formats: list[str] | None = None) -> dt.date | None:
    """A date from any of the shapes above; ValueError if the cell holds none."""
    if cell is None:
        return None
    if isinstance(cell, dt.datetime):
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return excel_serial(cell).date()
    text = text_of(cell)
    if text is None:
        return None
    for form in formats or []:
        try:
            return dt.datetime.strptime(text, form).date()
        except ValueError:
            continue
    head = text.split(" ")[0].split("T")[0] if ("T" in text or " " in text) and not text.endswith("日") else text
    for pattern in (_DATE_PARTS, _COMPACT):
        found = pattern.match(head)
        if found:
            year, month, day = (int(g) for g in found.groups())
            return dt.date(year, month, day)
    if re.fullmatch(r"\d{1,7}(\.\d+)?", text):
        return excel_serial(float(text)).date()
    raise ValueError(text)


def parse_datetime(cell: Any, formats: list[str] | None = None) -> dt.datetime | None:
    """A moment: any date shape above, then an optional time (9:30, 09:30:00, 9时30分)."""
    if cell is None:
        return None
    if isinstance(cell, dt.datetime):
        return cell.replace(microsecond=0)
    if isinstance(cell, dt.date):
        return dt.datetime(cell.year, cell.month, cell.day)
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return excel_serial(cell)
    text = text_of(cell)
    if text is None:
        return None
    for form in formats or []:
        try:
            return dt.datetime.strptime(text, form)
        except ValueError:
            continue
    try:
        return dt.datetime.fromisoformat(text).replace(microsecond=0)
    except ValueError:
        pass
    if re.fullmatch(r"\d{1,7}(\.\d+)?", text):
        return excel_serial(float(text))
    date_part, _, time_part = re.sub(r"(日)\s*", r"\1 ", text).replace("T", " ").partition(" ")
    day = parse_date(date_part)
    if day is None:
        raise ValueError(text)
    moment = dt.datetime(day.year, day.month, day.day)
    time_part = time_part.strip()
    if time_part:
        found = _TIME.match(time_part)
        if not found:
            raise ValueError(text)
        hour, minute, second = (int(g) if g else 0 for g in found.groups())
        moment = moment.replace(hour=hour, minute=minute, second=second)
    return moment


def excel_serial(number: float) -> dt.datetime:
    """An Excel serial date-time (days since 1899-12-30, the fraction is the time of day)."""
    if not SERIAL_RANGE[0] <= number <= SERIAL_RANGE[1]:
        raise ValueError(str(number))
    whole = int(number)
    seconds = round((number - whole) * 86400)
    return dt.datetime.combine(EXCEL_EPOCH + dt.timedelta(days=whole), dt.time()) + dt.timedelta(seconds=seconds)


TRUE_WORDS = {"true", "1", "yes", "y", "t", "on", "是", "有", "对", "√", "✓", "同意", "已同意"}
FALSE_WORDS = {"false", "0", "no", "n", "f", "off", "否", "无", "没有", "不", "×", "✗", "不同意", "未同意"}


def parse_boolean(cell: Any) -> bool | None:
    """Yes or no in either language (是/否, √/×, yes/no, 1/0); ValueError otherwise."""
    if cell is None or isinstance(cell, bool):
        return cell
    text = text_of(cell)
    if text is None:
        return None
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(text)


LIST_SEPARATORS = re.compile(r"[,，、;；/|]")


def split_list(text: str) -> list[str]:
    """Several options in one cell: 糖尿病、高血压 or diabetes, vip."""
    return [part.strip() for part in LIST_SEPARATORS.split(text) if part.strip()]
