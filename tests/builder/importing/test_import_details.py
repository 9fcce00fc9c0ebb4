"""The rest of what docs/import.md promises: XLSX imports and rejects, value maps, formats and
several options in a cell, no automations set off, encrypted duplicates, integrity naming the rows
that differ, progress, a changed file refused on resume, exit status 3."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from messy_files import MAPPING, clinic_patients_csv, merged_header_xlsx

from builder.importing import ImportFailed, ImportOptions, run_import
from builder.importing.integrity import canonical, check_integrity
from builder.importing.mapping import parse_mapping


def rows_of(runtime, entity: str) -> list:
    table = runtime.records.schema.table(entity)
    with runtime.engine.connect() as conn:
        return conn.execute(sa.select(table).order_by(table.c.id)).all()


def test_a_merged_header_workbook_imports_and_its_rejects_are_a_workbook(clinic, tmp_path):
    from openpyxl import load_workbook

    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    source = merged_header_xlsx(tmp_path / "p.xlsx", extra=[["坏行", "女", "1991-01-01", "13900139009", "not-mail"]])
    mapping = parse_mapping(
        "entity: patient\nfields: {name: 姓名, gender: 性别, birth_date: 出生日期, phone: 手机, email: 邮箱}\n"
    )
    report = run_import(runtime.records, admin, source, mapping)
    assert (report.rows_read, report.created, report.rejected) == (4, 3, 1)
    assert [(p.row, p.column, p.message) for p in report.problems] == [(7, "邮箱", "Enter a valid e-mail address.")]
    stored = {row.name: row for row in rows_of(runtime, "patient")}
    assert (stored["王芳"].birth_date, stored["王芳"].phone) == (dt.date(1980, 3, 5), "+8613900139000")
    assert (stored["李雷"].birth_date, stored["李雷"].phone) == (dt.date(1985, 12, 1), "+8613900139001")
    assert (stored["韩梅梅"].birth_date, stored["韩梅梅"].phone) == (dt.date(1990, 7, 1), "+8613900139002")
    assert report.integrity is not None and report.integrity.matches

    assert report.rejects_path == tmp_path / "p.rejects.xlsx"
    sheet = load_workbook(report.rejects_path, read_only=True).worksheets[0]
    assert [list(r) for r in sheet.iter_rows(values_only=True)] == [
        ["姓名", "性别", "出生日期", "手机", "邮箱", "import errors"],
        ["坏行", "女", "1991-01-01", "13900139009", "not-mail", "row 7 邮箱: Enter a valid e-mail address."],
    ]


def test_value_maps_formats_and_several_options_in_one_cell(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    path = tmp_path / "tags.csv"
    path.write_text(
        "姓名,手机,性别,生日,标签,同意短信\n"
        "甲,13900000001,F,05/03/1980,糖尿病、会员,是\n"
        '乙,13900000002,M,31/12/1979,"hypertension, Elderly",否\n'
        "丙,13900000003,X,1/1/1970,火星人,也许\n",
        encoding="utf-8",
    )
    mapping = parse_mapping(
        """
entity: patient
fields:
  name: 姓名
  phone: 手机
  gender: {column: 性别, values: {F: female, M: male}}
  birth_date: {column: 生日, format: "%d/%m/%Y"}
  tags: {column: 标签, values: {会员: vip}}
  consent_sms: 同意短信
