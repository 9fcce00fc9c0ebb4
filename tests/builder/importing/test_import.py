"""`run_import` on messy real-world files: exact reports, nothing written by a dry run, rejects to
fix and import again, duplicates, links by name, resuming without doubles, permissions, both databases."""

from __future__ import annotations

import csv
import json

import pytest
import sqlalchemy as sa
from messy_files import EXPECTED_PROBLEMS, MAPPING, birth_of, clinic_patients_csv

from builder.importing import ImportFailed, ImportOptions, run_import
from builder.importing.mapping import parse_mapping
from builder.system_tables import audit, import_rows, import_runs


def patients(runtime) -> list:
    table = runtime.records.schema.table("patient")
    with runtime.engine.connect() as conn:
        return conn.execute(sa.select(table).order_by(table.c.id)).all()


def problems(report) -> list[tuple[int, str, str]]:
    return [(p.row, p.column, p.message) for p in report.problems]


def duplicates(report) -> list[tuple]:
    return [(d.row, d.fields, d.record_id is not None, d.earlier_row, d.outcome) for d in report.duplicates]


EXPECTED_DUPLICATES = [
    (12, ("phone",), True, None, "skipped"),  # a patient already in the database
    (152, ("phone",), True, 52, "skipped"),  # the same phone as row 52 (written spaced: 138 0000 0050)
    (252, ("phone",), True, 62, "skipped"),
]


