"""docs/import.md:117-120: `crm import --rejects PATH` writes the bad rows there, with the input's columns,
encoding and delimiter, plus `import errors` (`导入错误` in Chinese); the same mapping imports the fixed file."""

from __future__ import annotations

import csv

from test_cli import clinic_project, count, crm

MAPPING = "entity: patient\nfields: {name: 姓名, phone: 手机, birth_date: 出生日期}\n"


def test_rejects_go_to_the_path_given_in_the_input_shape_and_the_accounts_language(tmp_path, database_url, monkeypatch):
    project = clinic_project(tmp_path, database_url, monkeypatch)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    source = tmp_path / "patients.txt"  # Excel's "Unicode text": UTF-16 with a mark, tabs
    lines = [
        "姓名\t手机\t出生日期",
        "王芳\t13900139000\t1980-03-05",
        "李雷\t12345\t1985/12/1",
        "韩梅梅\t13900139002\t明年",
    ]
    source.write_bytes("\r\n".join(lines).encode("utf-16"))
    rejects = tmp_path / "out" / "bad.txt"
    rejects.parent.mkdir()

    code, output = crm("import", "patient", source, "-p", project, "-m", mapping, "--rejects", rejects)

    assert code == 0, output
    assert f"Rejected rows, with their errors: {rejects}" in " ".join(output.split())
    assert not (tmp_path / "patients.rejects.txt").exists()
    raw = rejects.read_bytes()
    assert raw.startswith(b"\xff\xfe")  # UTF-16 with its mark, as read
    rows = list(csv.reader(raw.decode("utf-16").splitlines(), delimiter="\t"))
    assert rows[0] == ["姓名", "手机", "出生日期", "导入错误"]  # the system imports in the clinic's language
    assert [r[:3] for r in rows[1:]] == [["李雷", "12345", "1985/12/1"], ["韩梅梅", "13900139002", "明年"]]
    assert rows[1][3].startswith("行 3 手机: ") and rows[2][3].startswith("行 4 出生日期: ")
    assert count(database_url, "patient") == 1

    fixed = tmp_path / "fixed.txt"
    fixed.write_bytes(
        "\r\n".join(["\t".join(rows[0]), "李雷\t13900139001\t1985/12/1\t", "韩梅梅\t13900139002\t1990-07-01\t"]).encode(
            "utf-16"
        )
    )
    code, output = crm("import", "patient", fixed, "-p", project, "-m", mapping)
    assert code == 0, output
    assert "Integrity: 2 records written, file against database matches" in output
    assert count(database_url, "patient") == 3
