"""Child rows from a second sheet or file: a visit's prescriptions, attached by the visit's number or row.

The workbook is what an old clinic system exports: visits on one sheet, prescriptions on
another naming their visit by number (as a number cell on one sheet and text on the other),
full-width digits, a prescription with no drug, one for a visit that is not in the file,
and a visit number written twice.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from builder.importing import ImportFailed, ImportOptions, run_import
from builder.importing.mapping import parse_mapping

VISITS = ["就诊编号", "患者", "就诊时间", "候诊分钟"]
PRESCRIPTIONS = ["就诊编号", "药品", "剂量", "天数"]

MAPPING = """
entity: visit
fields:
  patient: {column: 患者, by: name}
  visited_at: 就诊时间
  wait_minutes: 候诊分钟
children:
  prescriptions:
    sheet: 处方
    parent: 就诊编号
    fields:
      drug: 药品
      dose: 剂量
      days: 天数
"""


def clinic_workbook(path, visits=None, prescriptions=None):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "就诊"
    sheet.append(VISITS)
    for row in visits if visits is not None else VISIT_ROWS:
        sheet.append(row)
    other = book.create_sheet("处方")
    other.append(PRESCRIPTIONS)
    for row in prescriptions if prescriptions is not None else PRESCRIPTION_ROWS:
        other.append(row)
    book.save(path)
    return path


VISIT_ROWS = [
    [1001, "老患者", dt.datetime(2026, 3, 2, 9, 30), 15],  # row 2: two prescriptions
    [1002, "老患者", dt.datetime(2026, 3, 3, 10, 0), 5],  # row 3: one prescription for 0 days
    ["1003", "老患者", "2026-03-04 11:00", 20],  # row 4: a prescription without a drug
    [1004, "老患者", "2026/3/5 9:00", None],  # row 5: no prescriptions at all
    [1001, "老患者", "2026-03-06 09:00", 10],  # row 6: 1001 again: whose are its prescriptions?
]
PRESCRIPTION_ROWS = [
    ["１００１", "阿莫西林", "0.5g tid", "７"],  # row 2: text key in full-width digits, full-width days
    [1001, "布洛芬", "0.2g prn", 3],  # row 3
    [1002, "维生素C", "0.1g qd", 0],  # row 4: days must be at least 1
    [1003, None, "1 tab", 5],  # row 5: no drug
    [9999, "氯雷他定", "10mg qd", 7],  # row 6: no visit 9999 in the file
    [1003, "奥美拉唑", "20mg qd", 14],  # row 7
]


def visits(runtime):
    table = runtime.records.schema.table("visit")
    child = runtime.records.schema.child("visit", "prescriptions")
    with runtime.engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.id)).all()
        kids = conn.execute(sa.select(child).order_by(child.c.parent_id, child.c.position)).all()
    return rows, kids


def test_prescriptions_from_a_second_sheet_join_their_visit_by_its_number(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    source = clinic_workbook(tmp_path / "visits.xlsx")
    report = run_import(runtime.records, admin, source, parse_mapping(MAPPING))

    assert (report.rows_read, report.created, report.rejected) == (5, 2, 3)
    assert [(p.row, p.column, p.message) for p in report.problems] == [
        (3, "处方 row 4 天数", "Must be at least 1."),
        (4, "处方 row 5 药品", "This field is required."),
        (6, "就诊编号", "Row 2 of this file has the same 就诊编号; its 处方 rows cannot belong to both."),
    ]
    assert report.children == [
        {
            "field": "prescriptions",
            "source": "处方",
            "rows_read": 6,
            "attached": 2,
            "orphans": 1,
            "orphan_rows": [6],
        }
    ]
    rows, kids = visits(runtime)
    assert [r.wait_minutes for r in rows] == [15, None]
    first, fifth = rows
    assert [(k.parent_id, k.position, k.drug, k.dose, k.days) for k in kids] == [
        (first.id, 0, "阿莫西林", "0.5g tid", 7),
        (first.id, 1, "布洛芬", "0.2g prn", 3),
    ]
    assert fifth.visited_at == dt.datetime(2026, 3, 5, 9, 0)

    integrity = report.integrity
    assert integrity is not None and integrity.matches
    checks = {c.name: (c.column, c.source_values, c.database_values) for c in integrity.columns}
    assert checks["prescriptions (rows)"] == ("处方", 1, 1)  # one written visit had child rows in the file
    assert checks["prescriptions.drug"] == ("处方:药品", 2, 2)
    assert checks["prescriptions.days"] == ("处方:天数", 2, 2)


def test_a_dry_run_reports_the_same_and_writes_no_visit_and_no_prescription(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    source = clinic_workbook(tmp_path / "visits.xlsx")
    report = run_import(runtime.records, admin, source, parse_mapping(MAPPING), ImportOptions(dry_run=True))
    assert (report.created, report.rejected) == (2, 3)
    assert report.children[0]["attached"] == 2 and report.children[0]["orphan_rows"] == [6]
    assert visits(runtime) == ([], [])


def test_rejected_visits_take_their_prescriptions_to_the_rejects_workbook_which_imports_once_fixed(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    source = clinic_workbook(tmp_path / "visits.xlsx")
    mapping = parse_mapping(MAPPING)
    report = run_import(runtime.records, admin, source, mapping)
    assert report.rejects_path == tmp_path / "visits.rejects.xlsx"

    from openpyxl import load_workbook

    book = load_workbook(report.rejects_path)
    assert book.sheetnames == ["rejects", "处方"]
    kept = [list(r) for r in book["处方"].iter_rows(values_only=True)]
    assert kept[0] == [*PRESCRIPTIONS, "import errors"]
    assert [r[:4] for r in kept[1:]] == [
        [1002, "维生素C", "0.1g qd", 0],
        [1003, None, "1 tab", 5],
        [1003, "奥美拉唑", "20mg qd", 14],
    ]
    assert kept[1][4] == "row 4: Its row 3 of the main file was rejected."

    # Fixed: days 1, a drug, and the second 1001 renumbered (its visit has no prescriptions then).
    book["处方"]["D2"] = 1
    book["处方"]["B3"] = "二甲双胍"
    book["rejects"]["A4"] = 1006
    book.save(report.rejects_path)
    again = run_import(runtime.records, admin, report.rejects_path, mapping)
    assert (again.created, again.rejected, again.children[0]["attached"]) == (3, 0, 3)
    assert again.integrity is not None and again.integrity.matches
    rows, kids = visits(runtime)
    assert len(rows) == 5 and len(kids) == 5


def test_a_second_csv_keyed_by_the_visits_row_number(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    visits_csv = "患者,就诊时间\n老患者,2026-03-02 09:30\n老患者,2026-03-03 10:00\n"
    (tmp_path / "visits.csv").write_bytes(visits_csv.encode("gbk"))
    rx_csv = "行号,药品,天数\n2,阿莫西林,7\n3,布洛芬,abc\n3,维生素C,3\n4,多余,1\n"
    (tmp_path / "rx.csv").write_bytes(rx_csv.encode("gbk"))
    mapping = parse_mapping(
        """
