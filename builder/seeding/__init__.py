"""Realistic demo data for any blueprint, written through the record service.

`plan_rows` decides how many rows of each entity (in link order), `seed` makes them:
values fit each field's type, limits and meaning (names, past birth dates, valid
phone numbers, bookings around now), links point at records that exist, and rows the
service refuses are retried with new values, then skipped and counted.
"""

from .planning import RowRequest, SeedRequestError, main_entity, parse_rows, plan_rows, seeding_order
from .running import SeedFailed, SeedReport, faker_locale, seed

__all__ = [
    "RowRequest",
    "SeedFailed",
    "SeedReport",
    "SeedRequestError",
    "faker_locale",
    "main_entity",
    "parse_rows",
    "plan_rows",
    "seed",
    "seeding_order",
]
