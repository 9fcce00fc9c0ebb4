"""Every data rewrite of `crm migrate` runs in committed batches and resumes after kill -9 (issue 12).

Re-encrypting a renamed encrypted field, filling a required field (plain and encrypted)
and cutting text to a shorter `max_length`: a `crm migrate` subprocess is killed with
SIGKILL mid-rewrite, a server opened on the half-rewritten table reads every patient
right, the next `crm migrate` finishes while a thread keeps reading (never a wrong
value), every value ends rewritten exactly once, and a rerun with the done marker
reset changes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from live_server import ClinicProject, clinic_project, run_cli
from rewrite_progress import kill_mid_rewrite, rewrite_progress

from builder.records import SYSTEM
from builder.runtime import open_runtime
from builder.storage.crypto import Keyring
from builder.storage.database import make_engine
from builder.storage.migrations.rewrites import PROGRESS_TABLE

PATIENT_FILE = "blueprint/entities/patient.yaml"
ANCHOR = "    email:       {type: email, label: {en: E-mail, zh-CN: 电子邮箱}}\n"
ROWS = 20000
FIRST = (
    "    insurance_no: {type: text, encrypted: true, label: {en: Insurance no, zh-CN: 保险号}}\n"
    "    nickname: {type: text, max_length: 100, label: {en: Nickname, zh-CN: 昵称}}\n"
)


def _nickname(n: int) -> str:
    return f"nickname-{n:06d}-" + "x" * 20


@dataclass(frozen=True)
class Kind:
    """One kind of rewrite: the blueprint change, and what a value may be during and after."""

    name: str
    field: str
    second: str  # the lines replacing FIRST
    during: Callable[[int, Any], bool]  # (patient number or None, value read) -> acceptable mid-rewrite
    after: Callable[[int, Any], bool]
    flags: tuple[str, ...] = ()


def _number(name: str) -> int:
    return int(name.rsplit(" ", 1)[1]) if name.startswith("Bulk ") else -1


KINDS = [
    Kind(
        "reencrypt",
        "policy_no",
        FIRST.replace(
            "insurance_no: {type: text, encrypted: true,",
            "policy_no: {type: text, encrypted: true, renamed_from: insurance_no,",
        ),
        during=lambda n, v: v == (f"INS-{n:06d}" if n >= 0 else None),
        after=lambda n, v: v == (f"INS-{n:06d}" if n >= 0 else None),
    ),
    Kind(
        "fill",
        "referral_code",
        FIRST
        + "    referral_code: {type: text, required: true, default: none, label: {en: Referral, zh-CN: 推荐码}}\n",
        during=lambda n, v: v in (None, "none"),
        after=lambda n, v: v == "none",
    ),
    Kind(
        "fill_encrypted",
        "memo",
        FIRST
        + "    memo: {type: text, required: true, encrypted: true, default: n/a, label: {en: Memo, zh-CN: 备注}}\n",
        during=lambda n, v: v in (None, "n/a"),
        after=lambda n, v: v == "n/a",
    ),
    Kind(
        "cut",
        "nickname",
        FIRST.replace("max_length: 100", "max_length: 10"),
        during=lambda n, v: v in ((_nickname(n), _nickname(n)[:10]) if n >= 0 else (None,)),
        after=lambda n, v: v == (_nickname(n)[:10] if n >= 0 else None),
        flags=("--allow-data-loss",),
    ),
]


def _edit_patient(root: Path, old: str, new: str) -> None:
    path = root / PATIENT_FILE
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def _project(tmp_path: Path, database_url: str) -> ClinicProject:
    """The clinic with two extra fields, migrated, and ROWS patients holding values in them."""
    project = clinic_project(tmp_path, database_url, patients=1)
    _edit_patient(project.root, ANCHOR, ANCHOR + FIRST)
    run_cli("migrate", "-p", str(project.root), "--yes")
    keyring = Keyring.load(project.key_file)
    engine = make_engine(project.database_url)
    try:
        with engine.begin() as connection:
            table = sa.Table("patient", sa.MetaData(), autoload_with=connection)
            template = dict(connection.execute(sa.select(table).limit(1)).one()._mapping)
            for column in ("id", "id_number", "id_number__hash"):
                template.pop(column, None)
            rows = []
            for n in range(ROWS):
                insurance = f"INS-{n:06d}"
                rows.append(
                    {
                        **template,
                        "name": f"Bulk {n}",
                        "phone": f"137{n:08d}",
                        "insurance_no": keyring.encrypt(insurance, "patient.insurance_no"),
                        "insurance_no__hash": keyring.blind_index(insurance),
                        "nickname": _nickname(n),
                    }
                )
            connection.execute(table.insert(), rows)
    finally:
        engine.dispose()
    return project


def _kill_mid_rewrite(project: ClinicProject, kind: Kind) -> tuple[int, bool]:
    state = kill_mid_rewrite(project, kind.flags)
    assert state is not None, "the migration did not reach its rewrite"
    return state


def _read_all(project: ClinicProject, field: str) -> dict[str, Any]:
    """{patient name: value of `field`} as a server on the new blueprint reads them."""
    runtime = open_runtime(project.root)
    try:
        found: dict[str, Any] = {}
        offset = 0
        while page := runtime.records.list(SYSTEM, "patient", limit=500, offset=offset).items:
            found.update({r["name"]: r.get(field) for r in page})
            offset += len(page)
        return found
    finally:
        runtime.close()


def _wrong(kind: Kind, values: dict[str, Any], check: Callable[[int, Any], bool]) -> list[tuple[str, Any]]:
    return [(name, value) for name, value in values.items() if not check(_number(name), value)]


def _stored(project: ClinicProject, *columns: str) -> list[tuple]:
    engine = make_engine(project.database_url)
    try:
        with engine.connect() as connection:
            query = f"SELECT {', '.join(columns)} FROM patient ORDER BY id"
            return [tuple(r) for r in connection.execute(sa.text(query))]
    finally:
        engine.dispose()


def _half_done(project: ClinicProject, kind: Kind) -> bool:
    """Whether the table really holds both rewritten and not yet rewritten rows."""
    keyring = Keyring.load(project.key_file)
    values = [v for (v,) in _stored(project, kind.field)]
    if kind.name == "reencrypt":
        tokens = [v for v in values if v is not None]
        new = [v for v in tokens if _decrypts(keyring, v, "patient.policy_no")]
        return 0 < len(new) < len(tokens)
    if kind.name == "cut":
        return any(v and len(v) > 10 for v in values) and any(v and len(v) <= 10 for v in values)
    return any(v is None for v in values) and any(v is not None for v in values)


def _decrypts(keyring: Keyring, token: str, context: str) -> bool:
    try:
        keyring.decrypt(token, context)
    except Exception:
        return False
    return True


def _assert_rewritten_once(project: ClinicProject, kind: Kind) -> None:
    """What the database holds, beyond what the record service shows: ciphertext under the right context once."""
    keyring = Keyring.load(project.key_file)
    if kind.name == "reencrypt":
        for name, token, index in _stored(project, "name", "policy_no", "policy_no__hash"):
            if _number(name) >= 0:
                plain = keyring.decrypt(token, "patient.policy_no")  # a second layer would decrypt to v1:…
                assert plain == f"INS-{_number(name):06d}" and index == keyring.blind_index(plain)
    if kind.name == "fill_encrypted":
        for token, index in _stored(project, "memo", "memo__hash"):
            assert keyring.decrypt(token, "patient.memo") == "n/a" and index == keyring.blind_index("n/a")


def _assert_backed_up_once(project: ClinicProject, backups: Path) -> None:
    """The --allow-data-loss backup of the cut: every value cut, as it was, exactly once (kill and resume included)."""
    [path] = backups.glob("migration-*/patient.nickname.jsonl")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    numbers = {row_id: _number(name) for row_id, name in _stored(project, "id", "name")}
    assert sorted(line["id"] for line in lines) == sorted(row_id for row_id, n in numbers.items() if n >= 0)
    assert all(line["nickname"] == _nickname(numbers[line["id"]]) for line in lines)


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_a_rewrite_killed_mid_batch_resumes_and_readers_never_see_a_wrong_value(tmp_path, database_url, kind):
    project = _project(tmp_path, database_url)
    _edit_patient(project.root, FIRST, kind.second)
    backups = tmp_path / "backups"
    if "--allow-data-loss" in kind.flags:
        kind = dataclasses.replace(kind, flags=(*kind.flags, "--backup-dir", str(backups)))

    killed_at = _kill_mid_rewrite(project, kind)
    assert 0 < killed_at[0] < ROWS + 1 and not killed_at[1], killed_at

    # A server opened on the half-rewritten table reads every patient right.
    assert _half_done(project, kind), "the kill did not land mid-rewrite"
    halfway = _read_all(project, kind.field)
    assert len(halfway) == ROWS + 1 and not _wrong(kind, halfway, kind.during)

    # The next `crm migrate` finishes it while a server keeps reading.
    wrong: list[tuple[str, Any]] = []
    reads = [0]
    finished = threading.Event()

    def reader() -> None:
        runtime = open_runtime(project.root)
        try:
            while not finished.is_set() or not reads[0]:
                page = runtime.records.list(SYSTEM, "patient", limit=500, offset=(reads[0] * 997) % ROWS).items
                wrong.extend(_wrong(kind, {r["name"]: r.get(kind.field) for r in page}, kind.during))
                reads[0] += 1
        finally:
            runtime.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        output = run_cli("migrate", "-p", str(project.root), "--yes", "--batch-size", "500")
    finally:
        finished.set()
        thread.join(timeout=120)
    assert "Finishing 1 interrupted data rewrite" in output and "already matches" in output, output
    assert reads[0] > 0 and not wrong, wrong[:5]
    assert rewrite_progress(project) == (ROWS + 1 if kind.name.startswith("fill") else ROWS, True)
    assert not _wrong(kind, _read_all(project, kind.field), kind.after)
    _assert_rewritten_once(project, kind)
    if kind.name == "cut":
        _assert_backed_up_once(project, backups)

    # Even with its done marker lost, a rerun recognises finished rows and changes nothing.
    stored = _stored(project, "*")
    engine = make_engine(project.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(f"UPDATE {PROGRESS_TABLE} SET last_id = 0, rows_done = 0, done = :no"), {"no": False}
            )
    finally:
        engine.dispose()
    run_cli("migrate", "-p", str(project.root), "--yes")
    assert _stored(project, "*") == stored
    if kind.name == "cut":
        _assert_backed_up_once(project, backups)