entity: visit
fields: {patient: {column: 患者, by: name}, visited_at: 就诊时间}
children:
  prescriptions:
    file: rx.csv
    parent: {column: 行号, row: true}
    fields: {drug: 药品, days: 天数}
"""
    )
    report = run_import(runtime.records, admin, tmp_path / "visits.csv", mapping)
    assert (report.created, report.rejected) == (1, 1)
    assert [(p.row, p.column) for p in report.problems] == [(3, "rx.csv row 3 天数")]
    assert report.children[0]["orphan_rows"] == [5]
    assert report.child_rejects == [tmp_path / "rx.rejects.csv"]
    rejected = (tmp_path / "rx.rejects.csv").read_bytes().decode("gbk").splitlines()
    assert rejected[0] == "行号,药品,天数,import errors"
    assert [line.split(",")[:3] for line in rejected[1:]] == [["3", "布洛芬", "abc"], ["3", "维生素C", "3"]]
    _rows, kids = visits(runtime)
    assert [(k.drug, k.days) for k in kids] == [("阿莫西林", 7)]


def test_an_import_stopped_midway_resumes_without_doubling_prescriptions(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    good = [row for row in VISIT_ROWS if row[0] in (1001, 1004)] + [[1005, "老患者", "2026-03-07 09:00", 1]]
    rx = [*PRESCRIPTION_ROWS[:2], [1005, "维生素C", "0.1g qd", 2]]
    source = clinic_workbook(tmp_path / "visits.xlsx", good[:2] + good[3:], rx)
    mapping = parse_mapping(MAPPING)
    first = run_import(runtime.records, admin, source, mapping, ImportOptions(batch_size=1, stop_after=1))
    assert first.stopped and first.created == 1
    second = run_import(runtime.records, admin, source, None, ImportOptions(resume=first.import_id))
    assert (second.already_done, second.created, second.rejected) == (1, 2, 0)
    assert second.children[0]["orphans"] == 0  # the first pass's visit took its prescriptions then
    assert second.integrity is not None and second.integrity.matches
    _rows, kids = visits(runtime)
    assert sorted(k.drug for k in kids) == ["布洛芬", "维生素C", "阿莫西林"]


@pytest.mark.parametrize(
    ("children", "message"),
    [
        (
            "  notes: {sheet: 处方, parent: 就诊编号, fields: {drug: 药品}}",
            "`visit` has no field `notes`",
        ),
        (
            "  diagnosis: {sheet: 处方, parent: 就诊编号, fields: {drug: 药品}}",
            "`visit` has no table field `diagnosis`",
        ),
        (
            "  prescriptions: {sheet: 处方, parent: 就诊号, fields: {drug: 药品, dosage: 剂量}}",
            "the main file has no column `就诊号`",
        ),
        (
            "  prescriptions: {sheet: 处方, parent: 就诊编号, fields: {dosage: 剂量}}",
            "`prescriptions` has no field `dosage`",
        ),
        ("  prescriptions: {sheet: 处方, parent: 就诊编号, fields: {drug: 药名}}", "处方 has no column `药名`"),
        ("  prescriptions: {sheet: 药单, parent: 就诊编号, fields: {drug: 药品}}", "the workbook has no sheet `药单`"),
        ("  prescriptions: {parent: 就诊编号, fields: {drug: 药品}}", "say where its rows are"),
    ],
)
def test_a_children_mapping_that_cannot_work_stops_before_any_row(clinic, tmp_path, children, message):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    source = clinic_workbook(tmp_path / "visits.xlsx")
    text = "entity: visit\nfields: {patient: {column: 患者, by: name}}\nchildren:\n" + children + "\n"
    with pytest.raises(ImportFailed, match=message.replace("(", r"\(")):
        run_import(runtime.records, admin, source, parse_mapping(text))
    assert visits(runtime) == ([], [])


def test_a_table_field_among_the_columns_says_where_child_rows_go(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    source = clinic_workbook(tmp_path / "visits.xlsx")
    mapping = parse_mapping("entity: visit\nfields: {patient: {column: 患者, by: name}, prescriptions: 药品}\n")
    with pytest.raises(ImportFailed, match="map them under `children:`"):
        run_import(runtime.records, admin, source, mapping)


def test_the_mapping_keeps_its_children_when_stored_for_a_resume():
    mapping = parse_mapping(MAPPING)
    assert parse_mapping(mapping.to_yaml()) == mapping


def test_the_physio_vertical_imports_exercise_plans_with_their_exercises_from_a_second_csv(tmp_path, database_url):
    from physio import crm, init_physio_project

    root = init_physio_project(tmp_path / "physio", database_url)
    assert crm("migrate", "-p", root, "--yes").exit_code == 0
    (root / "therapists.csv").write_text("姓名\n周敏\n", encoding="utf-8")
    (root / "clients.csv").write_text("姓名,手机\n钱多多,13911112222\n", encoding="utf-8")
    plans = "计划号,客户,治疗师,目标,开始日期\nP1,钱多多,周敏,膝关节屈曲 120°,2026/3/2\n"
    (root / "plans.csv").write_text(plans, encoding="utf-8")
    (root / "exercises.csv").write_text(
        "计划号,动作,组数,次数,侧别\nP1,直腿抬高,3,１５,左\nP1,靠墙静蹲,2,10,双侧\nP2,提踵,3,20,右\n", encoding="utf-8"
    )
    (root / "plans.yaml").write_text(
        """
