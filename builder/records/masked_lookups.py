"""Lookups by a field the actor sees masked: one whole value per request, counted, audited.

A front desk that sees `138****5678` must not undo the mask by guessing: a list
(`phone__in=`), a range, a prefix, a sort or a partial search would each give away
digits. So a role that sees a field masked may find a record by that field only with
the one whole value it already knows (a caller's number), exactly. Every such
request counts in `crm_masked_lookup`, per actor and in the database, so the limit
holds across every process; over the limit the request gets 429 and the admins an
alert in the audit trail. The audit keeps the field and a keyed hash of the value,
never the value.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from builder.storage.database import write_transaction
from builder.storage.locks import lock_scopes, scope_key
from builder.storage.search_indexes import searched_fields
from builder.system_tables import audit as audit_table
from builder.system_tables import masked_lookups as lookups_table
from engines.forms import FieldValueError, localized

from .actor import Actor
from .auditing import audit_row, utc_stamp
from .codec import Cipher
from .compiled import CompiledEntity, CompiledField
from .errors import FieldError, TooManyLookups, ValidationFailed
from .policy import Grant

ALERT_ACTION = "alert.masked_lookup_limit"
DEFAULT_LIMIT = 30
DEFAULT_WINDOW_MINUTES = 10

_TEXTS = {
    "masked_field": {
        "en": "{label} is masked for your role: look a record up by its whole value only, one exact value per "
        "request (no lists, ranges, partial values or sorting).",
        "zh-CN": "您的角色看到的{label}是部分隐藏的:只能按完整的值精确查找,"
        "每次一个值(不能用列表、范围、部分内容或排序)。",
    },
    "one_masked_value": {
        "en": "Look a record up by one whole value of a masked field per request.",
        "zh-CN": "每次只能按一个隐藏字段的完整值查找记录。",
    },
    "too_many": {
        "en": "Too many lookups by masked fields (at most {limit} in {minutes} minutes). Try again later; "
        "your administrator has been told.",
        "zh-CN": "按隐藏字段查找过于频繁(每 {minutes} 分钟最多 {limit} 次)。请稍后再试;已通知管理员。",
    },
}


def _text(key: str, locale: str, **params: Any) -> str:
    texts = _TEXTS[key]
    return (texts.get(locale) or texts.get(locale.split("-")[0]) or texts["en"]).format(**params)


def is_masked(field: CompiledField, grant: Grant) -> bool:
    """Whether the grant's holder sees this field's values masked."""
    return bool(field.spec.sensitive) and not grant.full_access


@dataclass(frozen=True)
class MaskedLookup:
    """One request's look-up by masked fields: which fields, and the one whole value (never stored)."""

    entity: str
    fields: tuple[str, ...]
    value: str


def _refused(key: str, field: CompiledField, locale: str) -> ValidationFailed:
    label = localized(field.spec.label, locale, field.name)
    return ValidationFailed([FieldError(key, "masked_field", _text("masked_field", locale, label=label))])


def _whole_value(field: CompiledField, raw: Any) -> str | None:
    """The stored form of `raw` as one value of `field`, or None when it is not one (the query says why)."""
    try:
        value = field.kind.coerce(raw, field.spec)
    except FieldValueError:
        return None
    return None if field.kind.is_empty(value) else str(field.kind.to_storage(value, field.spec))


def find_masked_lookup(
    entity: CompiledEntity, grant: Grant, q: str | None, filters: Mapping[str, Any], sort: str | None, locale: str
) -> MaskedLookup | None:
    """Refuse every probe of a masked field but one whole value; the look-up this request makes, if any."""
    terms: list[tuple[str, str]] = []
    for key, raw in filters.items():
        name, _, op = key.partition("__")
        field = entity.fields.get(name)
        if field is None or name not in grant.readable or not is_masked(field, grant):
            continue
        if op not in ("", "eq") or isinstance(raw, (list, tuple, set, frozenset, dict)):
            raise _refused(key, field, locale)
        value = _whole_value(field, raw)
        if value is not None:
            terms.append((name, value))
    for part in (sort or "").split(","):
        name = part.strip().lstrip("-+")
        field = entity.fields.get(name)
        if field is not None and name in grant.readable and is_masked(field, grant):
            raise _refused("sort", field, locale)
    text = (q or "").strip()
    for name in searched_fields(entity.spec) if text else ():
        field = entity.fields.get(name)
        if field is not None and name in grant.readable and field.kind.stored and is_masked(field, grant):
            value = _whole_value(field, text)
            if value is not None:  # the search compares it whole (querying.py); other text never touches it
                terms.append((name, value))
    if not terms:
        return None
    if len({value for _, value in terms}) > 1:
        raise ValidationFailed([FieldError("__all__", "one_masked_value", _text("one_masked_value", locale))])
    return MaskedLookup(entity.name, tuple(sorted({name for name, _ in terms})), terms[0][1])


