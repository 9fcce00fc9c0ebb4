"""What a PRC resident ID number encodes, for rules that check it against a record's other fields.

Digits 7-14 are the birth date (YYYYMMDD) and digit 17 is odd for men and even
for women (GB 11643-1999). The field type validates the checksum on input; these
functions only read, and give null for a value that holds no such date.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .functions import register_function


def _digits(value: Any) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    return text if len(text) == 18 and text[:17].isdigit() else None


@register_function(params=("text",), returns="date", example="id_birth_date(id_number) == birth_date")
def id_birth_date(value: Any) -> dt.date | None:
    """The birth date a resident ID number holds (null when it holds no real date)."""
    text = _digits(value)
    if text is None:
        return None
    try:
        return dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return None


@register_function(params=("text",), returns="text", example="id_gender(id_number) == gender")
def id_gender(value: Any) -> str | None:
    """'male' or 'female', from the resident ID number's 17th digit (odd: male)."""
    text = _digits(value)
    if text is None:
        return None
    return "male" if int(text[16]) % 2 else "female"
