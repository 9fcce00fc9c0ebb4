"""phone: a real phone number of one region, checked with `phonenumbers`, stored as E.164.

Input may come as people type it (`139 1234 5678`, `(010) 1234-5678`, `+86 139...`,
full-width digits); it is stored in one spelling, E.164 (`+8613912345678`), so that
exact search, keyed hashes and `unique` see one value per number. Pages show the
national form of the field's region (`139 1234 5678`); a number stored before this
rule (`13912345678`) still displays. `region:` (ISO 3166 code, default CN) says which
numbers are accepted: mobile and landline numbers of that region.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import phonenumbers
import sqlalchemy as sa
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from engines.rules import Problem, did_you_mean

from ..models import FieldSpec
from .base import FieldValueError, register_field_type
from .text import Text

DEFAULT_REGION = "CN"
ACCEPTED_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_TYPED = re.compile(r"^\+?[0-9\s().\-]{3,30}$")  # what people type, after NFKC (no letters: no vanity numbers)
# The OpenAPI pattern: loose on purpose (the server decides), full-width forms and a
# masked value sent back unchanged (`139****5678`) included.
API_PATTERN = r"^[0-9０-９+＋ ()（）.\-*]{5,20}$"
# Numbers whose national form (and typed numbers whose E.164) are remembered: a list of 50 masked
# phones cost ~4 ms in `phonenumbers` (parse, validate, format: ~85 µs each), more than the rest
# of the list's work.
NATIONAL_FORMS_KEPT = 4096
NOT_DIGITS = re.compile(r"\D")


def region_of(spec: FieldSpec) -> str:
    return (spec.region or DEFAULT_REGION).upper()


def parse_phone(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    """The number a person typed (or stored), or None if it cannot be one."""
    text = unicodedata.normalize("NFKC", text).strip()
    if not _TYPED.match(text):
        return None
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


@functools.lru_cache(maxsize=NATIONAL_FORMS_KEPT)
def normalise_phone(text: str, region: str) -> str | None:
    """E.164 for a valid mobile or landline number of `region`, else None.

    Pure, and about 0.15 ms a call: remembered like national forms, so a number coerced twice in a row's
    path (the API's check then the service; an import's duplicate match then the service) is parsed once.
    """
    number = parse_phone(text, region)
    if number is None or type_in_region(number, region) not in ACCEPTED_TYPES:
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def type_in_region(number: phonenumbers.PhoneNumber, region: str) -> int | None:
    """The number's type if it is a valid number of `region`, else None.

    `is_valid_number_for_region` then `number_type` match the number against the region's patterns
    twice (about 5 µs each). Where `region` is the only region of its country code (CN, most), the
    region `number_type` picks is `region` itself, so its one answer says both: valid means not UNKNOWN.
    Shared codes (+1 US/CA, +44 GB/IM/…) keep both calls, since the number may belong to a neighbour.
    """
    code = number.country_code or 0
    if len(phonenumbers.region_codes_for_country_code(code)) == 1:
        if code != phonenumbers.country_code_for_region(region):
            return None
        kind = phonenumbers.number_type(number)
    elif phonenumbers.is_valid_number_for_region(number, region):
        kind = phonenumbers.number_type(number)
    else:
        return None
    return None if kind == PhoneNumberType.UNKNOWN else kind


@register_field_type
class Phone(Text):
    """A phone number: validated for its region, stored E.164, shown and masked in national form."""

    name = "phone"
    widget = "tel"
    default_length = 20
    options_allowed = frozenset({"region"})
    displays_masked = True

    def check(self, spec: FieldSpec) -> Iterable[Problem]:
        if spec.region is not None and spec.region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            hint = did_you_mean(spec.region.upper(), phonenumbers.SUPPORTED_REGIONS)
            yield Problem(
                ("region",),
                "field.unknown_region",
                f"unknown phone region `{spec.region}` (an ISO 3166 code such as CN or HK)",
                hint,
            )

    @classmethod
    def spec_schema(cls) -> dict[str, Any]:
        return {}

    def column_type(self, spec: FieldSpec) -> sa.types.TypeEngine:
        return sa.String(max(spec.max_length or self.default_length, self.default_length))

    def coerce(self, value: Any, spec: FieldSpec) -> Any:
        text = super().coerce(value, spec)
        if text is None:
            return None
        normalised = normalise_phone(text, region_of(spec))
        if normalised is None:
            raise FieldValueError("invalid_phone")
        return normalised

    def validate(self, value: Any, spec: FieldSpec, minimum: Any = None, maximum: Any = None) -> None:
        """A coerced number is valid E.164 (at most 16 characters): nothing more to check."""

    def value_schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "string", "minLength": 5, "maxLength": 20, "pattern": API_PATTERN}

    def _national(self, value: Any, spec: FieldSpec) -> tuple[str, str] | None:
        """(international prefix or "", national form) of a stored number, None if it is not one."""
        return national_form(str(value), region_of(spec))

    def display(self, value: Any, spec: FieldSpec, locale: str) -> str:
        if value is None:
            return ""
        shown = self._national(value, spec)
        return str(value) if shown is None else shown[0] + shown[1]

    def edit_text(self, value: Any, spec: FieldSpec) -> str:
        """`139 1234 5678` in the form too, not the stored `+8613912345678` (both are accepted back)."""
        return self.display(value, spec, "")

    def mask(self, value: Any, spec: FieldSpec) -> Any:
        """`139****5678`: the national digits with all but the first three and last four hidden."""
        if value is None:
            return None
        return masked_form(str(value), region_of(spec))


@functools.lru_cache(maxsize=NATIONAL_FORMS_KEPT)
def masked_form(stored: str, region: str) -> str:
    """A stored number masked (see `Phone.mask`); remembered as `national_form` is (a list masks 50 a page)."""
    shown = national_form(stored, region)
    prefix, text = ("", stored) if shown is None else (shown[0], NOT_DIGITS.sub("", shown[1]))
    if len(text) <= 7:
        return prefix + text[:1] + "*" * (len(text) - 1)
    return prefix + text[:3] + "*" * (len(text) - 7) + text[-4:]


@functools.lru_cache(maxsize=NATIONAL_FORMS_KEPT)
def national_form(stored: str, region: str) -> tuple[str, str] | None:
    """(international prefix or "", national form) of a stored number, None if it is not one.

    Pure, so remembered (least recently used): pages and lists show and mask the same numbers
    again and again. The numbers are already in this process's memory as rows are read.
    """
    number = parse_phone(stored, region)
    if number is None or not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.region_code_for_number(number) == region:
        return "", phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    prefix = f"+{number.country_code} "
    return prefix, international.removeprefix(prefix)