def unique_probe(
    entity: CompiledEntity, grant: Grant, values: Mapping[str, Any], errors: list[FieldError]
) -> MaskedLookup | None:
    """A write refused as `unique` on a field the actor sees masked told it the value exists: a look-up."""
    for error in errors:
        field = entity.fields.get(error.field)
        if error.code == "unique" and field is not None and is_masked(field, grant) and error.field in values:
            value = _whole_value(field, values[error.field])
            if value is not None:
                return MaskedLookup(entity.name, (field.name,), value)
    return None


class MaskedLookupGuard:
    """The per-actor limit on masked look-ups and the keyed hash that stands for their values."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window_minutes: int = DEFAULT_WINDOW_MINUTES,
        secret: str | bytes | None = None,
    ):
        if limit < 1 or window_minutes < 1:
            raise ValueError("the masked lookup limit and window must be positive")
        self.limit = limit
        self.window = dt.timedelta(minutes=window_minutes)
        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        # Without a configured secret (a command, not the web app) the hashes are kept per process only.
        self._key = hmac.new(raw or secrets.token_bytes(32), b"crm masked lookup", hashlib.sha256).digest()

    def keyed_hash(self, lookup: MaskedLookup, cipher: Cipher | None) -> str:
        """A keyed hash of the looked-up value: the encryption keyring's blind index when there is one."""
        text = f"masked-lookup|{lookup.entity}|{lookup.value}"
        if cipher is not None:
            return cipher.blind_index(text)
        return hmac.new(self._key, text.encode("utf-8"), hashlib.sha256).hexdigest()

    def admit(self, engine: sa.Engine, actor: Actor, lookup: MaskedLookup, now: dt.datetime) -> None:
        """Count this look-up, or refuse it (TooManyLookups) and alert the admins once per window."""
        since = now - self.window
        name = actor.name[:64]
        recent = lookups_table.c.actor == name, lookups_table.c.at > since
        with write_transaction(engine) as conn:
            _serialise(conn, name)
            count = conn.execute(sa.select(sa.func.count()).select_from(lookups_table).where(*recent)).scalar_one()
            refused = count >= self.limit
            if refused:
                self._alert_once(conn, actor, lookup, now, since)
            else:
                conn.execute(lookups_table.delete().where(lookups_table.c.actor == name, lookups_table.c.at <= since))
                conn.execute(
                    lookups_table.insert().values(
                        at=now, actor=name, entity=lookup.entity, field=",".join(lookup.fields)[:64]
                    )
                )
        if refused:  # raised after the commit, so the alert stays written
            minutes = int(self.window.total_seconds() // 60)
            raise TooManyLookups(
                _text("too_many", actor.locale, limit=self.limit, minutes=minutes),
                retry_after=int(self.window.total_seconds()),
            )

    def _alert_once(
        self, conn: sa.Connection, actor: Actor, lookup: MaskedLookup, now: dt.datetime, since: dt.datetime
    ) -> None:
        table = audit_table
        alerted = conn.execute(
            sa.select(table.c.id)
            .where(table.c.action == ALERT_ACTION, table.c.actor == actor.name, table.c.at > utc_stamp(since))
            .limit(1)
        ).first()
        if alerted is None:
            detail = {
                "fields": list(lookup.fields),
                "limit": self.limit,
                "window_minutes": int(self.window.total_seconds() // 60),
            }
            conn.execute(
                table.insert().values(
                    **audit_row(actor, ALERT_ACTION, lookup.entity, None, now, detail=json.dumps(detail))
                )
            )


def _serialise(conn: sa.Connection, name: str) -> None:
    """One actor's count-and-record runs alone on PostgreSQL (SQLite's BEGIN IMMEDIATE already does)."""
    lock_scopes(conn, [scope_key("crm_masked_lookup", name)])
