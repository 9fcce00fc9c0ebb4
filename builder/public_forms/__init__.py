"""Patients' own forms: public links to a form, bound to one patient or clinic-wide (docs/public-forms.md).

`catalog` reads the blueprint's `public:` blocks, `tokens` signs and records the links,
`actor` makes the public actor whose rights are exactly a form's mapping, `throttle`
counts submissions per address and per link, `submitting` takes one submission through
the record service, `review` is the staff queue for clinic-wide intakes and `qr` draws
a link as an SVG QR code. The web pages live in builder/web/public_pages.py.
"""

from __future__ import annotations

from .catalog import PublicForm, public_forms
from .review import Duplicate, Pending, ReviewQueue
from .submitting import Outcome, PublicDesk
from .tokens import BadToken, TokenRow, TokenStore

__all__ = [
    "BadToken",
    "Duplicate",
    "Outcome",
    "Pending",
    "PublicDesk",
    "PublicForm",
    "ReviewQueue",
    "TokenRow",
    "TokenStore",
    "public_forms",
]