"""
    )
    report = run_import(runtime.records, admin, path, mapping)
    stored = {row.name: row for row in rows_of(runtime, "patient")}
    assert (stored["甲"].gender, stored["甲"].birth_date, stored["甲"].tags, stored["甲"].consent_sms) == (
        "female",
        dt.date(1980, 3, 5),
        '["diabetes", "vip"]',
        True,
    )
    assert (stored["乙"].gender, stored["乙"].tags, stored["乙"].consent_sms) == (
        "male",
        '["hypertension", "elderly"]',
        False,
    )
    assert [(p.row, p.column, p.message) for p in report.problems] == [
        (4, "同意短信", "Not yes or no (是/否, yes/no, 1/0)."),
    ]
    assert report.integrity is not None and report.integrity.matches


def test_imported_readings_set_off_no_automations(clinic, tmp_path):
    from builder.system_tables import outbox

    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    path = tmp_path / "readings.csv"
    path.write_text("患者,测量时间,收缩压,舒张压\n老患者,2026/3/5 9:30,185,115\n", encoding="utf-8")
    mapping = parse_mapping(
        "entity: vital_reading\nfields:\n  patient: {column: 患者, by: name}\n"
        "  taken_at: 测量时间\n  systolic: 收缩压\n  diastolic: 舒张压\n"
    )
    report = run_import(runtime.records, admin, path, mapping)
    assert report.created == 1, report.problems
    (reading,) = rows_of(runtime, "vital_reading")
    assert (reading.taken_at, reading.risk, reading.patient) == (
        dt.datetime(2026, 3, 5, 9, 30),
        "high",
        clinic["existing"]["id"],
    )
    assert rows_of(runtime, "follow_up") == []  # typed in, this reading would open a follow-up
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar() == 0


def test_an_encrypted_field_matches_duplicates_by_its_keyed_hash(clinic, tmp_path):
    from builder.records import SYSTEM

    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    known = runtime.records.create(
        SYSTEM, "patient", {"name": "赵六", "phone": "13900000009", "id_number": "11010519491231002X"}
    )
    path = tmp_path / "ids.csv"
    path.write_text("姓名,手机,身份证号\n赵六,13900000010,11010519491231002x\n钱七,13900000011,\n", encoding="utf-8")
    mapping = parse_mapping(
        "entity: patient\nfields: {name: 姓名, phone: 手机, id_number: 身份证号}\nmatch: [[id_number], [phone]]\n"
    )
    report = run_import(runtime.records, admin, path, mapping)
    assert (report.created, report.skipped) == (1, 1)
    assert [(d.row, d.fields, d.record_id) for d in report.duplicates] == [(2, ("id_number",), known["id"])]
    table = runtime.records.schema.table("patient")
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(table.c.id_number).where(table.c.id == known["id"])).scalar() != (
            "11010519491231002X"
        )  # ciphertext at rest


def test_the_integrity_report_names_rows_the_database_does_not_hold_as_imported(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    source = clinic_patients_csv(tmp_path / "patients.csv")
    seen: list[int] = []
    report = run_import(
        runtime.records,
        admin,
        source,
        parse_mapping(MAPPING),
        ImportOptions(batch_size=100),
        progress=lambda done, total: seen.append(done),
    )
    assert seen == [100, 200, 300] and report.integrity is not None and report.integrity.matches
    table = runtime.records.schema.table("patient")
    with runtime.engine.begin() as conn:  # someone changes a stored name behind the record service's back
        conn.execute(table.update().where(table.c.name == "患者005").values(name="改过的"))
    written = {}
    with runtime.engine.connect() as conn:
        from builder.system_tables import import_rows

        for row, record_id in conn.execute(
            sa.select(import_rows.c.source_row, import_rows.c.record_id).where(import_rows.c.outcome == "created")
        ):
            written[row] = record_id
    rows = rows_of(runtime, "patient")
    by_id = {r.id: r for r in rows}
    source_values = {
        row: (record_id, {"name": canonical(f"患者{row - 2:03d}")})
        for row, record_id in written.items()
        if record_id in by_id
    }
    checked = check_integrity(runtime.records, parse_mapping(MAPPING), source_values)
    (name,) = [c for c in checked.columns if c.name == "name"]
    assert not name.matches and name.differing_rows == [7]  # row 7 is 患者005
    assert name.source_values == name.database_values == 294
    assert name.source_checksum != name.database_checksum


def test_a_resume_refuses_a_changed_file(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    source = clinic_patients_csv(tmp_path / "patients.csv")
    first = run_import(runtime.records, admin, source, parse_mapping(MAPPING), ImportOptions(stop_after=10))
    assert first.stopped == "stopped after 10 rows"
    source.write_bytes(source.read_bytes() + "新增,男,2000-01-01,13911112222,Dr. Li,\r\n".encode("gbk"))
    with pytest.raises(ImportFailed, match=f"patients.csv is not the file import `{first.import_id}` read"):
        run_import(runtime.records, admin, source, None, ImportOptions(resume=first.import_id))


def test_unique_refusals_on_masked_fields_count_as_look_ups_and_the_limit_stops_the_import(clinic, tmp_path):
    from builder.records.masked_lookups import MaskedLookupGuard
    from builder.system_tables import audit

    runtime, desk = clinic["runtime"], clinic["actors"]["front_desk"]
    runtime.records.masked_lookups = MaskedLookupGuard(limit=3, window_minutes=10)
    path = tmp_path / "probe.csv"
    lines = ["姓名,手机"] + [f"探{i},13800000010" for i in range(6)]  # the phone of the patient already there
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = parse_mapping("entity: patient\nfields: {name: 姓名, phone: 手机}\n")
    report = run_import(runtime.records, desk, path, mapping, ImportOptions(dry_run=True))
    assert [(p.row, p.column, p.message) for p in report.problems] == [
        (r, "手机", "This value is already used by another record.") for r in (2, 3, 4)
    ]  # row 5 was one look-up too many: its answer is withheld
    assert report.stopped is not None and "look" in report.stopped.lower()
    with runtime.engine.connect() as conn:
        probes = conn.execute(
            sa.select(sa.func.count()).where(audit.c.action == "masked_lookup", audit.c.actor == "front_desk")
        ).scalar()
    assert probes == 3  # the fourth was over the limit: refused, and the import stopped there


@pytest.mark.parametrize("batch_size", [1, 500])
def test_a_batch_matches_duplicates_as_each_row_alone_would(clinic, tmp_path, batch_size):
    """A batch looks its rows up together, yet each row finds what its own query would have found then:
    a record written earlier in the batch as it now is (changed values, new version), the second rule."""
    from builder.records import SYSTEM

    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    records = runtime.records
    a = records.create(SYSTEM, "patient", {"name": "张三", "birth_date": "1960-01-02", "phone": "13900000001"})
    b = records.create(SYSTEM, "patient", {"name": "李四", "birth_date": "1970-03-04", "phone": "13900000002"})
    path = tmp_path / "batch.csv"
    path.write_text(
        "姓名,出生日期,手机\n"
        "张三,1960/1/2,13900000101\n"  # row 2: a, by name and birth date; its phone becomes ...101
        "王五,1980/5/6,13900000101\n"  # row 3: a again, by the phone row 2 gave it; a is now 王五
        "李四,1970/3/4,\n"  # row 4: b by name and birth date
        "赵六,1990/7/8,13900000002\n"  # row 5: b by phone, after row 4 wrote it
        "钱七,1991/1/1,13900000200\n"  # row 6: new
        "孙八,1992/2/2,13900000200\n"  # row 7: the record row 6 created
        "张三,1960/1/2,13900000300\n",  # row 8: nobody is 张三 of 1960-01-02 any more: new
        encoding="utf-8",
    )
    mapping = parse_mapping(
        "entity: patient\nfields: {name: 姓名, birth_date: 出生日期, phone: 手机}\n"
        "match: [[name, birth_date], [phone]]\non_duplicate: update\n"
    )
    report = run_import(records, admin, path, mapping, ImportOptions(batch_size=batch_size))
    assert (report.created, report.updated, report.rejected) == (2, 5, 0), report.problems
    created = {row: record_id for row, (record_id, _values) in report_written(report, runtime).items()}
    by_rule = ("name", "birth_date")
    assert [(d.row, d.fields, d.record_id, d.earlier_row) for d in report.duplicates] == [
        (2, by_rule, a["id"], None),
        (3, ("phone",), a["id"], None),
        (4, by_rule, b["id"], None),
        (5, ("phone",), b["id"], None),
        (7, ("phone",), created[6], 6),
    ]
    stored = {r.id: (r.name, r.phone, r.version) for r in rows_of(runtime, "patient")}
    assert stored[a["id"]] == ("王五", "+8613900000101", 3)
    assert stored[b["id"]] == ("赵六", "+8613900000002", 3)
    assert stored[created[6]] == ("孙八", "+8613900000200", 2)
    assert stored[created[8]] == ("张三", "+8613900000300", 1)
    assert report.integrity is not None and report.integrity.matches


def report_written(report, runtime) -> dict[int, tuple[int, str]]:
    """{source row: (record id, outcome)} as the import remembered its rows."""
    from builder.system_tables import import_rows

    with runtime.engine.connect() as conn:
        found = conn.execute(
            sa.select(import_rows.c.source_row, import_rows.c.record_id, import_rows.c.outcome).where(
                import_rows.c.import_id == report.import_id
            )
        ).all()
    return {r.source_row: (r.record_id, r.outcome) for r in found}


def test_a_cell_text_repeated_down_a_column_converts_the_same_each_time(clinic, tmp_path):
    """Conversions are remembered by the cell's text: each row still gets its own list of options, and a
    text that does not convert is refused in every row that has it."""
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    path = tmp_path / "repeated.csv"
    path.write_text(
        "姓名,手机,性别,生日,标签,同意短信\n"
        + "".join(f"患者{i},1390000010{i},女,1980/3/5,糖尿病、会员,{'也许' if i % 2 else '是'}\n" for i in range(6)),
        encoding="utf-8",
    )
    mapping = parse_mapping(
        "entity: patient\nfields: {name: 姓名, phone: 手机, gender: 性别, birth_date: 生日,"
        " tags: {column: 标签, values: {会员: vip}}, consent_sms: 同意短信}\n"
    )
    report = run_import(runtime.records, admin, path, mapping)
    assert (report.created, report.rejected) == (3, 3)
    assert [(p.row, p.column) for p in report.problems] == [(3, "同意短信"), (5, "同意短信"), (7, "同意短信")]
    stored = [
        (r.gender, r.birth_date, r.tags, r.consent_sms) for r in rows_of(runtime, "patient") if r.name != "老患者"
    ]
    assert stored == [("female", dt.date(1980, 3, 5), '["diabetes", "vip"]', True)] * 3
    assert report.integrity is not None and report.integrity.matches


CLUB = """
app: {name: club, title: Club}
roles:
  admin: {title: Administrator}
