"""The record service applies every rule of the clinic blueprint, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from builder.records import SYSTEM, Actor, Conflict, NotFound, PermissionDenied, ValidationFailed
from builder.system_tables import audit
from engines.forms.fieldtypes import resident_id_check_digit
from engines.rules import get_timezone

FRONT_DESK_ZH = Actor(7, "desk", "front_desk", locale="zh-CN")
FRONT_DESK_EN = Actor(7, "desk", "front_desk", locale="en")


def resident_id(birth: str = "19800501", serial: str = "124") -> str:
    first17 = "330106" + birth + serial
    return first17 + resident_id_check_digit(first17)


def errors_of(excinfo) -> dict[str, list[str]]:
    return {e.field: e.code for e in excinfo.value.errors}


def patient(service, **values):
    base = {"name": "王芳", "phone": "13812345678", "gender": "female"}
    return service.create(SYSTEM, "patient", {**base, **values})


def test_required_fields_are_reported_together(service):
    with pytest.raises(ValidationFailed) as excinfo:
        service.create(SYSTEM, "patient", {"gender": "male"})
    assert errors_of(excinfo) == {"name": "required", "phone": "required"}


def test_messages_follow_the_actor_locale(service):
    for actor, text in ((FRONT_DESK_ZH, "此项为必填项。"), (FRONT_DESK_EN, "This field is required.")):
        with pytest.raises(ValidationFailed) as excinfo:
            service.create(actor, "patient", {"phone": "13812345678"})
        assert excinfo.value.by_field()["name"] == [text]


def test_unique_phone(service):
    patient(service)
    with pytest.raises(ValidationFailed) as excinfo:
        patient(service, name="李雷")
    assert errors_of(excinfo) == {"phone": "unique"}


def test_min_and_max(service, doctor_id):
    p = patient(service)
    with pytest.raises(ValidationFailed) as excinfo:
        service.create(SYSTEM, "vital_reading", {"patient": p["id"], "systolic": 300, "diastolic": 10})
    assert errors_of(excinfo) == {"systolic": "max", "diastolic": "min"}
    with pytest.raises(ValidationFailed) as excinfo:
        patient(service, phone="13900000000", birth_date=(dt.date.today() + dt.timedelta(days=1)).isoformat())
    assert errors_of(excinfo) == {"birth_date": "max"}


def test_resident_id_checksum(service):
    good = resident_id()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(ValidationFailed) as excinfo:
        patient(service, id_number=bad)
    assert errors_of(excinfo) == {"id_number": "invalid_resident_id"}
    assert patient(service, id_number=good)["id_number"] == good


def test_computed_age_and_read_only(service):
    born = dt.date.today().replace(year=dt.date.today().year - 40) - dt.timedelta(days=1)
    p = patient(service, birth_date=born.isoformat())
    assert p["age"] == 40
    with pytest.raises(ValidationFailed) as excinfo:
        patient(service, phone="13900000001", age=3)
    assert errors_of(excinfo) == {"age": "read_only"}


def test_defaults(service, doctor_id):
    p = patient(service)
    assert p["stage"] == "lead" and p["consent_sms"] is False
    before = dt.datetime.now(get_timezone()).replace(tzinfo=None, microsecond=0)
    reading = service.create(SYSTEM, "vital_reading", {"patient": p["id"], "systolic": 150, "diastolic": 85})
    assert (
        before - dt.timedelta(seconds=1) <= reading["taken_at"] <= dt.datetime.now(get_timezone()).replace(tzinfo=None)
    )
    appt = service.create(
        SYSTEM, "appointment", {"patient": p["id"], "doctor": doctor_id, "starts_at": "2026-12-01T09:00"}
    )
    assert appt["minutes"] == 20 and appt["status"] == "requested"


def test_record_validation_message_per_locale(service):
    with pytest.raises(ValidationFailed) as excinfo:
        service.create(
            Actor(1, "doc", "doctor", locale="zh-CN"),
            "patient",
            {"name": "张伟", "phone": "13700000000", "gender": "male", "pregnancy": True},
        )
    assert excinfo.value.by_field() == {"pregnancy": ["仅女性患者可标记为怀孕"]}


def test_dangling_link_is_refused(service):
    with pytest.raises(ValidationFailed) as excinfo:
        service.create(SYSTEM, "visit", {"patient": 999, "visited_at": "2026-01-01T10:00"})
    assert errors_of(excinfo) == {"patient": "invalid_link"}


def test_optimistic_lock_conflict(service):
    p = patient(service)
    service.update(SYSTEM, "patient", p["id"], {"stage": "active"}, version=1)
    with pytest.raises(Conflict):
        service.update(SYSTEM, "patient", p["id"], {"stage": "dormant"}, version=1)
    assert service.get(SYSTEM, "patient", p["id"])["stage"] == "active"


def test_failed_write_leaves_nothing(service):
    p = patient(service)
    with pytest.raises(ValidationFailed):
        service.create(
            SYSTEM,
            "visit",
            {
                "patient": p["id"],
                "visited_at": "2026-01-01T10:00",
                "prescriptions": [{"drug": "阿司匹林"}, {"dose": "no drug"}],
            },
        )
    assert service.list(SYSTEM, "visit").total == 0
    with service.engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(service.schema.child("visit", "prescriptions"))
            ).scalar()
            == 0
        )


def test_child_rows_round_trip(service):
    p = patient(service)
    visit = service.create(
        SYSTEM,
        "visit",
        {
            "patient": p["id"],
            "visited_at": "2026-01-01T10:00",
            "prescriptions": [{"drug": "二甲双胍", "days": 30}, {"drug": "阿司匹林"}],
        },
    )
    assert [r["drug"] for r in visit["prescriptions"]] == ["二甲双胍", "阿司匹林"]
    changed = service.update(SYSTEM, "visit", visit["id"], {"prescriptions": [{"drug": "氨氯地平", "days": 7}]}, 1)
    assert [(r["drug"], r["days"]) for r in changed["prescriptions"]] == [("氨氯地平", 7)]


def test_encrypted_field_is_unreadable_in_the_database_yet_searchable(service, database_url):
    number = resident_id("19751203", "456")
    p = patient(service, id_number=number)
    with service.engine.connect() as conn:
        raw = conn.execute(sa.text("SELECT id_number, id_number__hash FROM patient")).one()
    assert number not in raw[0] and number not in raw[1]
    if database_url.startswith("sqlite"):
        service.engine.dispose()
        path = Path(database_url.removeprefix("sqlite:///"))
        for file in [path, *path.parent.glob(path.name + "-*")]:
            assert number.encode() not in file.read_bytes()
    found = service.list(SYSTEM, "patient", filters={"id_number": number})
    assert [r["id"] for r in found.items] == [p["id"]]
    assert service.get(SYSTEM, "patient", p["id"])["id_number"] == number
    with pytest.raises(ValidationFailed) as excinfo:
        patient(service, phone="13600000000", id_number=number)
    assert errors_of(excinfo) == {"id_number": "unique"}


def test_permissions_masking_and_row_filters(service):
    p = patient(service, id_number=resident_id(), allergies="青霉素")
    seen = service.get(FRONT_DESK_EN, "patient", p["id"])
    assert seen["phone"] == "138****5678"
    assert "allergies" not in seen and "id_number" not in seen
    marketing = Actor(9, "mkt", "marketing")
    assert service.list(marketing, "patient").total == 0
    with pytest.raises(NotFound):
        service.get(marketing, "patient", p["id"])
    service.update(SYSTEM, "patient", p["id"], {"consent_marketing": True}, version=1)
    assert service.list(marketing, "patient").total == 1
    with pytest.raises(PermissionDenied):
        service.list(Actor(3, "ana", "analyst"), "patient")
    with pytest.raises(ValidationFailed) as excinfo:
        service.list(FRONT_DESK_EN, "patient", filters={"allergies": "青霉素"})
    assert errors_of(excinfo) == {"allergies": "unknown_field"}


def test_masked_value_sent_back_keeps_the_stored_one(service):
    p = patient(service)
    updated = service.update(FRONT_DESK_EN, "patient", p["id"], {"phone": "138****5678", "name": "王芳芳"}, 1)
    assert updated["name"] == "王芳芳"
    assert service.get(SYSTEM, "patient", p["id"])["phone"] == "+8613812345678"  # stored E.164


def test_audit_trail_is_written_with_the_change(service):
    p = patient(service, allergies="花粉")
    service.update(SYSTEM, "patient", p["id"], {"stage": "active", "allergies": "尘螨"}, version=1)
    service.get(Actor(1, "doc", "doctor"), "patient", p["id"])
    with service.engine.connect() as conn:
        rows = conn.execute(sa.select(audit).order_by(audit.c.id)).all()
    actions = [(r.action, r.entity, r.record_id) for r in rows]
    assert actions == [("create", "patient", p["id"]), ("update", "patient", p["id"]), ("view", "patient", p["id"])]
    update = rows[1]
    assert '"stage": ["lead", "active"]' in update.changes
    assert "尘螨" not in update.changes and '"allergies": "changed"' in update.changes
    assert rows[2].actor == "doc"


def test_decision_tables_compute_risk(service):
    p = patient(service)
    readings = [
        (118, 76, None, None),
        (150, 85, "6.5", "fasting"),
        (185, 100, "12.0", "random"),
        (None, None, "3.5", "random"),
    ]
    risks = []
    for systolic, diastolic, glucose, context in readings:
        values = {
            "patient": p["id"],
            "systolic": systolic,
            "diastolic": diastolic,
            "glucose": glucose,
            "glucose_context": context,
        }
        record = service.create(SYSTEM, "vital_reading", {k: v for k, v in values.items() if v is not None})
        risks.append((record["risk"], record["glucose_risk"]))
    assert risks == [("normal", None), ("elevated", "elevated"), ("high", "high"), (None, "low")]


def test_double_booking_is_refused_in_sql(service, doctor_id):
    p = patient(service)
    other_doctor = service.create(SYSTEM, "staff", {"name": "张医生"})["id"]
    first = service.create(
        SYSTEM, "appointment", {"patient": p["id"], "doctor": doctor_id, "starts_at": "2026-12-01T09:00", "minutes": 30}
    )
    with pytest.raises(ValidationFailed) as excinfo:
        service.create(
            SYSTEM, "appointment", {"patient": p["id"], "doctor": doctor_id, "starts_at": "2026-12-01T09:20"}
        )
    assert errors_of(excinfo) == {"starts_at": "rule"}
    service.create(SYSTEM, "appointment", {"patient": p["id"], "doctor": other_doctor, "starts_at": "2026-12-01T09:20"})
    service.create(SYSTEM, "appointment", {"patient": p["id"], "doctor": doctor_id, "starts_at": "2026-12-01T09:30"})
    # moving the first appointment does not collide with itself
    service.update(SYSTEM, "appointment", first["id"], {"starts_at": "2026-12-01T08:55"}, version=1)
    service.update(SYSTEM, "appointment", first["id"], {"status": "cancelled"}, version=2)
    service.create(SYSTEM, "appointment", {"patient": p["id"], "doctor": doctor_id, "starts_at": "2026-12-01T09:05"})


def test_explain_says_which_row_matched_and_hides_unreadable_inputs(service):
    p = patient(service)
    reading = service.create(SYSTEM, "vital_reading", {"patient": p["id"], "systolic": 150, "diastolic": 80})
    why = service.explain(Actor(1, "nurse", "nurse"), "vital_reading", reading["id"])["risk"]
    assert why["value"] == "elevated" and why["reads"] == {"systolic": 150, "diastolic": 80}
    decision = why["decisions"][0]
    assert decision["table"] == "bp_risk" and decision["chosen"] == 3
    assert {i["input"]: i["value"] for i in decision["inputs"]} == {"systolic": 150, "diastolic": 80}
    with pytest.raises(PermissionDenied):
        service.explain(FRONT_DESK_EN, "vital_reading", reading["id"])


def test_a_rule_that_fails_at_run_time_writes_nothing(tmp_path, sqlite_url):
    from builder.loading import load_blueprint
    from builder.records import RecordService
    from builder.storage.database import make_engine

    (tmp_path / "bp.yaml").write_text(
        "app: {name: t}\n"
        "entities:\n"
        "  score:\n"
        "    fields:\n"
        "      n: {type: integer}\n"
        "      big: {type: decimal, compute: '10 ** n'}\n",
        encoding="utf-8",
    )
    loaded = load_blueprint(tmp_path / "bp.yaml")
    engine = make_engine(sqlite_url)
    records = RecordService(loaded.blueprint.entities, engine)
    records.schema.metadata.create_all(engine)
    from builder.system_tables import create_system_tables

    create_system_tables(engine)
    with pytest.raises(ValidationFailed) as excinfo:
        records.create(SYSTEM, "score", {"n": 100000})
    assert errors_of(excinfo) == {"big": "rule_failed"}
    assert records.list(SYSTEM, "score").total == 0
    assert records.create(SYSTEM, "score", {"n": 3})["big"] == 1000


def test_masked_values_are_found_only_by_the_whole_value(service):
    p = patient(service)
    assert [r["id"] for r in service.list(FRONT_DESK_EN, "patient", q="13812345678").items] == [p["id"]]
    for partial in ("5678", "12345", "1234"):  # last 4, a run of digits: never for a masked role
        assert service.list(FRONT_DESK_EN, "patient", q=partial).total == 0
    assert service.list(SYSTEM, "patient", q="5678").total == 1  # the last 4 digits (search.py)
    assert service.list(SYSTEM, "patient", q="1234").total == 0  # 4 digits are the last 4, not any 4
    assert service.list(SYSTEM, "patient", q="12345").total == 1  # 5+ digits: anywhere in the number
    with pytest.raises(ValidationFailed):
        service.list(FRONT_DESK_EN, "patient", filters={"phone__gte": "13812000000"})
    assert service.list(FRONT_DESK_EN, "patient", filters={"phone": "13812345678"}).total == 1


def test_filter_by_several_ids(service):
    ids = [patient(service, phone=f"1391234567{i}")["id"] for i in range(3)]
    found = service.list(SYSTEM, "patient", filters={"id__in": f"{ids[0]},{ids[2]}"})
    assert sorted(r["id"] for r in found.items) == [ids[0], ids[2]]


def test_concurrent_writers_all_succeed(service):
    from concurrent.futures import ThreadPoolExecutor

    p = patient(service)

    def write(i: int) -> int:
        reading = service.create(SYSTEM, "vital_reading", {"patient": p["id"], "systolic": 120 + i, "diastolic": 80})
        service.get(Actor(1, "doc", "doctor"), "patient", p["id"])  # a PHI view writes an audit entry
        return reading["id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(write, range(24)))
    assert len(set(ids)) == 24
    assert service.list(SYSTEM, "vital_reading").total == 24


def test_a_link_must_point_at_a_record_the_actor_may_see(tmp_path, sqlite_url):
    from builder.loading import load_blueprint
    from builder.records import RecordService
    from builder.storage.database import make_engine
    from builder.system_tables import create_system_tables

    (tmp_path / "bp.yaml").write_text(
        "app: {name: t}\n"
        "roles: {caller: {}, clerk: {}}\n"
        "entities:\n"
        "  person:\n"
        "    fields: {name: {type: text}, consent: {type: boolean, default: false}}\n"
        "    permissions: {caller: {read: all, where: 'consent == true'}}\n"
        "  call:\n"
        "    fields: {person: {type: link, to: person}}\n"
        "    permissions: {caller: {read: all, write: all, create: true},"
        " clerk: {read: all, write: all, create: true}}\n",
        encoding="utf-8",
    )
    loaded = load_blueprint(tmp_path / "bp.yaml")
    engine = make_engine(sqlite_url)
    records = RecordService(loaded.blueprint.entities, engine)
    records.schema.metadata.create_all(engine)
    create_system_tables(engine)
    hidden = records.create(SYSTEM, "person", {"name": "a"})["id"]
    shown = records.create(SYSTEM, "person", {"name": "b", "consent": True})["id"]
    caller, clerk = Actor(1, "c", "caller"), Actor(2, "k", "clerk")
    assert records.create(caller, "call", {"person": shown})["person"] == shown
    for actor in (caller, clerk):  # outside the caller's rows; the clerk may not read persons at all
        with pytest.raises(ValidationFailed) as excinfo:
            records.create(actor, "call", {"person": hidden})
        assert errors_of(excinfo) == {"person": "invalid_link"}
    made = records.create(SYSTEM, "call", {"person": hidden})
    # an unchanged link set by someone else does not stop the caller from editing the record
    records.update(caller, "call", made["id"], {}, version=1)


def test_child_rows_get_defaults_computed_values_and_checked_links(tmp_path, sqlite_url):
    from builder.loading import load_blueprint
    from builder.records import RecordService
    from builder.storage.database import make_engine
    from builder.system_tables import create_system_tables

    (tmp_path / "bp.yaml").write_text(
        "app: {name: t}\n"
        "entities:\n"
        "  drug:\n"
        "    fields: {name: {type: text}}\n"
        "  order:\n"
        "    fields:\n"
        "      discount: {type: decimal, default: 0}\n"
        "      lines:\n"
        "        type: table\n"
        "        fields:\n"
        "          drug: {type: link, to: drug}\n"
        "          qty: {type: integer, default: 1}\n"
        "          price: {type: decimal}\n"
        "          total: {type: decimal, compute: 'qty * price - parent.discount'}\n",
        encoding="utf-8",
    )
    loaded = load_blueprint(tmp_path / "bp.yaml")
    engine = make_engine(sqlite_url)
    records = RecordService(loaded.blueprint.entities, engine)
    records.schema.metadata.create_all(engine)
    create_system_tables(engine)
    drug = records.create(SYSTEM, "drug", {"name": "阿司匹林"})["id"]
    order = records.create(
        SYSTEM, "order", {"discount": "1", "lines": [{"drug": drug, "price": "2.5"}, {"qty": 4, "price": "3"}]}
    )
    assert [(r["qty"], float(r["total"])) for r in order["lines"]] == [(1, 1.5), (4, 11.0)]
    changed = records.update(SYSTEM, "order", order["id"], {"lines": [{"price": "10"}]}, version=1)
    assert [(r["qty"], float(r["total"])) for r in changed["lines"]] == [(1, 9.0)]
    with pytest.raises(ValidationFailed) as excinfo:
        records.create(SYSTEM, "order", {"lines": [{"drug": 999, "price": "1"}]})
    assert errors_of(excinfo) == {"lines.0.drug": "invalid_link"}
    with pytest.raises(ValidationFailed) as excinfo:
        records.create(SYSTEM, "order", {"lines": [{"price": "1", "total": "5"}]})
    assert errors_of(excinfo) == {"lines.0.total": "read_only"}


def test_empty_values_sort_last_both_ways_on_either_database(service):
    """`sort=-birth_date` and `sort=birth_date` give the same pages on SQLite and PostgreSQL: empty ones last."""
    births = ["1980-05-01", None, "1990-01-01", None, "1970-03-03"]
    ids = [
        service.create(SYSTEM, "patient", {"name": f"P{i}", "phone": f"1390000000{i}", "birth_date": born})["id"]
        for i, born in enumerate(births)
    ]
    undated = sorted((ids[1], ids[3]), reverse=True)  # ties go by id, newest first
    ascending = [r["id"] for r in service.list(SYSTEM, "patient", sort="birth_date").items]
    descending = [r["id"] for r in service.list(SYSTEM, "patient", sort="-birth_date").items]
    assert ascending == [ids[4], ids[0], ids[2], *undated]
    assert descending == [ids[2], ids[0], ids[4], *undated]
    second_page = service.list(SYSTEM, "patient", sort="-birth_date", limit=2, offset=2).items
    assert [r["id"] for r in second_page] == [ids[4], undated[0]]
