"""Exports a person opens in a spreadsheet: CSV and XLSX, labels in their language, never a formula.

Used by the API (lists and reports), the `crm report run` command and scheduled
report mails, so every way out writes the same cells.
"""

from .cells import safe_text
from .report_sheet import report_sheet
from .writers import Sheet, csv_chunks, write_xlsx

__all__ = ["Sheet", "csv_chunks", "report_sheet", "safe_text", "write_xlsx"]
