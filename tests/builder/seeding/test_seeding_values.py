"""Values the seeder makes fit each field: its type, its limits, and what its name or label says it holds."""

from __future__ import annotations

import datetime as dt
import random

import phonenumbers
import pytest
from faker import Faker

from builder.seeding.meaning import Meaning, meaning_of
from builder.seeding.states import workflow_weights
from builder.seeding.values import ValueMaker
from engines.forms import FieldSpec
from engines.forms.fieldtypes import is_valid_resident_id
from engines.workflows import WorkflowSpec

NOW = dt.datetime(2026, 6, 1, 10, 30)
SAMPLES = 300


def maker(locale: str = "zh_CN", seed: int = 7) -> ValueMaker:
    fake = Faker(locale)
    fake.seed_instance(seed)
    return ValueMaker(random.Random(seed), fake, NOW)


def many(field: FieldSpec, name: str = "x", locale: str = "zh_CN", row: dict | None = None, fields=None) -> list:
    made = maker(locale)
    return [made.value(name, field, dict(row or {}), fields) for _ in range(SAMPLES)]


@pytest.mark.parametrize(
    "name, label, meaning",
    [
        ("name", None, Meaning.PERSON_NAME),
        ("full_name", None, Meaning.PERSON_NAME),
        ("display_name", {"en": "Shown as"}, Meaning.PERSON_NAME),
        ("xingming", {"zh-CN": "姓名"}, Meaning.PERSON_NAME),
        ("who", {"en": "Full name", "zh-CN": "全名"}, Meaning.PERSON_NAME),
        ("who", "Name (as on the ID card)", Meaning.PERSON_NAME),
        ("first_name", None, Meaning.GIVEN_NAME),
        ("surname", None, Meaning.FAMILY_NAME),
        ("home", {"en": "Home address", "zh-CN": "家庭住址"}, Meaning.ADDRESS),
        ("drug", {"en": "Drug", "zh-CN": "药品"}, Meaning.OTHER),
        ("goal", {"en": "Goal"}, Meaning.OTHER),
    ],
)
def test_text_meaning_comes_from_the_name_or_a_label(name, label, meaning):
    assert meaning_of(name, FieldSpec(type="text", label=label)) is meaning


@pytest.mark.parametrize(
    "name, label, meaning",
    [
        ("birth_date", None, Meaning.BIRTH_DATE),
        ("born_on", None, Meaning.BIRTH_DATE),
        ("d1", {"zh-CN": "出生日期"}, Meaning.BIRTH_DATE),
        ("d2", {"en": "Date of birth"}, Meaning.BIRTH_DATE),
        ("starts_at", None, Meaning.SCHEDULE),
        ("due_on", None, Meaning.SCHEDULE),
        ("taken_at", None, Meaning.PAST),
        ("d3", {"zh-CN": "测量时间"}, Meaning.PAST),
    ],
)
def test_date_meaning_comes_from_the_name_or_a_label(name, label, meaning):
    assert meaning_of(name, FieldSpec(type="date", label=label)) is meaning


def test_person_names_are_names_not_sentences():
    chinese = many(FieldSpec(type="text", max_length=50), "name")
    assert all(2 <= len(n) <= 4 and all("\u4e00" <= c <= "\u9fff" for c in n) for n in chinese), chinese[:5]
    english = many(FieldSpec(type="text", label={"en": "Full name", "zh-CN": "姓名"}), "who", locale="en_US")
    assert all(len(n.split()) == 2 and "." not in n and n.istitle() for n in english), english[:5]
    assert all(len(n) <= 3 for n in many(FieldSpec(type="text", max_length=3), "name"))