entities:
  member:
    title: Member
    title_field: name
    fields:
      name: {type: text, required: true}
      phone: {type: phone}
      referrer: {type: link, to: member}
"""


def test_a_row_may_link_to_a_record_an_earlier_row_of_its_batch_wrote(tmp_path, database_url):
    """A link to the imported entity itself is converted when the row's turn comes, not with its batch."""
    from clinic_fixtures import build_runtime

    from builder.records import SYSTEM

    blueprint = tmp_path / "club.yaml"
    blueprint.write_text(CLUB, encoding="utf-8")
    runtime = build_runtime(tmp_path / "club", database_url, blueprint)
    try:
        path = tmp_path / "members.csv"
        path.write_text("姓名,手机,推荐人\n甲,13900000001,\n乙,13900000002,甲\n丙,13900000001,乙\n", encoding="utf-8")
        mapping = parse_mapping(
            "entity: member\nfields: {name: 姓名, phone: 手机, referrer: {column: 推荐人, by: name}}\nmatch: [phone]\n"
        )
        report = run_import(runtime.records, SYSTEM, path, mapping)
        assert (report.created, report.skipped, report.rejected) == (2, 1, 0), report.problems
        assert [(d.row, d.earlier_row) for d in report.duplicates] == [(4, 2)]
        members = {r.name: r for r in rows_of(runtime, "member")}
        assert members["乙"].referrer == members["甲"].id
        assert report.integrity is not None and report.integrity.matches
    finally:
        runtime.close()


