"""Cells a spreadsheet shows as written, never runs: formula injection (CSV and XLSX alike).

A text starting with `=`, `+`, `-`, `@`, a tab or a carriage return would be
run as a formula by Excel or WPS (`=HYPERLINK(...)` in a patient's name), so it
gets a leading quote; a number stays a number.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text: str) -> str:
    """`text` as a spreadsheet cannot run it."""
    if text.startswith(FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def safe_value(value: Any) -> Any:
    """A cell value: numbers as they are, texts made safe, empty as empty."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return value
    return safe_text(str(value))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
