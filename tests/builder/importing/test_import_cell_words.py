"""docs/import.md, "Cells are normalised": every yes/no spelling and list separator it names, through a real import."""

from __future__ import annotations

import json

import sqlalchemy as sa

from builder.importing import run_import
from builder.importing.mapping import parse_mapping

MAPPING = "entity: patient\nfields: {name: 姓名, phone: 手机, tags: 标签, consent_sms: 同意短信}\n"

# import.md:41 -- yes/no: `是/否`, `有/无`, `√/×`, `yes/no`, `y/n`, `1/0`, `true/false`
YES_NO = [("是", "否"), ("有", "无"), ("√", "×"), ("yes", "no"), ("y", "n"), ("1", "0"), ("true", "false")]
# import.md:42 -- several options in one cell: `糖尿病、高血压`, `diabetes, vip` (`,` `，` `、` `;` `/`)
LISTS = ["糖尿病、高血压", "diabetes, vip", "糖尿病，vip", "hypertension;elderly", "vip/elderly"]
EXPECTED_TAGS = [
    ["diabetes", "hypertension"],
    ["diabetes", "vip"],
    ["diabetes", "vip"],
    ["hypertension", "elderly"],
    ["vip", "elderly"],
]


def stored(runtime) -> dict:
    table = runtime.records.schema.table("patient")
    with runtime.engine.connect() as conn:
        return {row.name: row for row in conn.execute(sa.select(table))}


def test_every_documented_yes_no_spelling_is_read(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    lines = ["姓名,手机,标签,同意短信"]
    for i, (yes, no) in enumerate(YES_NO):
        lines.append(f"Y{i},1390000{i:02d}01,,{yes}")
        lines.append(f"N{i},1390000{i:02d}02,,{no}")
    path = tmp_path / "consent.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = run_import(runtime.records, admin, path, parse_mapping(MAPPING))

    assert report.problems == [] and report.created == 2 * len(YES_NO)
    rows = stored(runtime)
    assert [(rows[f"Y{i}"].consent_sms, rows[f"N{i}"].consent_sms) for i in range(len(YES_NO))] == [
        (True, False)
    ] * len(YES_NO)
    assert report.integrity is not None and report.integrity.matches


def test_every_documented_list_separator_splits_options(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    lines = ["姓名,手机,标签,同意短信"]
    for i, cell in enumerate(LISTS):
        lines.append(f'T{i},1390001{i:02d}00,"{cell}",')
    path = tmp_path / "tags.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = run_import(runtime.records, admin, path, parse_mapping(MAPPING))

    assert report.problems == [] and report.created == len(LISTS)
    rows = stored(runtime)
    assert [json.loads(rows[f"T{i}"].tags) for i in range(len(LISTS))] == EXPECTED_TAGS
