"""Reading files as clinics send them: encodings detected, delimiters sniffed, merged XLSX headers,
Excel dates; and the mapping suggested from their headers."""

from __future__ import annotations

import codecs
import datetime as dt

import pytest
from messy_files import FULL_WIDTH, clinic_patients_csv, merged_header_xlsx

from builder.importing import ImportFailed, open_source
from builder.importing.normalising import parse_date, parse_datetime, text_of
from builder.importing.suggesting import suggest_mapping


def read(path, **kwargs):
    with open_source(path, **kwargs) as source:
        return source, [(row.row, row.cells) for row in source.rows]


def test_gbk_behind_a_wrong_utf8_mark_is_read_as_gbk(tmp_path):
    source, rows = read(clinic_patients_csv(tmp_path / "p.csv"))
    assert (source.encoding, source.delimiter) == ("gb18030", ",")
    assert source.columns == ["姓名", "性别", "出生日期", "手机", "主治医生", "备注"]
    first = {"姓名": " 患者000 ", "性别": "男", "出生日期": "1950/1/1", "手机": "13800000000".translate(FULL_WIDTH)}
    assert rows[0] == (2, first | {"主治医生": "Dr. Li", "备注": ""})
    assert len(rows) == 300 and rows[-1][0] == 301


@pytest.mark.parametrize(
    ("encoding", "prefix", "delimiter", "detected"),
    [
        ("utf-8", b"", ",", "utf-8"),
        ("utf-8", codecs.BOM_UTF8, ";", "utf-8"),
        ("utf-16", b"", "\t", "utf-16"),  # Excel's "Unicode text": a mark, then UTF-16 LE, tabs
        ("utf-16-le", b"", "\t", "utf-16-le"),  # no mark
        ("gbk", b"", "|", "gb18030"),
    ],
)
def test_encodings_and_delimiters_are_detected(tmp_path, encoding, prefix, delimiter, detected):
    lines = [["姓名", "手机", "备注"], ["张三", "13800138000", "对青霉素过敏"]]
    text = "".join(delimiter.join(line) + "\r\n" for line in lines)
    path = tmp_path / "f.csv"
    path.write_bytes(prefix + text.encode(encoding))
    source, rows = read(path)
    assert (source.encoding, source.delimiter) == (detected, delimiter)
    assert rows == [(2, {"姓名": "张三", "手机": "13800138000", "备注": "对青霉素过敏"})]


def test_a_binary_file_is_refused_in_words(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(bytes(range(128, 256)) * 10)
    with pytest.raises(ImportFailed, match="neither UTF-8, UTF-16 nor GBK"):
        open_source(path)
    with pytest.raises(ImportFailed, match="there is no file"):
        open_source(tmp_path / "missing.csv")
    (tmp_path / "fake.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(ImportFailed, match=r"is not an Excel \.xlsx workbook"):
        open_source(tmp_path / "fake.xlsx")


def test_a_merged_two_row_header_and_excel_dates(tmp_path):
    source, rows = read(merged_header_xlsx(tmp_path / "p.xlsx"))
    assert (source.kind, source.header_rows) == ("xlsx", 2)
    assert source.columns == ["姓名", "性别", "出生日期", "手机", "邮箱"]
    assert [r[0] for r in rows] == [3, 4, 6]  # row 5 is empty: skipped, numbers kept
    assert rows[0][1]["出生日期"] == dt.datetime(1980, 3, 5)
    assert parse_date(rows[1][1]["出生日期"]) == dt.date(1985, 12, 1)  # the serial 31382
    assert text_of(rows[0][1]["手机"]) == "13900139000"  # a number cell
    assert text_of(rows[1][1]["手机"]) == "13900139001"  # full-width text


def test_date_shapes_people_type():
    assert {
        parse_date(text)
        for text in ("2026-03-05", "2026/3/5", "2026.3.5", "2026年3月5日", "20260305", "46086")
        + ("２０２６／３／５", "2026-03-05 00:00:00")
    } == {dt.date(2026, 3, 5)}
    assert parse_date("05/03/2026", ["%d/%m/%Y"]) == dt.date(2026, 3, 5)
    with pytest.raises(ValueError):
        parse_date("05/03/2026")  # day-first or month-first: never guessed
    assert parse_datetime("2026/3/5 9:30") == dt.datetime(2026, 3, 5, 9, 30)
    assert parse_datetime("2026年3月5日 9时30分") == dt.datetime(2026, 3, 5, 9, 30)
    assert parse_datetime(46086.5) == dt.datetime(2026, 3, 5, 12, 0)


def test_the_suggested_mapping_reads_chinese_and_english_headers(tmp_path):
    from clinic_fixtures import CLINIC

    from builder.loading import load_blueprint

    entities = load_blueprint(CLINIC).blueprint.entities
    columns = ["姓名", "性别", "出生日期", "电话", "身份证号码", "Primary doctor", "E-mail", "来源", "标签", "备注"]
    sample = [{"性别": "男", "标签": "糖尿病、高血压"}, {"性别": "F", "标签": "会员"}]
    mapping = suggest_mapping("patient", entities, columns, sample)
    assert mapping.to_yaml() == (
        "entity: patient\n"
        "fields:\n"
        "  name: 姓名\n"
        "  gender:\n"
        "    column: 性别\n"
        "    values:\n"
        "      F: null\n"
        "  birth_date: 出生日期\n"
        "  phone: 电话\n"
        "  id_number: 身份证号码\n"
        "  primary_doctor:\n"
        "    column: Primary doctor\n"
        "    by: name\n"
        "  email: E-mail\n"
        "  tags:\n"
        "    column: 标签\n"
        "    values:\n"
        "      会员: null\n"
        "match: [[phone], [id_number], [name, birth_date]]\n"
        "on_duplicate: skip\n"
    )
