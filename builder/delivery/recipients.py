"""Resolve an outbox row's recipient reference against the record as it is now.

The outbox holds a reference (`patient`, `patient.primary_doctor`, `record`, `role:doctor`),
never an address, so a changed phone number or a withdrawn consent counts at sending time.
A record whose entity has a `user` field is staff (its account gets the inbox, its e-mail
field the mail); any other record is a person outside the clinic — a patient — to whom
consent, quiet hours and the daily cap apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..records import RecordService
from .channel import Address
from .reading import Reader


@dataclass(frozen=True)
class Recipient:
    """Who a message goes to: staff, a role, or a patient (`record` holds the person's fields)."""

    kind: str  # "patient" | "staff" | "role"
    address: Address
    locale: str
    entity: str | None = None
    record: Mapping[str, Any] = field(default_factory=dict)


class Unresolved(Exception):
    """The reference leads nowhere (an empty link, a deleted record): the message is skipped."""


def _first_of_type(records: RecordService, entity: str, kind: str, values: Mapping[str, Any]) -> Any:
    for name in records.entity(entity).fields_of_type(kind):
        if values.get(name):
            return values[name]
    return None


def resolve(
    records: RecordService, reader: Reader, reference: str, entity: str, record: Mapping[str, Any], default_locale: str
) -> Recipient:
    """The recipient `reference` names, starting from `record` (of `entity`), read as the system."""
    if reference.startswith("role:"):
        role = reference.removeprefix("role:")
        accounts = reader.accounts(role=role)
        return Recipient("role", Address(user_ids=tuple(a.id for a in accounts), role=role), default_locale)
    current_entity, current = entity, record
    if reference != "record":
        for link in reference.split("."):
            target = records.link_targets(current_entity).get(link)
            value = current.get(link)
            if target is None or not isinstance(value, int):
                raise Unresolved(f"no {link} on the record")
            found = reader.record(target, value)
            if found is None:
                raise Unresolved(f"{link} not found")
            current, current_entity = found, target
    user_id = _first_of_type(records, current_entity, "user", current)
    has_account_field = bool(records.entity(current_entity).fields_of_type("user"))
    email = _first_of_type(records, current_entity, "email", current)
    name = str(current.get("name") or "") or None
    if has_account_field:
        accounts = reader.accounts(user_id=user_id) if isinstance(user_id, int) else []
        locale = (accounts[0].locale if accounts else None) or default_locale
        address = Address(email=email, user_ids=tuple(a.id for a in accounts), name=name)
        return Recipient("staff", address, locale, current_entity, current)
    phone = _first_of_type(records, current_entity, "phone", current)
    locale = str(current.get("locale") or current.get("language") or default_locale)
    return Recipient("patient", Address(phone=phone, email=email, name=name), locale, current_entity, current)
