"""One plausible value for one field: of its type, inside its limits, fitting what it holds.

The record service still checks every value; this module only tries to make values it
will accept, and that a person reading the demo would believe (a name where a name
belongs, a birth date in the past, a phone number that dials).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from faker import Faker

from engines.forms import FieldSpec
from engines.forms.fieldtypes import resident_id_check_digit

from .clinical import clinical_kind, clinical_text
from .limits import fit_moment, number_bounds
from .meaning import Meaning, meaning_of
from .states import StateWeights, option_weights
from .timeline import Timeline

# Mobile prefixes of the three Chinese carriers; every number under them is a valid CN mobile.
CN_MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "173",
    "175",
    "176",
    "177",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "198",
    "199",
)
# County codes that open real resident IDs (Beijing Chaoyang, Shanghai Xuhui, Shenzhen Nanshan...).
CN_REGION_CODES = ("110105", "310104", "440305", "330106", "510107", "420106", "320102", "610113")
# Usual values of common clinical measurements: (mean, standard deviation).
MEASUREMENTS = {
    "systolic": (128, 18),
    "diastolic": (80, 10),
    "glucose": (6.4, 1.9),
    "satisfaction": (8, 1.6),
    "wait_minutes": (18, 10),
    "heart_rate": (74, 11),
    "pulse": (74, 11),
    "temperature": (36.7, 0.4),
    "weight": (64, 12),
    "height": (165, 9),
    "days": (7, 4),
}
LONG_TEXT_CAP = 300

Row = Mapping[str, Any]


class ValueMaker:
    """Makes values for fields, from a seeded random source and a Faker of the app's locale."""

    def __init__(
        self,
        rng: random.Random,
        fake: Faker,
        now: dt.datetime,
        state_weights: Mapping[str, StateWeights] | None = None,
    ):
        self.rng, self.fake, self.now = rng, fake, now
        self.today = now.date()
        self.timeline = Timeline(rng, now)
        self.state_weights = dict(state_weights or {})  # by workflow name (states.py)
        self._fields: Mapping[str, FieldSpec] = {}
        self._makers: dict[str, Callable[[str, FieldSpec, Row], Any]] = {
            "text": self._text,
            "long_text": self._long_text,
            "phone": self._phone,
            "email": self._email,
            "cn_resident_id": self._resident_id,
            "integer": self._integer,
            "decimal": self._decimal,
            "boolean": self._boolean,
            "date": self._date,
            "datetime": self._datetime,
            "select": self._choice,
            "state": self._state,
            "multi_select": self._choices,
        }

    def can_make(self, spec: FieldSpec) -> bool:
        return spec.type in self._makers

    def value(self, name: str, spec: FieldSpec, row: Row, fields: Mapping[str, FieldSpec] | None = None) -> Any:
        """A value for field `name`; `row` holds the values made so far for the same record, of `fields`."""
        self._fields = fields or {}
        return self._makers[spec.type](name, spec, row)

    # -- text ------------------------------------------------------------------------
    def _text(self, name: str, spec: FieldSpec, row: Row) -> str:
        limit = spec.max_length or 255
        fake = self.fake
        meaning = meaning_of(name, spec)
        if meaning is Meaning.PERSON_NAME:
            text = self._person_name(row)
            return _fit(text if len(text) <= limit else fake.last_name(), limit)
        made = {
            Meaning.GIVEN_NAME: lambda: self._given_name(row),
            Meaning.FAMILY_NAME: fake.last_name,
            Meaning.ADDRESS: fake.address,
            Meaning.CITY: fake.city,
            Meaning.COMPANY: fake.company,
        }.get(meaning)
        if made is not None:
            return _fit(made().replace("\n", ", "), limit)
        if (kind := clinical_kind(name, spec)) is not None:
            return _fit(clinical_text(kind, self._chinese, self.rng), limit)
        return _fit(fake.sentence(nb_words=self.rng.randint(2, 5)).rstrip(".。"), limit)

    @property
    def _chinese(self) -> bool:
        return self.fake.locales[0].startswith("zh")

    def _given_name(self, row: Row) -> str:
        sex = next((v for v in row.values() if v in ("female", "male")), None)
        return {"female": self.fake.first_name_female, "male": self.fake.first_name_male}.get(
            str(sex), self.fake.first_name
        )()

    def _person_name(self, row: Row) -> str:
        """Given and family name in the locale's order, fitting the record's sex when it has one."""
        given, family = self._given_name(row), self.fake.last_name()
        return f"{family}{given}" if self.fake.locales[0].startswith(("zh", "ja", "ko")) else f"{given} {family}"

    def _long_text(self, name: str, spec: FieldSpec, row: Row) -> str:
        limit = min(spec.max_length or LONG_TEXT_CAP, LONG_TEXT_CAP)
        if meaning_of(name, spec) is Meaning.ADDRESS:
            return _fit(self.fake.address(), limit)
        if (kind := clinical_kind(name, spec)) is not None:
            return _fit(clinical_text(kind, self._chinese, self.rng), limit)
        return _fit(self.fake.paragraph(nb_sentences=self.rng.randint(1, 3)), limit)

    def _phone(self, name: str, spec: FieldSpec, row: Row) -> str | None:
        region = str(getattr(spec, "region", None) or "CN").upper()
        if region != "CN":
            return self._foreign_phone(region)
        return self.rng.choice(CN_MOBILE_PREFIXES) + "".join(self.rng.choice("0123456789") for _ in range(8))

    def _foreign_phone(self, region: str) -> str | None:
        """A valid mobile of another region: its example number with the last digits changed."""
        import phonenumbers

        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if example is None:
            return None
        digits = str(example.national_number)
        for _attempt in range(20):
            tail = "".join(self.rng.choice("0123456789") for _ in range(min(4, len(digits) - 2)))
            number = phonenumbers.parse(f"+{example.country_code}{digits[: -len(tail)]}{tail}")
            if phonenumbers.is_valid_number(number):
                return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)

    def _email(self, name: str, spec: FieldSpec, row: Row) -> str:
        limit = spec.max_length or 254
        domain = self.fake.free_email_domain()
        local = f"{self.fake.user_name()}{self.rng.randint(1, 9999)}"[: max(1, limit - len(domain) - 1)]
        return f"{local}@{domain}".lower()

    def _resident_id(self, name: str, spec: FieldSpec, row: Row) -> str:
        """A resident ID whose birth date and sex digit agree with the record's own, when it has them."""
        born = next(
            (
                row[k]
                for k, s in self._fields.items()
                if isinstance(row.get(k), str) and s.type == "date" and meaning_of(k, s) is Meaning.BIRTH_DATE
            ),
            None,
        )
        birth = dt.date.fromisoformat(born[:10]) if born else self._birth_date()
        sex = next((str(v) for v in row.values() if v in ("female", "male")), None)
        serial = self.rng.randint(0, 499) * 2 + (
            0 if sex == "female" else 1 if sex == "male" else self.rng.randint(0, 1)
        )
        first17 = f"{self.rng.choice(CN_REGION_CODES)}{birth:%Y%m%d}{serial:03d}"
        return first17 + resident_id_check_digit(first17)

    # -- numbers ---------------------------------------------------------------------
    def _number(self, name: str, spec: FieldSpec) -> float:
        low, high = number_bounds(spec)
        default = (
            spec.default if isinstance(spec.default, (int, float)) and not isinstance(spec.default, bool) else None
        )
        if name in MEASUREMENTS:
            value = self.rng.gauss(*MEASUREMENTS[name])
        elif default is not None:
            value = self.rng.gauss(default, max(abs(default) / 4, 1))
        elif low is not None and high is not None:
            value = self.rng.uniform(low, high)
        elif low is not None:
            value = low + self.rng.uniform(0, 100)
        elif high is not None:
            value = high - self.rng.uniform(0, 100)
        else:
            value = self.rng.uniform(0, 100)
        return min(max(value, low if low is not None else value), high if high is not None else value)

    def _integer(self, name: str, spec: FieldSpec, row: Row) -> int:
        low, high = number_bounds(spec)
        value = round(self._number(name, spec))
        return min(
            max(value, math.ceil(low) if low is not None else value), math.floor(high) if high is not None else value
        )

    def _decimal(self, name: str, spec: FieldSpec, row: Row) -> float:
        scale = spec.scale if spec.scale is not None else 2
        value = Decimal(str(round(self._number(name, spec), scale)))
        low, high = number_bounds(spec)
        step = Decimal(1).scaleb(-scale)
        if low is not None and value < Decimal(str(low)):
            value += step
        if high is not None and value > Decimal(str(high)):
            value -= step
        return float(value)

    # -- choices ---------------------------------------------------------------------
    def _boolean(self, name: str, spec: FieldSpec, row: Row) -> bool:
        return self.rng.random() < 0.3

    def _choice(self, name: str, spec: FieldSpec, row: Row) -> str | None:
        return self.rng.choice(spec.options) if spec.options else None

    def _state(self, name: str, spec: FieldSpec, row: Row) -> str | None:
        """A state that fits the record's moment: a past booking has ended, a future one has not.

        The weights per kind of state (start, step, good or bad end) are in states.py.
        """
        options = list(spec.options or [])
        if len(options) < 2:
            return options[0] if options else None
        moment = next((row[n] for n, f in self._fields.items() if f.type in ("date", "datetime") and n in row), None)
        if moment is None:
            return self._choice(name, spec, row)
        when = dt.datetime.fromisoformat(str(moment))
        past = when < (self.now if len(str(moment)) > 10 else self.now.replace(hour=0, minute=0, second=0))
        key = spec.workflow if spec.workflow in self.state_weights else f"{name}: {options}"
        weights = self.state_weights.get(key) or self.state_weights.setdefault(key, option_weights(options))
        return weights.pick(self.rng, past)

    def _choices(self, name: str, spec: FieldSpec, row: Row) -> list[str]:
        options = spec.options or []
        return self.rng.sample(options, k=self.rng.randint(0, min(2, len(options))))

    # -- time ------------------------------------------------------------------------
    def _birth_date(self) -> dt.date:
        return self.today - dt.timedelta(days=self.rng.randint(366, 95 * 365))

    def _moment(self, name: str, spec: FieldSpec) -> dt.datetime:
        meaning = meaning_of(name, spec)
        if meaning is Meaning.BIRTH_DATE:
            return dt.datetime.combine(self._birth_date(), dt.time(12, 0))
        if meaning is Meaning.SCHEDULE:  # bookings and due dates: 18 months back, some in the next 2 weeks
            return self.timeline.at(self.timeline.schedule_day())
        if meaning is Meaning.PAST:  # visits, readings: the last 18 months, never ahead
            return self.timeline.past_moment()
        day = self.today + dt.timedelta(days=self.rng.randint(-365, 30))
        return self.timeline.at(day)

    def at(self, spec: FieldSpec, moment: dt.datetime, row: Row) -> str:
        """`moment` as the value of a date or datetime field, inside its limits."""
        moment = fit_moment(moment, spec, row, self.now, self.rng)
        return moment.date().isoformat() if spec.type == "date" else moment.isoformat()

    def _date(self, name: str, spec: FieldSpec, row: Row) -> str:
        moment = fit_moment(self._moment(name, spec), spec, row, self.now, self.rng)
        return moment.date().isoformat()

    def _datetime(self, name: str, spec: FieldSpec, row: Row) -> str:
        return fit_moment(self._moment(name, spec), spec, row, self.now, self.rng).isoformat()


def _fit(text: str, limit: int) -> str:
    text = text.strip()
    return (text[:limit].rstrip() or text[:limit]) if text else "-"
