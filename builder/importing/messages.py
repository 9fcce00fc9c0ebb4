"""What an import says about a row, in the importing person's language.

Messages name no cell value except a link's natural key (a doctor's name), so a report
or a log of problems never becomes a copy of patients' data.
"""

from __future__ import annotations

from typing import Any

from engines.forms import message

TEXTS: dict[str, dict[str, str]] = {
    "invalid_date": {
        "en": "Not a date (write 2026-03-05, 2026/3/5 or 2026年3月5日, or give the column a `format:`).",
        "zh-CN": "不是日期(请写成 2026-03-05、2026/3/5 或 2026年3月5日,或在映射中为该列指定 format)。",
    },
    "invalid_datetime": {
        "en": "Not a date and time (write 2026-03-05 09:30).",
        "zh-CN": "不是日期时间(请写成 2026-03-05 09:30)。",
    },
    "invalid_boolean": {"en": "Not yes or no (是/否, yes/no, 1/0).", "zh-CN": "不是“是”或“否”(是/否、yes/no、1/0)。"},
    "extra_cells": {
        "en": "The row has {count} more cell(s) than the header: a shifted or broken row.",
        "zh-CN": "该行比表头多 {count} 个单元格:行内容错位或损坏。",
    },
    "link_missing": {"en": "No {entity} record is “{value}”.", "zh-CN": "找不到“{value}”对应的{entity}记录。"},
    "link_ambiguous": {
        "en": "Several {entity} records have {field} “{value}”; use a unique field.",
        "zh-CN": "有多条{entity}记录的 {field} 为“{value}”,请改用唯一的字段。",
    },
    "link_unreadable": {
        "en": "You may not read {field} of {entity} records, so links cannot be found by it.",
        "zh-CN": "您无权读取{entity}记录的 {field},无法据此查找关联记录。",
    },
    "duplicate": {"en": "Same {fields} as record {record}.", "zh-CN": "与记录 {record} 的 {fields} 相同。"},
    "duplicate_in_file": {
        "en": "Same {fields} as row {row} of this file.",
        "zh-CN": "与本文件第 {row} 行的 {fields} 相同。",
    },
    "conflict": {
        "en": "The record changed while it was imported; import the row again.",
        "zh-CN": "导入时记录已被修改,请重新导入该行。",
    },
    "not_allowed": {"en": "Not allowed: {reason}", "zh-CN": "无权操作:{reason}"},
    "errors_column": {"en": "import errors", "zh-CN": "导入错误"},
    "row": {"en": "row", "zh-CN": "行"},
    "child_cell": {"en": "{source} row {row} {column}", "zh-CN": "{source} 第 {row} 行 {column}"},
    "child_key_taken": {
        "en": "Row {row} of this file has the same {column}; its {source} rows cannot belong to both.",
        "zh-CN": "本文件第 {row} 行的 {column} 与此相同,{source} 中的行无法确定属于哪一行。",
    },
    "child_parent_rejected": {
        "en": "Its row {row} of the main file was rejected.",
        "zh-CN": "其所属的主文件第 {row} 行未能导入。",
    },
}


def say(code: str, locale: str, **params: Any) -> str:
    """The text for `code` in `locale` (zh-* -> zh-CN, else English); field-type codes fall back to forms'."""
    texts = TEXTS.get(code)
    if texts is None:
        return message(code, locale, **params)
    text = texts["zh-CN"] if locale.lower().startswith("zh") else texts["en"]
    return text.format(**params)