def test_clinical_notes_read_like_a_clinic_not_faker_sentences():
    from builder.seeding.clinical import _PHRASES

    allergies = set(many(FieldSpec(type="long_text", phi=True), "allergies"))
    assert allergies <= set(_PHRASES["allergy"]["zh"]) and len(allergies) > 3
    by_label = set(many(FieldSpec(type="text", label={"en": "Diagnosis", "zh-CN": "诊断"}), "dx", locale="en_US"))
    assert by_label <= set(_PHRASES["diagnosis"]["en"])
    assert set(many(FieldSpec(type="text", max_length=4), "outcome")) <= {p[:4] for p in _PHRASES["outcome"]["zh"]}
    other = many(FieldSpec(type="long_text"), "anything")
    assert not set(other) & {p for kind in _PHRASES.values() for p in kind["zh"]}


def test_birth_dates_are_in_the_past_for_ages_1_to_95():
    for field, name in ((FieldSpec(type="date"), "birth_date"), (FieldSpec(type="date", label="出生日期"), "d")):
        ages = [(NOW.date() - dt.date.fromisoformat(v)).days / 365.25 for v in many(field, name)]
        assert all(1 <= age <= 95.1 for age in ages), (min(ages), max(ages))


def test_phones_are_valid_cn_mobiles():
    phones = many(FieldSpec(type="phone"), "phone")
    assert len(set(phones)) > SAMPLES * 0.95
    for phone in phones:
        parsed = phonenumbers.parse(phone, "CN")
        assert phonenumbers.is_valid_number(parsed), phone
        assert phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE, phone


def test_resident_ids_are_valid_and_agree_with_the_record():
    fields = {
        "sex": FieldSpec(type="select", options=["female", "male"]),
        "born": FieldSpec(type="date"),
        "id_number": FieldSpec(type="cn_resident_id"),
    }
    ids = many(fields["id_number"], "id_number", row={"sex": "female", "born": "1984-02-29"}, fields=fields)
    assert all(is_valid_resident_id(i) and i[6:14] == "19840229" and int(i[16]) % 2 == 0 for i in ids)
    assert all(is_valid_resident_id(i) for i in many(FieldSpec(type="cn_resident_id"), locale="en_US"))


def test_numbers_stay_inside_limits_and_digits():
    scores = many(FieldSpec(type="integer", min=0, max=10), "pain_score")
    assert all(isinstance(v, int) and 0 <= v <= 10 for v in scores) and len(set(scores)) > 5
    minutes = many(FieldSpec(type="integer", min=15, max=120, default=45), "minutes")
    assert all(15 <= v <= 120 for v in minutes) and 35 <= sum(minutes) / len(minutes) <= 55
    small = many(FieldSpec(type="decimal", precision=3, scale=1), "x")
    assert all(-99.9 <= v <= 99.9 and round(v, 1) == v for v in small)
    glucose = many(FieldSpec(type="decimal", precision=4, scale=1, min=0.5, max=50), "glucose")
    assert all(0.5 <= v <= 50 for v in glucose)


def test_text_fits_its_length_and_choices_their_options():
    assert all(0 < len(v) <= 12 for v in many(FieldSpec(type="text", max_length=12), "goal"))
    assert all(0 < len(v) <= 40 for v in many(FieldSpec(type="long_text", max_length=40), "notes"))
    assert all(len(v) <= 30 and "@" in v for v in many(FieldSpec(type="email", max_length=30), "email"))
    assert set(many(FieldSpec(type="select", options=["a", "b", "c"]))) == {"a", "b", "c"}
    assert all(set(v) <= {"a", "b"} for v in many(FieldSpec(type="multi_select", options=["a", "b"])))


