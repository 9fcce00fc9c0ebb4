"""A first mapping guessed from the file's headers, for a person to check and edit.

A header matches a field by its name or its label in any language of the blueprint
(姓名 -> name), or by words clinics commonly use for a field of that type (手机/电话
-> a phone field). A select column's cells that are neither options nor their labels
get an empty entry in `values:` to fill in; a link is found by the target's title
field; duplicates are matched on the entity's unique fields, then on name and birth
date when it has both. A second sheet or file is matched to the entity's `table` field
whose sub-fields its headers name (the same way), and joined to the main file by the
column both files share (a visit number), else a row-number column (行号).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from engines.forms import EntitySpec

from .errors import ImportFailed
from .mapping import ChildRule, ColumnRule, ImportMapping, ParentKey
from .normalising import split_list, text_of
from .reading import open_source, sheet_names

SAMPLE_ROWS = 500

# Words people head columns with, by field type and by common field names.
TYPE_WORDS: dict[str, tuple[str, ...]] = {
    "phone": ("手机", "手机号", "手机号码", "电话", "电话号码", "联系电话", "联系方式")
    + ("mobile", "tel", "telephone", "cell", "phone"),
    "cn_resident_id": ("身份证", "身份证号", "身份证号码", "证件号", "证件号码", "idcard", "idnumber", "residentid"),
    "email": ("邮箱", "电子邮件", "电邮", "mail", "email"),
}
NAME_WORDS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字", "患者姓名", "客户姓名", "fullname", "patientname"),
    "gender": ("性别", "sex"),
    "birth_date": ("出生日期", "生日", "出生年月日", "dob", "birthday", "dateofbirth"),
    "notes": ("备注", "remarks", "note"),
}
# Headers of a child column that holds its parent's row number in the main file.
ROW_WORDS = ("行号", "主表行号", "所在行", "row", "rownumber", "parentrow", "line")


@dataclass
class OtherSheet:
    """A second sheet of the workbook (`sheet`) or a second file (`file`, with its first sheet): its headers."""

    columns: list[str]
    sheet: str | None = None
    file: str | None = None
    sample: list[dict[str, Any]] = field(default_factory=list)

    def label(self) -> str:
        return self.sheet or self.file or ""


def squash(text: str) -> str:
    """A header or label reduced for comparing: half-width, lower case, no spaces or punctuation."""
    cleaned = text_of(text) or ""
    return re.sub(r"[\s_\-:：()（）/\\.·*]", "", cleaned.lower())


def _names_of(field: str, spec: Any) -> set[str]:
    names = {squash(field)}
    label = spec.label
    if isinstance(label, dict):
        names |= {squash(v) for v in label.values() if isinstance(v, str)}
    elif isinstance(label, str):
        names.add(squash(label))
    names |= {squash(w) for w in NAME_WORDS.get(field, ())}
    return names


def other_sheets(main: Path, main_sheet: str | None, child_files: Iterable[Path] = ()) -> list[OtherSheet]:
    """The workbook's sheets besides the main one, then each named child file (beside the main file)."""
    names = sheet_names(main)
    first = main_sheet if main_sheet is not None else (names[0] if names else None)
    found = []
    for name in names:
        if name != first:
            try:
                found.append(_read_other(main, name, OtherSheet([], sheet=name)))
            except ImportFailed:
                continue  # an empty sheet (Sheet2) offers nothing to map
    for path in child_files:
        if path.resolve().parent != main.resolve().parent:
            raise ImportFailed(f"{path.name} must be in the folder of {main.name}: the mapping names it by its name")
        if path.resolve() == main.resolve():
            raise ImportFailed(f"{path.name} is the main file")
        found.append(_read_other(path, None, OtherSheet([], file=path.name)))
    return found


def _read_other(path: Path, sheet: str | None, other: OtherSheet) -> OtherSheet:
    with open_source(path, sheet) as source:
        other.columns = source.columns
        other.sample = [row.cells for row in islice(source.rows, SAMPLE_ROWS)]
    return other


def suggest_mapping(
    entity_name: str,
    entities: dict[str, EntitySpec],
    columns: list[str],
    sample: Iterable[dict[str, Any]] = (),
    others: Iterable[OtherSheet] = (),
) -> ImportMapping:
    """The mapping a person would most likely write for `columns` (fields matched at most once),
    with `children:` for the other sheets or files whose headers fit a table field of the entity."""
    entity = entities[entity_name]
    candidates = {name: spec for name, spec in entity.fields.items() if spec.compute is None and spec.type != "table"}
    chosen = _match_columns(candidates, columns)
    rows = list(sample)
    _refine(chosen, candidates, entities, rows)
    return ImportMapping(
        entity=entity_name,
        fields=chosen,
        match=_match_rules(entity, chosen),
        on_duplicate="skip",
        children=suggest_children(entity, entities, columns, others, rows),
    )


