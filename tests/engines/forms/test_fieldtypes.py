"""Every field type: coercion of good and bad input, validation, masking, messages in en and zh-CN."""

from __future__ import annotations

import datetime as dt
import decimal
from zoneinfo import ZoneInfo

import pytest

from engines.forms import FIELD_TYPES, FieldSpec, FieldValueError, field_type, message
from engines.forms.fieldtypes import is_valid_resident_id, resident_id_check_digit
from engines.forms.messages import MESSAGES


def spec(type_: str, **options) -> FieldSpec:
    return FieldSpec(type=type_, **options)


def coerce(type_: str, value, **options):
    return field_type(type_).coerce(value, spec(type_, **options))


def refused(type_: str, value, **options) -> str:
    with pytest.raises(FieldValueError) as caught:
        coerce(type_, value, **options)
    return caught.value.code


def resident_id(first17: str) -> str:
    return first17 + resident_id_check_digit(first17)


# -- text-like ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected", [("  Li Lei ", "Li Lei"), ("", None), ("   ", None), (None, None), (42, "42")]
)
def test_text_coercion(value, expected):
    assert coerce("text", value) == expected


@pytest.mark.parametrize("value", [True, ["a"], {"a": 1}])
def test_text_refuses_non_text(value):
    assert refused("text", value) == "invalid_text"


def test_text_max_length():
    kind, field = field_type("text"), spec("text", max_length=3)
    kind.validate("abc", field)
    with pytest.raises(FieldValueError) as caught:
        kind.validate("abcd", field)
    assert (caught.value.code, caught.value.params) == ("max_length", {"limit": 3})


def test_long_text_normalises_line_ends():
    assert coerce("long_text", "a\r\nb") == "a\nb"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("138 1234 5678", "+8613812345678"),
        ("+86-138-1234-5678", "+8613812345678"),
        ("13812345678", "+8613812345678"),
        ("+86 (138) 1234 5678", "+8613812345678"),
        ("１３８１２３４５６７８", "+8613812345678"),  # full-width digits
        ("＋８６ １３８ １２３４ ５６７８", "+8613812345678"),
        ("010-12345678", "+861012345678"),  # Beijing landline
        ("(0755) 8888 6666", "+8675588886666"),
        (" 13812345678 ", "+8613812345678"),
    ],
)
def test_phone_coercion_stores_e164(value, expected):
    assert coerce("phone", value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "12",
        "12345",
        "138-abcd-5678",
        "1381234567",
        "23812345678",
        "4008123123",  # a service number, not mobile or landline
        "+85291234567",
        "+1 650 253 0000",  # numbers of other regions
        "9" * 40,
        "13812345678" * 3,
    ],
)
def test_phone_refuses_what_is_not_a_number_of_its_region(value):
    assert refused("phone", value) == "invalid_phone"


def test_phone_region_option():
    assert coerce("phone", "9123 4567", region="HK") == "+85291234567"
    assert coerce("phone", "+852 9123 4567", region="hk") == "+85291234567"
    assert refused("phone", "13812345678", region="HK") == "invalid_phone"
    kind = field_type("phone")
    [problem] = kind.check(spec("phone", region="XX"))
    assert (problem.loc, problem.code) == (("region",), "field.unknown_region")
    assert list(kind.check(spec("phone", region="HK"))) == []


def test_phone_displays_the_national_form():
    kind, field = field_type("phone"), spec("phone")
    assert kind.display("+8613812345678", field, "en") == "138 1234 5678"
    assert kind.display("+861012345678", field, "zh-CN") == "010 1234 5678"
    assert kind.display("+85291234567", field, "en") == "+852 9123 4567"  # another country: international
    assert kind.display("+85291234567", spec("phone", region="HK"), "en") == "9123 4567"
    assert kind.display("13812345678", field, "en") == "138 1234 5678"  # stored before E.164
    assert kind.display("138-1234", field, "en") == "138-1234"  # not a number: shown as stored
    assert kind.display("138****5678", field, "en") == "138****5678"  # its own masked form