entity: exercise_plan
fields:
  client: {column: 客户, by: full_name}
  therapist: {column: 治疗师, by: display_name}
  goal: 目标
  starts_on: 开始日期
children:
  exercises:
    file: exercises.csv
    parent: 计划号
    fields: {exercise: 动作, sets: 组数, reps: 次数, side: 侧别}
""",
        encoding="utf-8",
    )
    assert crm("import", "therapist", root / "therapists.csv", "-p", root).exit_code == 0
    assert crm("import", "client", root / "clients.csv", "-p", root).exit_code == 0
    done = crm("import", "exercise_plan", root / "plans.csv", "-m", root / "plans.yaml", "-p", root)
    assert done.exit_code == 0, done.output
    line = "child rows of exercises from exercises.csv: 3 read, 2 written with their row; 1 without a row"
    assert line in done.output
    assert "in the main file: rows 4" in done.output
    assert "file against database matches" in done.output

    from builder.runtime import open_runtime

    runtime = open_runtime(root)
    try:
        child = runtime.records.schema.child("exercise_plan", "exercises")
        with runtime.engine.connect() as conn:
            rows = conn.execute(sa.select(child).order_by(child.c.position)).all()
    finally:
        runtime.close()
    assert [(r.exercise, r.sets, r.reps, r.side) for r in rows] == [
        ("直腿抬高", 3, 15, "left"),
        ("靠墙静蹲", 2, 10, "both"),
    ]


def test_a_second_file_is_named_beside_the_main_one_never_as_a_path(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    (tmp_path / "visits.csv").write_text("患者\n老患者\n", encoding="utf-8")
    base = "entity: visit\nfields: {patient: {column: 患者, by: name}}\nchildren:\n  prescriptions:\n"
    for path in ("../rx.csv", "/etc/passwd", "sub/rx.csv"):
        with pytest.raises(ImportFailed, match="not a path"):
            parse_mapping(base + f"    file: {path}\n    parent: 行号\n    fields: {{drug: 药品}}\n")
    by_row = "    parent: {column: 行号, row: true}\n    fields: {drug: 药品}\n"
    mapping = parse_mapping(base + "    file: rx.csv\n" + by_row)
    with pytest.raises(ImportFailed, match=r"there is no file rx\.csv beside visits\.csv"):
        run_import(runtime.records, admin, tmp_path / "visits.csv", mapping)
    sheet = parse_mapping(base + "    sheet: 处方\n" + by_row)
    with pytest.raises(ImportFailed, match="a sheet needs an Excel workbook"):
        run_import(runtime.records, admin, tmp_path / "visits.csv", sheet)


def test_an_update_replaces_the_child_rows_the_file_has_and_keeps_those_it_has_not(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    mapping = parse_mapping(MAPPING + "match: [visited_at]\non_duplicate: update\n")
    two = [[1001, "老患者", "2026-03-02 09:30", 15], [1004, "老患者", "2026-03-05 09:00", 5]]
    first = clinic_workbook(tmp_path / "first.xlsx", two, [[1001, "阿莫西林", "", 7], [1004, "布洛芬", "", 3]])
    assert run_import(runtime.records, admin, first, mapping).created == 2
    second = clinic_workbook(tmp_path / "second.xlsx", two, [[1001, "维生素C", "", 2], [1001, "氯雷他定", "", 5]])
    report = run_import(runtime.records, admin, second, mapping)
    assert (report.updated, report.rejected) == (2, 0)
    assert report.integrity is not None and report.integrity.matches
    rows, kids = visits(runtime)
    by_visit = {r.id: [k.drug for k in kids if k.parent_id == r.id] for r in rows}
    assert list(by_visit.values()) == [["维生素C", "氯雷他定"], ["布洛芬"]]


def test_a_resume_refuses_a_child_file_changed_since_the_import_stopped(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    (tmp_path / "visits.csv").write_text("编号,患者\nA,老患者\nB,老患者\n", encoding="utf-8")
    rx = tmp_path / "rx.csv"
    rx.write_text("编号,药品\nA,阿莫西林\nB,布洛芬\n", encoding="utf-8")
    mapping = parse_mapping(
        "entity: visit\nfields: {patient: {column: 患者, by: name}}\n"
        "children: {prescriptions: {file: rx.csv, parent: 编号, fields: {drug: 药品}}}\n"
    )
    first = run_import(runtime.records, admin, tmp_path / "visits.csv", mapping, ImportOptions(stop_after=1))
    assert first.stopped and first.created == 1
    rx.write_text("编号,药品\nA,阿莫西林\nB,维生素C\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match=r"rx\.csv is not the file this import read"):
        run_import(runtime.records, admin, tmp_path / "visits.csv", None, ImportOptions(resume=first.import_id))
    rx.write_text("编号,药品\nA,阿莫西林\nB,布洛芬\n", encoding="utf-8")
    second = run_import(runtime.records, admin, tmp_path / "visits.csv", None, ImportOptions(resume=first.import_id))
    assert (second.already_done, second.created) == (1, 1)
    assert second.integrity is not None and second.integrity.matches
    _rows, kids = visits(runtime)
    assert [k.drug for k in kids] == ["阿莫西林", "布洛芬"]
