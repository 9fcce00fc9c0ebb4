"""Which column type changes keep every value (widening) and which may not (narrowing).

Decisions (see docs/migrations.md):
- text: a longer VARCHAR or TEXT is wider; a shorter VARCHAR, or TEXT -> VARCHAR, is narrower.
- integers: SMALLINT < INTEGER < BIGINT; integer -> decimal is wider when the decimal
  has room for the integer digits; otherwise the current values are checked and the
  change is blocked if any would not fit (the database would refuse it anyway).
- decimals: wider when neither the integer digits nor the scale shrink.
- number -> text keeps every value when the text is long enough to spell it.
- any other change of kind (text -> number, date -> text, ...) may lose values.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

# Digits (without sign) the integer types can hold.
INTEGER_DIGITS = {"small": 5, "integer": 10, "big": 19}
# Characters needed to spell a BIGINT, with its sign.
INTEGER_TEXT_LENGTH = 20


@dataclass(frozen=True)
class TypeVerdict:
    """What changing a column's type does to the values already stored."""

    safe: bool
    reason: str
    cut_length: int | None = None  # narrowing text: longer values are cut to this length
    integer_digits: int | None = None  # to decimal: current values must have at most this many integer digits


def resolve(column_type: sa.types.TypeEngine, dialect: str) -> sa.types.TypeEngine:
    """The type actually used on `dialect` (a `with_variant` type may differ per database)."""
    variants = getattr(column_type, "_variant_mapping", None) or {}
    return variants.get(dialect, column_type)


def _integer_size(column_type: sa.types.TypeEngine) -> str:
    if isinstance(column_type, sa.BigInteger):
        return "big"
    if isinstance(column_type, sa.SmallInteger):
        return "small"
    return "integer"


def kind_of(column_type: sa.types.TypeEngine) -> str:
    """The family of a type: text, long_text, integer, decimal, boolean, date, datetime..."""
    if isinstance(column_type, sa.Text) or (isinstance(column_type, sa.String) and column_type.length is None):
        return "long_text"
    if isinstance(column_type, (sa.Enum, sa.String)):
        return "text"
    if isinstance(column_type, sa.Boolean):
        return "boolean"
    if isinstance(column_type, sa.Integer):
        return "integer"
    if isinstance(column_type, sa.Float):
        return "float"
    if isinstance(column_type, sa.Numeric):
        return "decimal"
    if isinstance(column_type, sa.DateTime):
        return "datetime"
    if isinstance(column_type, sa.Date):
        return "date"
    return type(column_type).__name__.lower()


def _text_length(column_type: sa.types.TypeEngine) -> int | None:
    """None means unlimited."""
    return None if kind_of(column_type) == "long_text" else column_type.length  # type: ignore[attr-defined]


def _digits(column_type: sa.types.TypeEngine) -> tuple[int, int]:
    """(integer digits, scale) of a decimal; unlimited decimals count as very wide."""
    precision = getattr(column_type, "precision", None) or 1000
    scale = getattr(column_type, "scale", None) or 0
    return precision - scale, scale


def classify(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> TypeVerdict:
    """Whether changing a column from `old` to `new` can lose a stored value, and why."""
    old_kind, new_kind = kind_of(old), kind_of(new)
    if old_kind in ("text", "long_text") and new_kind in ("text", "long_text"):
        old_len, new_len = _text_length(old), _text_length(new)
        if new_len is None or (old_len is not None and new_len >= old_len):
            return TypeVerdict(True, "longer text")
        was = "unlimited" if old_len is None else str(old_len)
        return TypeVerdict(False, f"shorter text ({was} -> {new_len} characters)", cut_length=new_len)
    if old_kind == "integer" and new_kind == "integer":
        old_size, new_size = _integer_size(old), _integer_size(new)
        if INTEGER_DIGITS[new_size] >= INTEGER_DIGITS[old_size]:
            return TypeVerdict(True, "larger whole numbers")
        return TypeVerdict(False, "smaller whole numbers")
    if old_kind == "integer" and new_kind == "decimal":
        room, _ = _digits(new)
        if room >= INTEGER_DIGITS[_integer_size(old)]:
            return TypeVerdict(True, "whole numbers to decimals")
        return TypeVerdict(True, "whole numbers to decimals", integer_digits=room)
    if old_kind == "decimal" and new_kind == "decimal":
        (old_int, old_scale), (new_int, new_scale) = _digits(old), _digits(new)
        if new_int >= old_int and new_scale >= old_scale:
            return TypeVerdict(True, "more digits")
        if new_scale < old_scale:
            return TypeVerdict(False, f"fewer decimal places ({old_scale} -> {new_scale}): values are rounded")
        return TypeVerdict(True, "fewer integer digits", integer_digits=new_int)
    if old_kind in ("decimal", "float") and new_kind == "integer":
        return TypeVerdict(False, "decimals to whole numbers: fractions are rounded")
    if old_kind in ("integer", "decimal") and new_kind in ("text", "long_text"):
        needed = INTEGER_TEXT_LENGTH if old_kind == "integer" else sum(_digits(old)) + 2
        length = _text_length(new)
        if length is None or length >= needed:
            return TypeVerdict(True, "numbers to text")
        return TypeVerdict(False, f"numbers to text of {length} characters: long numbers are cut", cut_length=length)
    if old_kind == "date" and new_kind == "datetime":
        return TypeVerdict(True, "dates to date and time")
    return TypeVerdict(
        False, f"{old_kind.replace('_', ' ')} to {new_kind.replace('_', ' ')}: values that do not convert are lost"
    )
