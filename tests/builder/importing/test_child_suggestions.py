"""`--suggest-mapping` suggests child rows too: a second sheet or a named second file is matched to the
entity's table field by its headers (labels in both languages), with the column that joins its rows to
the main file's, written as the `children:` the mapping parser reads."""

from __future__ import annotations

from test_children import clinic_workbook, visits

from builder.importing import ImportFailed, run_import
from builder.importing.mapping import parse_mapping
from builder.importing.suggesting import other_sheets, suggest_mapping


def suggested(runtime, entity, path, child_files=()):
    from itertools import islice

    from builder.importing import open_source
    from builder.importing.running import records_entities

    with open_source(path) as source:
        columns, sample = source.columns, [r.cells for r in islice(source.rows, 50)]
    others = other_sheets(path, None, child_files)
    return suggest_mapping(entity, records_entities(runtime.records), columns, sample, others)


def test_a_second_sheet_is_suggested_as_the_visits_prescriptions_joined_by_the_visit_number(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    source = clinic_workbook(tmp_path / "visits.xlsx")
    text = suggested(runtime, "visit", source).to_yaml()
    assert (
        "children:\n"
        "  prescriptions:\n"
        "    sheet: 处方\n"
        "    parent: 就诊编号\n"
        "    fields:\n"
        "      drug: 药品\n"
        "      dose: 剂量\n"
        "      days: 天数\n"
    ) in text
    mapping = parse_mapping(text)  # the shape the parser reads, and it imports as the hand-written one does
    report = run_import(runtime.records, admin, source, mapping)
    assert (report.created, report.rejected) == (2, 3)
    assert report.children[0]["attached"] == 2 and report.children[0]["orphan_rows"] == [6]
    _rows, kids = visits(runtime)
    assert [k.drug for k in kids] == ["阿莫西林", "布洛芬"]


def test_a_named_second_file_with_english_headers_and_row_numbers(clinic, tmp_path):
    runtime = clinic["runtime"]
    (tmp_path / "visits.csv").write_text("Patient,Visited at\n老患者,2026-03-02 09:30\n", encoding="utf-8")
    (tmp_path / "rx.csv").write_bytes("Row,Drug,Days,Dose\n2,阿莫西林,7,0.5g\n".encode("gbk"))
    mapping = suggested(runtime, "visit", tmp_path / "visits.csv", [tmp_path / "rx.csv"])
    child = mapping.children["prescriptions"]
    assert (child.file, child.sheet) == ("rx.csv", None)
    assert (child.parent.column, child.parent.row) == ("Row", True)
    assert {name: rule.column for name, rule in child.fields.items()} == {
        "drug": "Drug",
        "days": "Days",
        "dose": "Dose",
    }
    assert "    parent:\n      column: Row\n      row: true\n" in mapping.to_yaml()
    assert parse_mapping(mapping.to_yaml()).children == mapping.children


def test_the_join_is_the_shared_column_that_tells_the_main_rows_apart(clinic, tmp_path):
    runtime = clinic["runtime"]
    visits_csv = "患者,就诊号,就诊时间\n老患者,A1,2026-03-02 09:30\n老患者,A2,2026-03-03 10:00\n"
    (tmp_path / "visits.csv").write_text(visits_csv, encoding="utf-8")
    (tmp_path / "rx.csv").write_text("患者,就诊 号,药品\n老患者,A1,阿莫西林\n", encoding="utf-8")
    child = suggested(runtime, "visit", tmp_path / "visits.csv", [tmp_path / "rx.csv"]).children["prescriptions"]
    assert (child.parent.column, child.parent.key) == ("就诊 号", "就诊号")  # not the patient, the same for both
    assert (
        "    parent:\n      column: 就诊 号\n      key: 就诊号\n"
        in suggested(runtime, "visit", tmp_path / "visits.csv", [tmp_path / "rx.csv"]).to_yaml()
    )


def test_no_child_rows_are_suggested_without_a_joining_column_or_a_matching_table(clinic, tmp_path):
    runtime = clinic["runtime"]
    (tmp_path / "visits.csv").write_text("Patient,Visited at\n老患者,2026-03-02 09:30\n", encoding="utf-8")
    (tmp_path / "rx.csv").write_text("Drug,Days\n阿莫西林,7\n", encoding="utf-8")  # nothing names the visit
    (tmp_path / "other.csv").write_text("Patient,Colour\n老患者,red\n", encoding="utf-8")  # fits no table
    mapping = suggested(runtime, "visit", tmp_path / "visits.csv", [tmp_path / "rx.csv", tmp_path / "other.csv"])
    assert mapping.children == {}
    assert "children:" not in mapping.to_yaml()


def test_a_second_file_elsewhere_is_refused(clinic, tmp_path):
    import pytest

    (tmp_path / "visits.csv").write_text("Patient\n老患者\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "rx.csv").write_text("Row,Drug\n2,x\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match=r"must be in the folder of visits\.csv"):
        suggested(clinic["runtime"], "visit", tmp_path / "visits.csv", [tmp_path / "sub" / "rx.csv"])


def test_crm_import_suggests_the_physio_exercises_from_a_child_file(tmp_path, database_url):
    from physio import crm, init_physio_project

    root = init_physio_project(tmp_path / "physio", database_url)
    assert crm("migrate", "-p", root, "--yes").exit_code == 0
    (root / "therapists.csv").write_text("姓名\n周敏\n", encoding="utf-8")
    (root / "clients.csv").write_text("姓名,手机\n钱多多,13911112222\n", encoding="utf-8")
    plans = "计划号,客户,治疗师,目标,开始日期\nP1,钱多多,周敏,膝关节屈曲 120°,2026/3/2\n"
    (root / "plans.csv").write_text(plans, encoding="utf-8")
    (root / "exercises.csv").write_text(
        "计划号,动作,组数,次数,侧别\nP1,直腿抬高,3,15,左\nP1,靠墙静蹲,2,10,双侧腿\n", encoding="utf-8"
    )
    assert crm("import", "therapist", root / "therapists.csv", "-p", root).exit_code == 0
    assert crm("import", "client", root / "clients.csv", "-p", root).exit_code == 0
    args = ("import", "exercise_plan", root / "plans.csv", "--child-file", root / "exercises.csv", "-p", root)
    shown = crm(*args, "--suggest-mapping")
    assert shown.exit_code == 0, shown.output
    assert (
        "children:\n"
        "  exercises:\n"
        "    file: exercises.csv\n"
        "    parent: 计划号\n"
        "    fields:\n"
        "      exercise: 动作\n"
        "      sets: 组数\n"
        "      reps: 次数\n"
        "      side:\n"
        "        column: 侧别\n"
        "        values:\n"
        "          双侧腿: null\n"  # neither an option nor a label: left for a person to fill in
    ) in shown.output
    (root / "plans.yaml").write_text(shown.output.replace("双侧腿: null", "双侧腿: both"), encoding="utf-8")
    done = crm("import", "exercise_plan", root / "plans.csv", "-m", root / "plans.yaml", "-p", root)
    assert done.exit_code == 0, done.output
    assert "child rows of exercises from exercises.csv: 2 read, 2 written with their row" in done.output

    elsewhere = crm("import", "exercise_plan", root / "plans.csv", "--child-file", tmp_path / "x.csv", "-p", root)
    assert elsewhere.exit_code == 1
