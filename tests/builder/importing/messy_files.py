"""Spreadsheets as clinics really send them, written by the tests themselves.

`clinic_patients_csv` is the main one: 300 patients exported by an old system as GBK
with a stray UTF-8 byte-order mark, Chinese headers, 男/女, three date shapes, phone
numbers in full-width digits or with spaces, a doctor by name, a broken row every 100
(rows 101, 201, 301) and duplicates (row 12 of a patient already in the database,
rows 152 and 252 repeating rows 52 and 62).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from pathlib import Path

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
HEADER = ["姓名", "性别", "出生日期", "手机", "主治医生", "备注"]
EXISTING_PHONE = "13800000010"  # the phone of row 12 (i = 10), already a patient before the import


def phone_of(i: int) -> str:
    return f"13800{i:06d}"


def birth_of(i: int) -> dt.date:
    return dt.date(1950 + i % 50, 1 + i % 12, 1 + i % 28)


def patient_cells(i: int) -> list[str]:
    born = birth_of(i)
    shape = i % 3
    birth = (
        f"{born.year}/{born.month}/{born.day}"
        if shape == 0
        else f"{born.year}年{born.month}月{born.day}日"
        if shape == 1
        else born.isoformat()
    )
    phone = phone_of({150: 50, 250: 60}.get(i, i))
    if i % 7 == 0:
        phone = phone.translate(FULL_WIDTH)
    elif i % 7 == 1:
        phone = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    cells = [f" 患者{i:03d} ", "男" if i % 2 == 0 else "女", birth, phone, "Dr. Li" if i % 2 == 0 else "Dr. Zhao", ""]
    if i == 99:
        cells[3] = "12345"  # row 101: not a phone number
    if i == 199:
        cells[2] = "1980/13/45"  # row 201: not a date
    if i == 299:
        cells.append("shifted")  # row 301: one cell too many
    return cells


def clinic_patients_rows() -> list[list[str]]:
    return [HEADER] + [patient_cells(i) for i in range(300)]


def clinic_patients_csv(path: Path) -> Path:
    """The 300-patient file: GBK bytes after a UTF-8 byte-order mark."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(clinic_patients_rows())
    path.write_bytes(codecs.BOM_UTF8 + buffer.getvalue().encode("gbk"))
    return path


MAPPING = """
entity: patient
fields:
  name: 姓名
  gender: 性别
  birth_date: 出生日期
  phone: 手机
  primary_doctor: {column: 主治医生, by: name}
match: [phone]
on_duplicate: skip
"""

EXPECTED_PROBLEMS = [
    (101, "手机", "Enter a valid phone number."),
    (201, "出生日期", "Not a date (write 2026-03-05, 2026/3/5 or 2026年3月5日, or give the column a `format:`)."),
    (301, "", "The row has 1 more cell(s) than the header: a shifted or broken row."),
]


def merged_header_xlsx(path: Path, extra: list[list] | None = None) -> Path:
    """Two header rows: 患者 over 姓名/性别, 出生日期 merged down, 联系方式 over 手机/邮箱.

    Birth dates as real Excel date cells and as bare serial numbers; phones as number
    cells and as full-width text.
    """
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["患者", None, "出生日期", "联系方式", None])
    sheet.append(["姓名", "性别", None, "手机", "邮箱"])
    sheet.merge_cells("A1:B1")
    sheet.merge_cells("C1:C2")
    sheet.merge_cells("D1:E1")
    sheet.append(["王芳", "女", dt.datetime(1980, 3, 5), 13900139000, "wf@example.com"])
    sheet.append(["李雷", "男", 31382, "１３９００１３９００１", None])  # 31382: Excel's serial for 1985-12-01
    sheet.append([None, None, None, None, None])  # an empty row is skipped, its number kept
    sheet.append(["韩梅梅", "女", "1990年7月1日", "139-0013-9002", "hmm@example.com"])
    for row in extra or []:
        sheet.append(row)
    book.save(path)
    return path