def test_moments_fit_their_meaning_and_limits():
    starts = [dt.datetime.fromisoformat(v) for v in many(FieldSpec(type="datetime"), "starts_at")]
    # Bookings: the last 18 months and the next 2 weeks, in opening hours, mostly in the past.
    assert all(-549 <= (s.date() - NOW.date()).days <= 14 and 8 <= s.hour <= 17 for s in starts)
    assert 0.03 < sum(s > NOW for s in starts) / len(starts) < 0.2
    assert min(starts) < NOW - dt.timedelta(days=450) and max(starts) > NOW + dt.timedelta(days=7)
    assert sum(s.weekday() == 6 for s in starts) < sum(s.weekday() == 2 for s in starts) / 2  # quiet Sundays
    taken = [dt.datetime.fromisoformat(v) for v in many(FieldSpec(type="datetime", max="now()"), "taken_at")]
    assert all(t <= NOW for t in taken)
    visited = [dt.datetime.fromisoformat(v) for v in many(FieldSpec(type="datetime"), "visited_at")]
    assert all(NOW - dt.timedelta(days=549) <= v <= NOW for v in visited)
    ahead = [dt.date.fromisoformat(v) for v in many(FieldSpec(type="date", min="today()"), "d")]
    assert all(d >= NOW.date() for d in ahead)
    after = many(FieldSpec(type="date", min="starts_on"), "review_on", row={"starts_on": "2026-09-01"})
    assert all(v > "2026-09-01" for v in after)
    old = many(FieldSpec(type="date", min=dt.date(2020, 1, 1), max=dt.date(2020, 12, 31)), "d")
    assert all("2020-01-01" <= v <= "2020-12-31" for v in old)


def test_a_state_fits_the_records_moment():
    """Without a workflow the options' order stands in: the later half ends, the first end commonest."""
    states = ["requested", "confirmed", "checked_in", "completed", "no_show", "cancelled"]
    fields = {"starts_at": FieldSpec(type="datetime"), "status": FieldSpec(type="state", options=states)}
    made = maker()
    past = [
        made.value("status", fields["status"], {"starts_at": NOW - dt.timedelta(days=3)}, fields) for _ in range(400)
    ]
    ahead = {
        made.value("status", fields["status"], {"starts_at": NOW + dt.timedelta(days=3)}, fields) for _ in range(200)
    }
    assert set(past) == {"completed", "no_show", "cancelled"}  # a visit in the past has ended
    assert past.count("completed") > 0.75 * len(past)
    assert 0.06 < past.count("no_show") / len(past) < 0.1  # shares held close to their weights (8%)
    assert ahead <= {"requested", "confirmed", "checked_in", "cancelled"} and "requested" in ahead  # not ended


FLOW = WorkflowSpec.model_validate(
    {
        "entity": "appointment",
        "initial": "requested",
        "states": {
            "requested": {},
            "confirmed": {},
            "checked_in": {},
            "completed": {"final": True, "color": "green"},
            "no_show": {"final": True, "color": "red"},
            "cancelled": {"final": True, "color": "gray"},
        },
        "transitions": {
            "confirm": {"from": "requested", "to": "confirmed"},
            "check_in": {"from": "confirmed", "to": "checked_in"},
            "complete": {"from": "checked_in", "to": "completed"},
            "mark_no_show": {"from": "confirmed", "to": "no_show", "if": "starts_at < now()"},
            "cancel": {"from": ["requested", "confirmed"], "to": "cancelled"},
        },
    }
)


def test_workflow_states_are_weighted_by_their_kind():
    weights = workflow_weights(FLOW)
    assert weights.past["completed"] == 0.84 and weights.past["no_show"] == weights.past["cancelled"] == 0.08
    assert weights.past["requested"] == weights.past["checked_in"] == 0
    # Ahead: requested or confirmed, some cancelled; never checked in, never a no-show (that waits for now()).
    assert weights.ahead["requested"] > 0 and weights.ahead["confirmed"] > 0 and weights.ahead["cancelled"] > 0
    assert weights.ahead["checked_in"] == weights.ahead["no_show"] == weights.ahead["completed"] == 0
    fields = {
        "starts_at": FieldSpec(type="datetime"),
        "status": FieldSpec(type="state", workflow="flow", options=list(FLOW.states)),
    }
    made = ValueMaker(random.Random(3), Faker("en_US"), NOW, {"flow": weights})
    past = [made.value("status", fields["status"], {"starts_at": "2026-05-01T09:00:00"}, fields) for _ in range(2000)]
    due = [s for s in past if s in ("checked_in", "completed", "no_show")]
    assert 0.05 < due.count("no_show") / len(due) < 0.12
