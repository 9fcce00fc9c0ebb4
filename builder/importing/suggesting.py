"""A first mapping guessed from the file's headers, for a person to check and edit.

A header matches a field by its name or its label in any language of the blueprint
(姓名 -> name), or by words clinics commonly use for a field of that type (手机/电话
-> a phone field). A select column's cells that are neither options nor their labels
get an empty entry in `values:` to fill in; a link is found by the target's title
field; duplicates are matched on the entity's unique fields, then on name and birth
date when it has both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from engines.forms import EntitySpec

from .mapping import ColumnRule, ImportMapping
from .normalising import split_list, text_of

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


def suggest_mapping(
    entity_name: str, entities: dict[str, EntitySpec], columns: list[str], sample: Iterable[dict[str, Any]] = ()
) -> ImportMapping:
    """The mapping a person would most likely write for `columns` (fields matched at most once)."""
    entity = entities[entity_name]
    candidates = {name: spec for name, spec in entity.fields.items() if spec.compute is None and spec.type != "table"}
    chosen: dict[str, ColumnRule] = {}
    used: set[str] = set()
    for column in columns:
        key = squash(column)
        field = next((n for n, s in candidates.items() if n not in chosen and key in _names_of(n, s)), None)
        if field is None:
            field = next(
                (
                    n
                    for n, s in candidates.items()
                    if n not in chosen and key in {squash(w) for w in TYPE_WORDS.get(s.type, ())}
                ),
                None,
            )
        if field is None or column in used:
            continue
        used.add(column)
        chosen[field] = ColumnRule(column=column)
    rows = list(sample)
    for field, rule in chosen.items():
        spec = candidates[field]
        if spec.type in ("select", "multi_select"):
            rule.values = _unknown_values(spec, [r.get(rule.column) for r in rows])
        if spec.type == "link":
            target = entities.get(spec.to or "")
            rule.by = target.title_field if target is not None and target.title_field else "id"
    return ImportMapping(entity=entity_name, fields=chosen, match=_match_rules(entity, chosen), on_duplicate="skip")


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