def test_phone_masking():
    kind = field_type("phone")
    assert kind.mask("+8613812345678", spec("phone")) == "138****5678"
    assert kind.mask("+861012345678", spec("phone")) == "010****5678"
    assert kind.mask("+85291234567", spec("phone", region="HK")) == "912*4567"
    assert kind.mask("13812345678", spec("phone")) == "138****5678"  # stored before E.164
    assert kind.mask("12345", spec("phone")) == "1****"
    assert kind.mask(None, spec("phone")) is None


def test_phone_national_forms_are_kept_per_region():
    """National forms are remembered (a list masks the same numbers again): by number and region both."""
    kind, china, hong_kong = field_type("phone"), spec("phone"), spec("phone", region="HK")
    for _ in range(2):
        assert kind.display("+85291234567", china, "en") == "+852 9123 4567"
        assert kind.display("+85291234567", hong_kong, "en") == "9123 4567"
        assert kind.mask("+85291234567", china) == "+852 912*4567"
        assert kind.mask("+85291234567", hong_kong) == "912*4567"
        assert kind.mask("+8613812345678", china) == "138****5678"
        assert kind.mask("+8613912345678", china) == "139****5678"


def test_phone_value_schema_has_a_loose_pattern():
    import jsonschema

    schema = field_type("phone").value_schema(spec("phone"))
    assert schema["pattern"] and (schema["minLength"], schema["maxLength"]) == (5, 20)
    for accepted in ("13812345678", "+86 138-1234-5678", "(010) 1234 5678", "１３８１２３４５６７８", "138****5678"):
        jsonschema.validate(accepted, schema)
    for refused_value in ("1234", "call me", "138" * 10, "13812345678; drop"):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(refused_value, schema)


def test_email():
    assert coerce("email", " Li@Example.ORG ") == "li@example.org"
    assert refused("email", "li@example") == "invalid_email"
    assert field_type("email").mask("li@example.org", spec("email")) == "l***@example.org"


# -- cn_resident_id -------------------------------------------------------------------


def test_resident_id_check_digit_of_the_standard_example():
    # GB 11643-1999's worked example: 11010519491231002X
    assert resident_id_check_digit("11010519491231002") == "X"
    assert is_valid_resident_id("11010519491231002X")


@pytest.mark.parametrize("first17", ["33010619800101123", "44030419900215001", "11010119990307888"])
def test_resident_id_accepts_valid_numbers(first17):
    number = resident_id(first17)
    assert coerce("cn_resident_id", number.lower()) == number


def wrong_check(first17: str) -> str:
    right = resident_id_check_digit(first17)
    return first17 + next(c for c in "0123456789X" if c != right)


@pytest.mark.parametrize(
    "number",
    [
        wrong_check("33010619800101123"),
        wrong_check("44030419900215001"),
        resident_id("33010619800230123"),  # 30 February, though the check character matches
        "3301061980010112",  # too short
        "33010619800101123Y",  # not a check character
    ],
)
def test_resident_id_refuses_invalid_numbers(number):
    assert refused("cn_resident_id", number) == "invalid_resident_id"


def test_resident_id_masking():
    number = resident_id("33010619800101123")
    assert field_type("cn_resident_id").mask(number, spec("cn_resident_id")) == "3301**********" + number[-4:]


# -- numbers --------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [("42", 42), (" -7 ", -7), (3.0, 3), (0, 0), ("", None)])
def test_integer_coercion(value, expected):
    assert coerce("integer", value) == expected


@pytest.mark.parametrize("value", ["4.5", 4.5, True, "x", 2**60])
def test_integer_refuses(value):
    assert refused("integer", value) == "invalid_integer"


def test_integer_limits():
    kind, field = field_type("integer"), spec("integer", min=1, max=10)
    kind.validate(5, field, 1, 10)
    for value, code in ((0, "min"), (11, "max")):
        with pytest.raises(FieldValueError) as caught:
            kind.validate(value, field, 1, 10)
        assert caught.value.code == code


def test_decimal_precision_and_scale():
    field = dict(precision=4, scale=1)
    assert coerce("decimal", "7.84", **field) == decimal.Decimal("7.8")
    assert coerce("decimal", "7.85", **field) == decimal.Decimal("7.9")  # half up
    assert coerce("decimal", 999.9, **field) == decimal.Decimal("999.9")
    assert refused("decimal", "1000", **field) == "too_many_digits"
    assert refused("decimal", "999.96", **field) == "too_many_digits"  # rounds up to 1000.0
    assert refused("decimal", "NaN", **field) == "invalid_number"
    assert refused("decimal", "abc", **field) == "invalid_number"
    assert refused("decimal", True, **field) == "invalid_number"