def test_the_messy_clinic_file_imports_with_an_exact_report(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    source = clinic_patients_csv(tmp_path / "patients.csv")
    report = run_import(runtime.records, admin, source, parse_mapping(MAPPING))

    assert (report.rows_read, report.created, report.updated, report.skipped, report.rejected) == (300, 294, 0, 3, 3)
    assert problems(report) == EXPECTED_PROBLEMS
    assert duplicates(report) == EXPECTED_DUPLICATES
    assert report.duplicates[0].record_id == clinic["existing"]["id"]
    assert report.stopped is None

    stored = {row.name: row for row in patients(runtime)}
    assert len(stored) == 295  # the one already there and 294 new ones, names trimmed
    first = stored["患者000"]  # full-width digits, 1950/1/1, 男, Dr. Li
    assert (first.phone, first.birth_date.isoformat(), first.gender) == ("+8613800000000", "1950-01-01", "male")
    assert first.primary_doctor == clinic["doctors"][0]["id"]
    spaced = stored["患者001"]  # "138 0000 0001", 1951年2月2日, 女, Dr. Zhao
    assert (spaced.phone, spaced.birth_date, spaced.gender) == ("+8613800000001", birth_of(1), "female")
    assert spaced.primary_doctor == clinic["doctors"][1]["id"]
    assert stored["患者002"].birth_date == birth_of(2)  # ISO
    assert "患者099" not in stored and "患者199" not in stored and "患者299" not in stored
    assert stored["患者000"].created_by == "admin"  # written as the importing actor, audited as such

    integrity = report.integrity
    assert integrity is not None and integrity.matches and integrity.rows_compared == 294
    counts = {c.name: (c.source_values, c.database_values) for c in integrity.columns}
    assert counts == {
        "name": (294, 294),
        "gender": (294, 294),
        "birth_date": (294, 294),
        "phone": (294, 294),
        "primary_doctor": (294, 294),
    }
    with runtime.engine.connect() as conn:
        creates = conn.execute(
            sa.select(sa.func.count()).where(audit.c.action == "create", audit.c.entity == "patient")
        ).scalar()
        summary = conn.execute(sa.select(audit.c.detail).where(audit.c.action == "import")).scalar_one()
        run = conn.execute(sa.select(import_runs)).one()
        remembered = conn.execute(sa.select(sa.func.count()).select_from(import_rows)).scalar()
    assert creates == 295  # every imported record has its own audit entry (+ the one made in the fixture)
    assert json.loads(summary) | {"import_id": None} == {
        "import_id": None,
        "file": "patients.csv",
        "created": 294,
        "updated": 0,
        "skipped": 3,
        "rejected": 3,
        "stopped": None,
    }
    assert (run.status, run.entity, run.actor) == ("done", "patient", "admin")
    assert remembered == 297  # created and skipped rows; rejected ones are tried again on a resume


def test_a_dry_run_reports_the_same_and_writes_nothing(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    source = clinic_patients_csv(tmp_path / "patients.csv")
    options = ImportOptions(dry_run=True, batch_size=100)
    report = run_import(runtime.records, admin, source, parse_mapping(MAPPING), options)

    assert (report.rows_read, report.created, report.skipped, report.rejected) == (300, 294, 3, 3)
    assert problems(report) == EXPECTED_PROBLEMS
    assert [(d.row, d.earlier_row, d.outcome) for d in report.duplicates] == [
        (12, None, "skipped"),
        (152, 52, "skipped"),  # rows 52 and 62 were rolled back with their batch: matched in the file
        (252, 62, "skipped"),
    ]
    assert len(patients(runtime)) == 1
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(import_runs)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(import_rows)).scalar() == 0
    assert not (tmp_path / "patients.rejects.csv").exists()


def test_rejected_rows_go_to_a_rejects_file_that_imports_once_fixed(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    source = clinic_patients_csv(tmp_path / "patients.csv")
    report = run_import(runtime.records, admin, source, parse_mapping(MAPPING))
    assert report.rejects_path == tmp_path / "patients.rejects.csv"

    raw = report.rejects_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") is False  # written as read: GB18030, which Excel reads as GBK
    rows = list(csv.reader(raw.decode("gb18030").splitlines()))
    assert rows[0] == ["姓名", "性别", "出生日期", "手机", "主治医生", "备注", "import errors"]
    assert [r[0] for r in rows[1:]] == [" 患者099 ", " 患者199 ", " 患者299 "]
    assert rows[1][-1] == "row 101 手机: Enter a valid phone number."
    assert rows[3][-2:] == ["shifted", "row 301: The row has 1 more cell(s) than the header: a shifted or broken row."]

    fixed = [rows[0][:-1]]
    fixed.append(rows[1][:3] + ["13800000099"] + rows[1][4:6])
    fixed.append(rows[2][:2] + ["1980-12-15"] + rows[2][3:6])
    fixed.append(rows[3][:6])
    (tmp_path / "fixed.csv").write_bytes("\n".join(",".join(r) for r in fixed).encode("gb18030"))
    again = run_import(runtime.records, admin, tmp_path / "fixed.csv", parse_mapping(MAPPING))
    assert (again.created, again.rejected, again.skipped) == (3, 0, 0)
    assert again.integrity is not None and again.integrity.matches
    assert len(patients(runtime)) == 298


def test_duplicates_update_or_stop_as_the_rule_says(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    source = clinic_patients_csv(tmp_path / "patients.csv")
    updated = run_import(runtime.records, admin, source, parse_mapping(MAPPING), ImportOptions(on_duplicate="update"))
    assert (updated.created, updated.updated, updated.skipped, updated.rejected) == (294, 3, 0, 3)
    assert [(d.row, d.outcome) for d in updated.duplicates] == [(12, "updated"), (152, "updated"), (252, "updated")]
    table = runtime.records.schema.table("patient")
    with runtime.engine.connect() as conn:
        before = conn.execute(sa.select(table).where(table.c.id == clinic["existing"]["id"])).one()
    assert (before.name, before.version, before.birth_date) == ("患者010", 2, birth_of(10))  # the file's values now
    assert updated.integrity is not None and updated.integrity.matches
    assert (updated.integrity.rows_compared, updated.integrity.superseded) == (295, 2)  # rows 52, 62 superseded

    stopped = run_import(runtime.records, admin, source, parse_mapping(MAPPING), ImportOptions(on_duplicate="stop"))
    assert stopped.stopped == f"row 2: Same phone as record {patients(runtime)[1].id}."
    assert (stopped.created, stopped.skipped) == (0, 0)


def test_an_import_stopped_midway_resumes_without_doubles(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    source = clinic_patients_csv(tmp_path / "patients.csv")
    first = run_import(
        runtime.records, admin, source, parse_mapping(MAPPING), ImportOptions(batch_size=50, stop_after=120)
    )
    assert first.stopped == "stopped after 120 rows"
    assert (first.created, first.skipped, first.rejected) == (118, 1, 1)  # row 12 skipped, row 101 rejected
    assert first.integrity is None
    assert len(patients(runtime)) == 119

    second = run_import(runtime.records, admin, source, None, ImportOptions(resume=first.import_id, batch_size=50))
    assert second.import_id == first.import_id
    assert (second.already_done, second.created, second.skipped, second.rejected) == (119, 176, 2, 3)
    assert problems(second) == EXPECTED_PROBLEMS  # row 101 tried again, still wrong
    stored = patients(runtime)
    assert len(stored) == 295 and len({p.phone for p in stored}) == 295
    assert second.integrity is not None and second.integrity.matches and second.integrity.rows_compared == 294

    with pytest.raises(ImportFailed, match="has finished; there is nothing to resume"):
        run_import(runtime.records, admin, source, None, ImportOptions(resume=first.import_id))
    other = tmp_path / "other.csv"
    other.write_text("姓名,手机\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="no import `nope`"):
        run_import(runtime.records, admin, other, None, ImportOptions(resume="nope"))


def test_ctrl_c_inside_a_statement_stops_the_import_resumably(clinic, tmp_path):
    """Ctrl-C landing while the driver runs a statement makes SQLAlchemy drop the connection; the import
    must still roll back the batch, say it was interrupted and leave a run that resumes (CI once saw a
    PendingRollbackError escape instead)."""
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    source = clinic_patients_csv(tmp_path / "patients.csv")
    inserts = {"patient": 0}

    def interrupt_the_70th_patient_insert(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO PATIENT"):
            inserts["patient"] += 1
            if inserts["patient"] == 70:
                raise KeyboardInterrupt

    sa.event.listen(runtime.engine, "before_cursor_execute", interrupt_the_70th_patient_insert)
    try:
        first = run_import(runtime.records, admin, source, parse_mapping(MAPPING), ImportOptions(batch_size=50))
    finally:
        sa.event.remove(runtime.engine, "before_cursor_execute", interrupt_the_70th_patient_insert)
    assert first.stopped == "interrupted"
    assert (first.created, first.skipped) == (49, 1)  # the first batch (row 12 already there); the second undone
    assert len(patients(runtime)) == 50
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(import_runs.c.status)).scalar_one() == "stopped"
        assert conn.execute(sa.select(sa.func.count()).select_from(import_rows)).scalar() == 50

    second = run_import(runtime.records, admin, source, None, ImportOptions(resume=first.import_id))
    assert (second.already_done, second.created) == (50, 245)
    assert len(patients(runtime)) == 295


def test_a_role_without_the_right_to_create_is_refused_and_field_rights_hold(clinic, tmp_path):
    runtime, actors = clinic["runtime"], clinic["actors"]
    source = clinic_patients_csv(tmp_path / "patients.csv")
    with pytest.raises(ImportFailed, match="role `nurse` may not create patient records: the import is refused"):
        run_import(runtime.records, actors["nurse"], source, parse_mapping(MAPPING))
    assert len(patients(runtime)) == 1

    # The front desk sees phones masked: matching on them would answer "does this number exist?" per row.
    desk = actors["front_desk"]
    with pytest.raises(ImportFailed, match="role `front_desk` sees phone of patient records masked"):
        run_import(runtime.records, desk, source, parse_mapping(MAPPING), ImportOptions(dry_run=True))
    # It may create patients but not set their doctor: every row says so, nothing is written.
    unmatched = parse_mapping(MAPPING.replace("match: [phone]", "match: []"))
    report = run_import(runtime.records, desk, source, unmatched, ImportOptions(dry_run=True))
    assert (report.created, report.skipped, report.rejected) == (0, 0, 300)
    assert problems(report)[0] == (2, "主治医生", "You may not change this field.")


def test_links_by_natural_key_name_what_is_missing_or_ambiguous(clinic, tmp_path):
    from builder.records import SYSTEM

    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    runtime.records.create(SYSTEM, "staff", {"name": "Dr. Li", "department": "dental"})  # a second Dr. Li
    path = tmp_path / "links.csv"
    text = "姓名,手机,主治医生\nA,13900000001,Dr. Zhao\nB,13900000002,Dr. Li\nC,13900000003,Dr. Wu\n"
    path.write_text(text, encoding="utf-8")
    mapping = parse_mapping(MAPPING.replace("  gender: 性别\n  birth_date: 出生日期\n", ""))
    report = run_import(runtime.records, admin, path, mapping)
    assert report.created == 1
    assert problems(report) == [
        (3, "主治医生", "Several staff records have name “Dr. Li”; use a unique field."),
        (4, "主治医生", "No staff record is “Dr. Wu”."),
    ]


def test_a_mapping_naming_what_does_not_exist_stops_before_any_row(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    source = clinic_patients_csv(tmp_path / "patients.csv")
    bad = MAPPING.replace("gender: 性别", "sex: 性别").replace("phone: 手机", "phone: 电话") + "\n"
    with pytest.raises(ImportFailed) as refused:
        run_import(runtime.records, admin, source, parse_mapping(bad))
    assert str(refused.value) == (
        "the mapping cannot be used: `patient` has no field `sex`; `phone`: the file has no column `电话` "
        "(columns: 姓名, 性别, 出生日期, 手机, 主治医生, 备注)"
    )
    with pytest.raises(ImportFailed, match="on_duplicate: Input should be 'skip', 'update' or 'stop'"):
        parse_mapping(MAPPING.replace("on_duplicate: skip", "on_duplicate: merge"))
