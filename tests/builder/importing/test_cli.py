"""`crm import` on real projects: the suggested mapping, the printed report, rights by account, an
import killed mid-way and resumed without doubles, and the physio vertical's clients."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner
from messy_files import MAPPING, clinic_patients_csv

from builder.cli import main

REPO = Path(__file__).resolve().parents[3]


def crm(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def clinic_project(tmp_path: Path, url: str, monkeypatch) -> Path:
    """`crm init` + `crm migrate`, two doctors, and an account per role (admin, nurse)."""
    from argon2 import PasswordHasher

    from builder.accounts import add_user
    from builder.records import SYSTEM
    from builder.runtime import open_runtime

    monkeypatch.setenv("CRM_DATABASE_URL", url)
    monkeypatch.setenv("CRM_KEY_FILE", str(tmp_path / "keys" / "crm-keys.json"))
    project = tmp_path / "clinic"
    assert crm("init", project)[0] == 0
    assert crm("migrate", "-p", project, "--yes")[0] == 0
    runtime = open_runtime(project)
    try:
        quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        roles = list(runtime.blueprint.roles)
        for name in ("admin", "nurse"):
            add_user(runtime.engine, name, name, "correct-horse-battery-staple", "en", roles=roles, hasher=quick)
        for name in ("Dr. Li", "Dr. Zhao"):
            runtime.records.create(SYSTEM, "staff", {"name": name})
    finally:
        runtime.close()
    return project


def count(url: str, table: str) -> int:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


def test_suggest_then_dry_run_then_import_prints_the_report(tmp_path, database_url, monkeypatch):
    project = clinic_project(tmp_path, database_url, monkeypatch)
    source = clinic_patients_csv(tmp_path / "patients.csv")

    code, suggested = crm("import", "patient", source, "-p", project, "--suggest-mapping")
    assert code == 0
    assert suggested.splitlines()[2:] == [
        "entity: patient",
        "fields:",
        "  name: 姓名",
        "  gender: 性别",
        "  birth_date: 出生日期",
        "  phone: 手机",
        "  primary_doctor:",
        "    column: 主治医生",
        "    by: name",
        "match: [[phone], [name, birth_date]]",
        "on_duplicate: skip",
    ]
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(suggested, encoding="utf-8")

    code, output = crm("import", "patient", source, "-p", project, "-m", mapping, "--as", "admin", "--dry-run")
    assert code == 0, output
    lines = output.splitlines()
    assert [line for line in lines if line] == [
        "Dry run (nothing written): patients.csv -> patient",
        "  rows read           300",
        "  would create        295",
        "  would update          0",
        "  skipped               2  (duplicates)",
        "  rejected              3",
        "  duplicate: row 152 has the same phone as row 52 of the file: skipped",
        "  duplicate: row 252 has the same phone as row 62 of the file: skipped",
        "  row 101 手机: Enter a valid phone number.",
        "  row 201 出生日期: Not a date (write 2026-03-05, 2026/3/5 or 2026年3月5日, or give the column a `format:`).",
        "  row 301: The row has 1 more cell(s) than the header: a shifted or broken row.",
    ]
    assert count(database_url, "patient") == 0

    code, output = crm("import", "patient", source, "-p", project, "-m", MAPPING_FILE(tmp_path), "--as", "admin")
    assert code == 0, output
    assert "  created             295" in output.splitlines()
    assert "Integrity: 295 records written, file against database matches" in output
    assert f"Rejected rows, with their errors: {tmp_path / 'patients.rejects.csv'}" in output
    assert count(database_url, "patient") == 295


def MAPPING_FILE(tmp_path: Path) -> Path:
    path = tmp_path / "phone-mapping.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


def test_an_account_without_the_right_is_refused(tmp_path, sqlite_url, monkeypatch):
    project = clinic_project(tmp_path, sqlite_url, monkeypatch)
    source = clinic_patients_csv(tmp_path / "patients.csv")
    code, output = crm("import", "patient", source, "-p", project, "-m", MAPPING_FILE(tmp_path), "--as", "nurse")
    assert code == 1
    assert "role `nurse` may not create patient records: the import is refused" in " ".join(output.split())
    assert crm("import", "patient", source, "-p", project, "--as", "nobody")[1].split() == (
        ["error:", "there", "is", "no", "user", "`nobody`", "(crm", "user", "add)"]
    )
    assert count(sqlite_url, "patient") == 0
    code, output = crm("import", "patient", source, "-p", project, "--as", "admin", "--dry-run")
    assert code == 0, output
    assert "No --mapping: using the suggested one (see --suggest-mapping)." in output
    assert "  would create        295" in output.splitlines()


def test_a_stopped_import_exits_3_and_says_how_to_go_on(tmp_path, sqlite_url, monkeypatch):
    project = clinic_project(tmp_path, sqlite_url, monkeypatch)
    source = clinic_patients_csv(tmp_path / "patients.csv")
    mapping = MAPPING_FILE(tmp_path)
    code, output = crm("import", "patient", source, "-p", project, "-m", mapping, "--stop-after", "50")
    assert code == 3
    import_id = output.split("Import ", 1)[1].split(":", 1)[0]
    assert f"Stopped (stopped after 50 rows). Go on with: crm import patient patients.csv --resume {import_id}" in (
        " ".join(output.split())
    )
    assert count(sqlite_url, "patient") == 50
    code, output = crm("import", "patient", source, "-p", project, "--resume", import_id)
    assert code == 0 and count(sqlite_url, "patient") == 295


def big_file(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["姓名", "手机"])
        for i in range(rows):
            writer.writerow([f"患者{i:05d}", f"139{i:08d}"])
    return path


def test_an_import_killed_midway_resumes_without_doubles(tmp_path, database_url, monkeypatch):
    project = clinic_project(tmp_path, database_url, monkeypatch)
    source = big_file(tmp_path / "many.csv", 2000)
    mapping = tmp_path / "m.yaml"
    mapping.write_text("entity: patient\nfields: {name: 姓名, phone: 手机}\nmatch: [phone]\n", encoding="utf-8")
    command = [sys.executable, "-c", "from builder.cli import main; main()", "import", "patient", str(source)]
    command += ["-p", str(project), "-m", str(mapping), "--batch-size", "20"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if count(database_url, "crm_import_row") >= 100:
                    break
            except sa.exc.DBAPIError:
                pass  # the tables are being created
            time.sleep(0.02)
        assert process.poll() is None, "the import ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    written = count(database_url, "patient")
    assert 100 <= written < 2000
    assert written == count(database_url, "crm_import_row")  # a row and its record are committed together

    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        import_id, status = conn.execute(sa.text("SELECT id, status FROM crm_import_run")).one()
    engine.dispose()
    assert status == "running"  # killed: it never said otherwise
    code, output = crm("import", "patient", source, "-p", project, "--resume", import_id)
    assert code == 0, output
    assert f"  already done   {written:>8}  (by the earlier pass)" in output.splitlines()
    assert f"  created        {2000 - written:>8}" in output.splitlines()
    assert "Integrity: 2000 records written, file against database matches" in output
    assert count(database_url, "patient") == 2000
    assert count(database_url, "(SELECT DISTINCT phone FROM patient) AS p") == 2000


def test_ctrl_c_rolls_back_the_batch_and_marks_the_import_stopped(tmp_path, sqlite_url, monkeypatch):
    project = clinic_project(tmp_path, sqlite_url, monkeypatch)
    source = big_file(tmp_path / "many.csv", 20000)  # wide enough that Ctrl-C lands mid-import
    mapping = tmp_path / "m.yaml"
    mapping.write_text("entity: patient\nfields: {name: 姓名, phone: 手机}\nmatch: [phone]\n", encoding="utf-8")
    command = [sys.executable, "-c", "from builder.cli import main; main()", "import", "patient", str(source)]
    command += ["-p", str(project), "-m", str(mapping), "--batch-size", "20"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if count(sqlite_url, "crm_import_row") >= 100:
                    break
            except sa.exc.DBAPIError:
                pass
            time.sleep(0.02)
        assert process.poll() is None, "the import ended before Ctrl-C"
        process.send_signal(signal.SIGINT)
        output, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 3, output + errors[-3000:]
    assert "Stopped (interrupted). Go on with: crm import patient many.csv --resume" in " ".join(output.split())
    written = count(sqlite_url, "patient")
    assert written == count(sqlite_url, "crm_import_row") and 100 <= written < 20000
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM crm_import_run")).scalar_one() == "stopped"
    engine.dispose()


def test_the_physio_vertical_imports_its_clients(tmp_path, database_url, monkeypatch):
    from physio import init_physio_project

    from builder.records import SYSTEM
    from builder.runtime import open_runtime

    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    project = init_physio_project(tmp_path / "physio", database_url)
    assert crm("migrate", "-p", project, "--yes")[0] == 0
    runtime = open_runtime(project)
    try:
        runtime.records.create(SYSTEM, "therapist", {"display_name": "陈治疗师", "specialty": "sports"})
    finally:
        runtime.close()
    source = tmp_path / "clients.csv"
    lines = [
        "姓名,性别,出生日期,手机号,身份证号,治疗师,转介来源,短信提醒",
        "周杰,男,1990年3月15日,１３７００１３７０００,11010519491231002X,陈治疗师,全科医生,是",
        "吴敏,女,1988/7/1,137 0013 7001,,陈治疗师,Surgeon,否",
        "郑强,男,1975-01-20,13700137002,110105194912310021,陈治疗师,自行就诊,是",  # a wrong check digit
        "孙丽,女,2001/2/30,13700137003,,林治疗师,,",  # no 30 February, no such therapist
    ]
    source.write_bytes("\r\n".join(lines).encode("gbk"))
    code, suggested = crm("import", "client", source, "-p", project, "--suggest-mapping")
    assert code == 0
    assert "  therapist:\n    column: 治疗师\n    by: display_name\n" in suggested
    assert "match: [[mobile], [id_number]]" in suggested
    mapping = tmp_path / "clients.yaml"
    mapping.write_text(suggested, encoding="utf-8")
    code, output = crm("import", "client", source, "-p", project, "-m", mapping, "--json")
    assert code == 0, output
    import json

    report = json.loads(output)
    assert (report["created"], report["rejected"]) == (2, 2)
    assert [(p["row"], p["column"]) for p in report["problems"]] == [
        (4, "身份证号"),
        (5, "出生日期"),
        (5, "治疗师"),
    ]
    assert report["integrity"]["matches"] is True
    assert {c["field"]: c["source_values"] for c in report["integrity"]["columns"]}["id_number"] == 1
