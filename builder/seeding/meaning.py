"""What a field holds, guessed from its name and its labels (en and zh-CN).

A blueprint says `type: text`; the seeder wants to know whether that text is a
person's name or a street address. Names and labels are what a clinic admin writes,
so both are read, in both languages: `full_name`, `display_name`, `姓名` and
"Full name" all mean a person's name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from enum import Enum
from typing import TypeVar

from engines.forms import FieldSpec


class Meaning(Enum):
    """The kinds of value the seeder knows how to make look real."""

    PERSON_NAME = "person_name"
    GIVEN_NAME = "given_name"
    FAMILY_NAME = "family_name"
    BIRTH_DATE = "birth_date"
    ADDRESS = "address"
    CITY = "city"
    COMPANY = "company"
    PAST = "past"  # a moment already gone: taken_at, visited_at, "measured"
    SCHEDULE = "schedule"  # a moment around now, mostly ahead: starts_at, due_on, review_on
    OTHER = "other"


_BY_NAME: dict[Meaning, set[str]] = {
    Meaning.PERSON_NAME: {
        "name",
        "full_name",
        "display_name",
        "person_name",
        "patient_name",
        "client_name",
        "contact_name",
        "customer_name",
        "member_name",
        "staff_name",
        "doctor_name",
    },
    Meaning.GIVEN_NAME: {"first_name", "given_name", "forename"},
    Meaning.FAMILY_NAME: {"last_name", "family_name", "surname"},
    Meaning.BIRTH_DATE: {"birth_date", "birthday", "date_of_birth", "dob", "born_on", "born", "birthdate"},
    Meaning.ADDRESS: {"address", "home_address", "street", "street_address"},
    Meaning.CITY: {"city", "town"},
    Meaning.COMPANY: {"company", "employer", "insurer_name", "organisation", "organization"},
}

# Label words per meaning: English words are matched whole, Chinese ones as substrings.
_BY_LABEL: dict[Meaning, tuple[set[str], tuple[str, ...]]] = {
    Meaning.PERSON_NAME: ({"name", "full name"}, ("姓名", "名字")),
    Meaning.GIVEN_NAME: ({"first name", "given name"}, ()),
    Meaning.FAMILY_NAME: ({"last name", "family name", "surname"}, ("姓氏",)),
    Meaning.BIRTH_DATE: ({"birth date", "date of birth", "birthday", "born"}, ("出生", "生日")),
    Meaning.ADDRESS: ({"address", "home address", "street"}, ("地址", "住址")),
    Meaning.CITY: ({"city", "town"}, ("城市",)),
    Meaning.COMPANY: ({"company", "employer"}, ("公司", "单位")),
}

_PAST_WORDS = (
    "taken",
    "visited",
    "measured",
    "recorded",
    "received",
    "admitted",
    "discharged",
    "joined",
    "registered",
    "last_",
    "completed",
    "done",
    "signed",
    "issued",
    "tested",
)
_PAST_LABELS = ("测量", "就诊", "记录", "评估", "登记", "完成", "taken", "measured", "recorded", "visited")
_SCHEDULE_WORDS = (
    "starts",
    "start",
    "begin",
    "due",
    "review",
    "next_",
    "scheduled",
    "appointment",
    "booked",
    "ends",
    "until",
    "expires",
    "follow",
)


def _labels(spec: FieldSpec) -> list[str]:
    label = spec.label
    if label is None:
        return []
    texts = [label] if isinstance(label, str) else list(label.values())
    return [" ".join(t.lower().replace("_", " ").split()) for t in texts]


def _label_means(labels: list[str], meaning: Meaning) -> bool:
    words, chinese = _BY_LABEL.get(meaning, (set(), ()))
    for label in labels:
        plain = re.sub(r"\(.*?\)|（.*?）", "", label).strip()  # "Name (as on ID)" is still a name
        if plain in words or any(part in plain for part in chinese):
            return True
    return False


T = TypeVar("T")


def per_field(compute: Callable[[str, FieldSpec], T]) -> Callable[[str, FieldSpec], T]:
    """`compute(name, spec)` worked out once per field: the seeder asks it for every value of every record.

    Kept by the field's name and spec object (held, so its id is not reused); cleared when many blueprints
    pass through one process (the tests)."""
    known: dict[tuple[str, int], tuple[FieldSpec, T]] = {}

    def kept(name: str, spec: FieldSpec) -> T:
        found = known.get((name, id(spec)))
        if found is not None and found[0] is spec:
            return found[1]
        if len(known) > 10_000:
            known.clear()
        answer = compute(name, spec)
        known[(name, id(spec))] = (spec, answer)
        return answer

    return functools.wraps(compute)(kept)


@per_field
def meaning_of(name: str, spec: FieldSpec) -> Meaning:
    """The most specific meaning the field's name or labels give it (OTHER when none)."""
    return _meaning_of(name, spec)


def _meaning_of(name: str, spec: FieldSpec) -> Meaning:
    labels = _labels(spec)
    kind = spec.type
    candidates: tuple[Meaning, ...]
    if kind in ("text",):
        candidates = (
            Meaning.PERSON_NAME,
            Meaning.GIVEN_NAME,
            Meaning.FAMILY_NAME,
            Meaning.ADDRESS,
            Meaning.CITY,
            Meaning.COMPANY,
        )
    elif kind == "long_text":
        candidates = (Meaning.ADDRESS,)
    elif kind in ("date", "datetime"):
        candidates = (Meaning.BIRTH_DATE,)
    else:
        return Meaning.OTHER
    for meaning in candidates:
        if name in _BY_NAME[meaning] or _label_means(labels, meaning):
            return meaning
    if kind in ("date", "datetime"):
        return _tense(name, labels)
    return Meaning.OTHER


def _tense(name: str, labels: list[str]) -> Meaning:
    if any(word in name for word in _SCHEDULE_WORDS):
        return Meaning.SCHEDULE
    if any(word in name for word in _PAST_WORDS) or any(w in label for label in labels for w in _PAST_LABELS):
        return Meaning.PAST
    return Meaning.PAST if name.endswith("_at") else Meaning.OTHER
