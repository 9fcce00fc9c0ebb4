"""docs/import.md:121: "Messages never quote a cell's value, except a link's natural key"."""

from __future__ import annotations

from builder.importing import run_import
from builder.importing.mapping import parse_mapping

MAPPING = """
entity: patient
fields:
  name: 姓名
  phone: 手机
  gender: 性别
  birth_date: 出生日期
  email: 邮箱
  tags: 标签
  consent_sms: 同意短信
  id_number: 身份证
  primary_doctor: {column: 医生, by: name}
"""
HEADER = "姓名,手机,性别,出生日期,邮箱,标签,同意短信,身份证,医生"
# One bad cell a row, each a value that must not come back in a message.
BAD_ROWS = [
    ("手机", "A1,13Q9SECRET71,,,,,,,"),
    ("性别", "A2,13900000702,SECRETGENDER,,,,,,"),
    ("出生日期", "A3,13900000703,,SECRET1980,,,,,"),
    ("出生日期", "A4,13900000704,,2999-01-01,,,,,"),  # after today: a rule, not a shape
    ("邮箱", "A5,13900000705,,,SECRET@@mail,,,,"),
    ("标签", "A6,13900000706,,,,SECRETTAG、vip,,,"),
    ("同意短信", "A7,13900000707,,,,,SECRETBOOL,,"),
    ("身份证", "A8,13900000708,,,,,,11010519491231SECRET,"),
    ("身份证", "A9,13900000709,,,,,,110105194912310021,"),  # a wrong check digit
    ("姓名", f"{'SECRETNAME' * 30},13900000710,,,,,,,"),  # longer than 255 characters
    ("手机", "B1,13800138000,,,,,,,"),  # the phone of the patient already there: unique
]
SECRETS = ["SECRET", "13Q9", "2999", "110105194912310021", "13800138000", "+8613800138000", "138****8000"]


def test_a_rows_problems_name_the_column_never_the_cell(clinic, tmp_path):
    runtime, admin = clinic["runtime"], clinic["actors"]["admin"]
    runtime.records.update(
        admin, "patient", clinic["existing"]["id"], {"phone": "13800138000"}, version=clinic["existing"]["version"]
    )
    path = tmp_path / "bad.csv"
    rows = [*BAD_ROWS, ("医生", "C1,13900000711,,,,,,,Dr. Nobody")]
    path.write_text(HEADER + "\n" + "\n".join(line for _, line in rows) + "\n", encoding="utf-8")

    report = run_import(runtime.records, admin, path, parse_mapping(MAPPING))

    assert report.created == 0
    found = {(p.row, p.column) for p in report.problems}
    assert {row for row, _ in found} == set(range(2, 2 + len(rows)))  # every row has its problem
    said = [p.message for p in report.problems]
    for message in said:
        for secret in SECRETS:
            assert secret not in message, message
    assert "No staff record is “Dr. Nobody”." in said  # the one value a message may quote: a link's key