def test_decimal_default_digits_and_display():
    assert coerce("decimal", "1.005") == decimal.Decimal("1.01")
    field = spec("decimal", unit="mmol/L", scale=1)
    assert field_type("decimal").display(decimal.Decimal("7.8"), field, "en") == "7.8 mmol/L"


# -- choices --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("on", True),
        ("true", True),
        ("1", True),
        ("yes", True),
        ("Y", True),
        ("off", False),
        ("false", False),
        ("0", False),
        ("", False),
        ("no", False),
        (True, True),
        (0, False),
        (None, None),
    ],
)
def test_boolean_from_form_strings(value, expected):
    assert coerce("boolean", value) is expected


def test_boolean_refuses_and_displays():
    assert refused("boolean", "maybe") == "invalid_boolean"
    assert refused("boolean", 2) == "invalid_boolean"
    kind, field = field_type("boolean"), spec("boolean")
    assert (kind.display(True, field, "en"), kind.display(False, field, "zh-CN")) == ("Yes", "否")


def test_select():
    options = {"options": ["female", "male"], "option_labels": {"female": {"en": "Female", "zh-CN": "女"}}}
    assert coerce("select", " male ", **options) == "male"
    assert coerce("select", "", **options) is None
    with pytest.raises(FieldValueError) as caught:
        coerce("select", "femal", **options)
    assert caught.value.params == {"choices": "female, male"}
    kind, field = field_type("select"), spec("select", **options)
    assert kind.display("female", field, "zh-CN") == "女"
    assert kind.display("male", field, "zh-CN") == "Male"  # no label: the code made readable, never raw
    walk_in = spec("select", options=["walk_in"])
    assert kind.display("walk_in", walk_in, "en") == "Walk in"


def test_multi_select_keeps_declared_order_without_duplicates():
    options = {"options": ["diabetes", "hypertension", "vip"]}
    assert coerce("multi_select", ["vip", "diabetes", "vip"], **options) == ["diabetes", "vip"]
    assert coerce("multi_select", "vip, hypertension", **options) == ["hypertension", "vip"]
    assert coerce("multi_select", None, **options) == []
    assert refused("multi_select", ["vip", "gold"], **options) == "invalid_option"
    kind, field = field_type("multi_select"), spec("multi_select", **options)
    assert kind.from_storage(kind.to_storage(["diabetes"], field), field) == ["diabetes"]
    assert kind.from_storage("not json", field) == []


def test_state_with_and_without_options():
    assert coerce("state", "open", options=["open", "done"]) == "open"
    assert refused("state", "closed", options=["open", "done"]) == "invalid_option"
    assert coerce("state", "anything", workflow="flow") == "anything"


# -- time -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [("2024-02-29", dt.date(2024, 2, 29)), (dt.datetime(2024, 1, 2, 3, 4), dt.date(2024, 1, 2)), ("", None)],
)
def test_date_coercion(value, expected):
    assert coerce("date", value) == expected


@pytest.mark.parametrize("value", ["2023-02-29", "29/02/2024", 20240229])
def test_date_refuses(value):
    assert refused("date", value) == "invalid_date"


def test_date_limits():
    kind = field_type("date")
    with pytest.raises(FieldValueError) as caught:
        kind.validate(dt.date(2030, 1, 1), spec("date"), None, dt.datetime(2024, 1, 1, 12))
    assert caught.value.code == "max"


@pytest.fixture
def shanghai(monkeypatch):
    """The app's time zone is Asia/Shanghai (wherever the datetime type reads it from)."""
    zone = ZoneInfo("Asia/Shanghai")
    monkeypatch.setattr(field_type("datetime"), "zone", zone, raising=False)
    try:
        from engines.rules import get_timezone, set_timezone
    except ImportError:
        yield zone
        return
    before = get_timezone()
    set_timezone(zone)
    yield zone
    set_timezone(before)


def test_datetime_with_timezone_is_stored_as_local_time(shanghai):
    assert coerce("datetime", "2024-03-01T00:30:00Z") == dt.datetime(2024, 3, 1, 8, 30)
    assert coerce("datetime", "2024-03-01T08:30:00+08:00") == dt.datetime(2024, 3, 1, 8, 30)