def test_the_batch_look_up_finds_every_key_across_its_chunks(clinic):
    """Keys looked up a few values a query (the statement's limit on bound values) are all found,
    a rule of two fields only when both match, the lowest id first."""
    from builder.importing.matching import Matcher
    from builder.records import SYSTEM

    records = clinic["runtime"].records
    made = [
        records.create(
            SYSTEM, "patient", {"name": f"患者{i}", "birth_date": f"196{i}-01-02", "phone": f"1390000000{i}"}
        )
        for i in range(5)
    ]
    twin = records.create(SYSTEM, "patient", {"name": "患者1", "birth_date": "1961-01-02", "phone": "13900000011"})
    matcher = Matcher(records, SYSTEM, "patient", [["name", "birth_date"], ["phone"]])
    rows = [{"name": f"患者{i}", "birth_date": dt.date(1960 + i, 1, 2)} for i in range(5)]
    rows += [{"name": "患者0", "birth_date": dt.date(1961, 1, 2)}, {"phone": "139 0000 0003"}, {"phone": "13900000099"}]
    keys = [matcher.keys(values) for values in rows]
    with records.engine.connect() as conn:
        matcher.prefetch(conn, (key for row_keys in keys for key in row_keys), chunk=3)
        found = [matcher.find(conn, row_keys) for row_keys in keys]
    assert [m.record_id if m else None for m in found] == [made[i]["id"] for i in range(5)] + [
        None,
        made[3]["id"],
        None,
    ]
    assert twin["id"] > made[1]["id"]