def _match_columns(candidates: dict[str, Any], columns: list[str]) -> dict[str, ColumnRule]:
    """Each column's field by name or label first, then by the words used for its type."""
    chosen: dict[str, ColumnRule] = {}
    used: set[str] = set()
    for column in columns:
        key = squash(column)
        field_name = next((n for n, s in candidates.items() if n not in chosen and key in _names_of(n, s)), None)
        if field_name is None:
            field_name = next(
                (
                    n
                    for n, s in candidates.items()
                    if n not in chosen and key in {squash(w) for w in TYPE_WORDS.get(s.type, ())}
                ),
                None,
            )
        if field_name is None or column in used:
            continue
        used.add(column)
        chosen[field_name] = ColumnRule(column=column)
    return chosen


def _refine(
    chosen: dict[str, ColumnRule], candidates: dict[str, Any], entities: dict[str, EntitySpec], rows: list[dict]
) -> None:
    """Unknown select cells to fill in under `values:`, and links found by their target's title field."""
    for name, rule in chosen.items():
        spec = candidates[name]
        if spec.type in ("select", "multi_select"):
            rule.values = _unknown_values(spec, [r.get(rule.column) for r in rows])
        if spec.type == "link":
            target = entities.get(spec.to or "")
            rule.by = target.title_field if target is not None and target.title_field else "id"


def suggest_children(
    entity: EntitySpec,
    entities: dict[str, EntitySpec],
    main_columns: list[str],
    others: Iterable[OtherSheet],
    main_sample: list[dict[str, Any]] | None = None,
) -> dict[str, ChildRule]:
    """For each other sheet or file, the table field whose sub-fields its headers name best (a sheet
    named like the table wins), with the column joining its rows to the main file's; none without one."""
    tables = {name: spec for name, spec in entity.fields.items() if spec.type == "table" and spec.fields}
    children: dict[str, ChildRule] = {}
    for other in others:
        best: tuple[int, str, dict[str, ColumnRule]] | None = None
        for table, spec in tables.items():
            if table in children:
                continue
            subs = {n: s for n, s in (spec.fields or {}).items() if s.compute is None}
            matched = _match_columns(subs, other.columns)
            named = squash(other.label().rsplit(".", 1)[0]) in _names_of(table, spec)
            score = len(matched) + (100 if named and matched else 0)
            if matched and (best is None or score > best[0]):
                best = (score, table, matched)
        if best is None:
            continue
        _score, table, matched = best
        taken = {r.column for r in matched.values()}
        parent = _parent_key(other.columns, main_columns, taken, main_sample or [])
        if parent is None:
            continue
        subs = {n: s for n, s in (tables[table].fields or {}).items() if s.compute is None}
        _refine(matched, subs, entities, other.sample)
        children[table] = ChildRule(sheet=other.sheet, file=other.file, parent=parent, fields=matched)
    return children


def _parent_key(
    columns: list[str], main_columns: list[str], taken: set[str], main_sample: list[dict[str, Any]]
) -> ParentKey | None:
    """The child column naming its parent: one the main file has too (exactly, then as squashed), the one
    whose cells differ most across the main file's rows first (a visit number, not the patient's name), and
    columns already filling a child field last; else a row-number column."""
    squashed = {squash(c): c for c in main_columns}
    shared = [(c, c if c in main_columns else squashed[squash(c)]) for c in columns if squash(c) in squashed]

    def preference(pair: tuple[str, str]) -> tuple[bool, float, bool, int]:
        child, main = pair
        cells = [text_of(row.get(main)) for row in main_sample]
        filled = [c for c in cells if c is not None]
        spread = len(set(filled)) / len(filled) if filled else 0.0
        return (child in taken, -spread, child != main, columns.index(child))

    if shared:
        child, main = min(shared, key=preference)
        return ParentKey(column=child) if child == main else ParentKey(column=child, key=main)
    rows = {squash(w) for w in ROW_WORDS}
    return next((ParentKey(column=c, row=True) for c in columns if c not in taken and squash(c) in rows), None)


def _unknown_values(spec: Any, cells: list[Any]) -> dict[str, Any]:
    """Cell texts that are neither an option nor one of its labels: `text: ` entries to fill in."""
    known = {squash(o) for o in spec.options or []}
    for labels in (spec.option_labels or {}).values():
        known |= {squash(v) for v in (labels.values() if isinstance(labels, dict) else [labels])}
    unknown: dict[str, Any] = {}
    for cell in cells:
        text = text_of(cell)
        if text is None:
            continue
        parts = split_list(text) if spec.type == "multi_select" else [text]
        for part in parts:
            if squash(part) not in known and part not in unknown and len(unknown) < 50:
                unknown[part] = None
    return unknown


def _match_rules(entity: EntitySpec, chosen: dict[str, ColumnRule]) -> list[list[str]]:
    rules = [[n] for n, s in entity.fields.items() if s.unique and n in chosen]
    if "name" in chosen and "birth_date" in chosen:
        rules.append(["name", "birth_date"])
    return rules