def test_datetime_naive_and_bad():
    assert coerce("datetime", "2024-03-01 08:30:15.5") == dt.datetime(2024, 3, 1, 8, 30, 15)
    assert coerce("datetime", dt.date(2024, 3, 1)) == dt.datetime(2024, 3, 1)
    assert refused("datetime", "tomorrow") == "invalid_datetime"
    assert field_type("datetime").display(dt.datetime(2024, 3, 1, 8, 30), spec("datetime"), "en") == "2024-03-01 08:30"


# -- relations ------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [(3, 3), ("3", 3), ({"id": 7, "title": "x"}, 7), ("", None)])
def test_link_coercion(value, expected):
    assert coerce("link", value, to="patient") == expected


@pytest.mark.parametrize("value", [0, -1, "x", True, 2**63])
def test_link_refuses(value):
    assert refused("link", value, to="patient") == "invalid_link"


def test_table_rows():
    assert coerce("table", [{"drug": "x"}], fields={"drug": {"type": "text"}}) == [{"drug": "x"}]
    assert refused("table", ["x"], fields={"drug": {"type": "text"}}) == "invalid_rows"


def test_table_rows_are_capped():
    fields = {"drug": {"type": "text"}}
    assert len(coerce("table", [{}] * 500, fields=fields)) == 500
    assert refused("table", [{}] * 501, fields=fields) == "too_many_rows"
    assert len(coerce("table", [{}] * 3, fields=fields, max_rows=3)) == 3
    assert refused("table", [{}] * 4, fields=fields, max_rows=3) == "too_many_rows"
    assert field_type("table").value_schema(spec("table", fields=fields, max_rows=3))["maxItems"] == 3


# -- registry and messages ------------------------------------------------------------


def test_every_type_has_a_value_schema_and_a_column():
    for name, kind in FIELD_TYPES.items():
        field = spec(
            name,
            **({"options": ["a"]} if "options" in kind.options_allowed else {}),
            **({"to": "x"} if "to" in kind.options_allowed else {}),
            **({"fields": {"a": {"type": "text"}}} if "fields" in kind.options_allowed else {}),
        )
        assert isinstance(kind.value_schema(field), dict)
        if kind.stored:
            kind.column_type(field)


def test_messages_in_english_and_chinese():
    assert message("min", "en", limit=5) == "Must be at least 5."
    assert message("min", "zh-CN", limit=5) == "不能小于 5。"
    assert message("invalid_option", "zh-CN", choices="a, b") == "请从以下选项中选择:a, b。"
    assert message("required", "fr") == "This field is required."  # falls back to English
    assert message("no_such_code", "en") == "no_such_code"


def test_every_error_code_a_type_raises_has_both_languages():
    for code, texts in MESSAGES.items():
        assert set(texts) >= {"en", "zh-CN"}, code


@pytest.mark.parametrize("region", ["CN", "HK", "US", "CA", "GB", "IM", "DE", "SG"])
def test_phone_type_in_region_answers_as_phonenumbers_two_calls(region):
    """One look at the patterns where the region owns its country code, both calls where it shares it."""
    import phonenumbers

    from engines.forms.fieldtypes.phones import parse_phone, type_in_region

    typed = [
        "13812345678",
        "010 1234 5678",
        "400 810 8888",
        "9123 4567",
        "2123 4567",
        "(212) 555-0100",
        "+1 416 555 0100",
        "+1 684 733 1234",
        "800 555 0100",
        "020 7946 0958",
        "07700 900123",
        "01624 812345",
        "+44 1624 812345",
        "030 123456",
        "0151 12345678",
        "6123 4567",
        "8123 4567",
        "+86 10 1234 5678",
        "+852 9123 4567",
        "12345",
        "+999 1234567",
    ]
    seen = set()
    for text in typed:
        number = parse_phone(text, region)
        if number is None:
            continue
        valid = phonenumbers.is_valid_number_for_region(number, region)
        expected = phonenumbers.number_type(number) if valid else None
        assert type_in_region(number, region) == expected, text
        seen.add(expected is not None)
    assert seen == {True, False}  # each region both accepts and refuses something here
