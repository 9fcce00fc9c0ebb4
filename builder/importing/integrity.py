"""The integrity report: what the file said against what the database now holds, column by column.

For every row the import wrote, each mapped column's cell (as imported: normalised,
mapped and coerced by its field type) is compared with the stored value read back and
decoded (decrypted) by the record service's codec. Per column: how many rows had a
value in the file and in the database, and a SHA-256 checksum of `row<TAB>value` lines
in row order on each side. Equal checksums prove the database holds exactly the file's
values; the report shows only counts and checksums, never a value.
Empty cells are left out on both sides: a default filled in by the blueprint is not a
difference. When rows of the file update the same record, only the last is compared.
Child rows (`children:`) are compared the same way: per child column, `row<TAB>position<TAB>value`
lines, and per table field the number of child rows each record has in the file and stored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ..records import RecordService
from ..records.codec import decode
from ..records.compiled import CompiledEntity
from .mapping import ImportMapping


def canonical(value: Any) -> str:
    """One value as text for comparing: dates ISO, lists in order, numbers without float noise."""
    if type(value) is str:  # most cells: no JSON encoder for them (a tagged form keeps "1" apart from 1)
        return "s:" + value

    def plain(v: Any) -> Any:
        if isinstance(v, (dt.date, dt.datetime)):
            return v.isoformat()
        if isinstance(v, decimal.Decimal):
            return str(v.normalize())
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    return json.dumps(plain(value), ensure_ascii=False, sort_keys=True)


@dataclass
class ColumnCheck:
    column: str
    name: str  # the field
    source_values: int = 0
    database_values: int = 0
    source_checksum: str = ""
    database_checksum: str = ""
    differing_rows: list[int] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return self.source_checksum == self.database_checksum and self.source_values == self.database_values


@dataclass
class Integrity:
    columns: list[ColumnCheck]
    rows_compared: int
    superseded: int = 0  # rows whose record a later row of the file wrote again (only the last is compared)

    @property
    def matches(self) -> bool:
        return all(c.matches for c in self.columns)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_compared": self.rows_compared,
            "superseded": self.superseded,
            "matches": self.matches,
            "columns": [
                {
                    "column": c.column,
                    "field": c.name,
                    "source_values": c.source_values,
                    "database_values": c.database_values,
                    "source_checksum": c.source_checksum,
                    "database_checksum": c.database_checksum,
                    "matches": c.matches,
                    "differing_rows": c.differing_rows[:20],
                }
                for c in self.columns
            ],
        }


def _child_key(table: str, position: int | str, name: str) -> str:
    return f"{table}.{position}.{name}"


def coerced_source(records: RecordService, entity: str, values: dict[str, Any]) -> dict[str, str]:
    """The row's imported values as the field types coerce them, canonical; unparsable ones as given."""
    compiled = records.entity(entity)
    out = {}
    for name, value in values.items():
        field = compiled.fields[name]
        if field.children:
            out[_child_key(name, "#", "rows")] = str(len(value))
            for position, row in enumerate(value):
                out.update(
                    {_child_key(name, position, k): v for k, v in coerced_source_row(field.children, row).items()}
                )
            continue
        with contextlib.suppress(ValueError):  # shown as given: the record service refused or kept it
            value = field.kind.coerce(value, field.spec)
        if not field.kind.is_empty(value):
            out[name] = canonical(value)
    return out


def coerced_source_row(fields: dict[str, Any], values: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name, value in values.items():
        field = fields[name]
        with contextlib.suppress(ValueError):
            value = field.kind.coerce(value, field.spec)
        if not field.kind.is_empty(value):
            out[name] = canonical(value)
    return out


def imported_values(entity: CompiledEntity, given: dict[str, Any], typed: dict[str, Any]) -> dict[str, str]:
    """The canonical values of the fields a row filled, as the record service coerced them for writing."""
    out = {}
    for name in given:
        value = typed.get(name)
        children = entity.fields[name].children
        if children:  # child rows: the cells each one was given, by position
            rows = value or []
            out[_child_key(name, "#", "rows")] = str(len(rows))
            for position, (sent, row) in enumerate(zip(given[name], rows, strict=False)):
                for sub in sent:
                    if not children[sub].kind.is_empty(row.get(sub)):
                        out[_child_key(name, position, sub)] = canonical(row.get(sub))
            continue
        if not entity.fields[name].kind.is_empty(value):
            out[name] = canonical(value)
    return out


def check_integrity(
    records: RecordService,
    mapping: ImportMapping,
    written: dict[int, tuple[int, dict[str, str]]],
    chunk: int = 500,
) -> Integrity:
    """Compare `written` ({row: (record id, canonical source values)}) with the stored records."""
    entity = records.entity(mapping.entity)
    table = records.schema.table(mapping.entity)
    last: dict[int, int] = {}  # record id -> the last row that wrote it (a later row of the file supersedes)
    for row in sorted(written):
        last[written[row][0]] = row
    superseded = len(written) - len(last)
    written = {row: written[row] for row in last.values()}
    ids = sorted(last)
    # Only the mapped fields are read and decoded, `chunk` records a query in the file's row order,
    # so the hashes are fed as they come and the records are not all held at once.
    fields = [f for f in entity.stored_fields if f.name in mapping.fields]
    query = sa.select(table.c.id, *(table.c[f.name] for f in fields))
    names = list(mapping.fields)
    checks = {name: ColumnCheck(rule.column, name) for name, rule in mapping.fields.items()}
    hashes = {name: (hashlib.sha256(), hashlib.sha256()) for name in names}
    empty = {name: entity.fields[name].kind.is_empty for name in names}
    rows = sorted(written)
    with records.engine.connect() as conn:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            stored = {
                found.id: decode(fields, found, mapping.entity, records.cipher)
                for found in conn.execute(query.where(table.c.id.in_([written[row][0] for row in part])))
            }
            for row in part:
                record_id, source = written[row]
                values = stored.get(record_id, {})
                for name in names:
                    mine = source.get(name)
                    if mine is None:
                        continue
                    check = checks[name]
                    source_hash, database_hash = hashes[name]
                    check.source_values += 1
                    source_hash.update(f"{row}\t{mine}\n".encode())
                    value = values.get(name)
                    if empty[name](value):
                        check.differing_rows.append(row)
                        continue
                    theirs = canonical(value)
                    check.database_values += 1
                    database_hash.update(f"{row}\t{theirs}\n".encode())
                    if theirs != mine:
                        check.differing_rows.append(row)
    for name, check in checks.items():
        check.source_checksum = hashes[name][0].hexdigest()[:16]
        check.database_checksum = hashes[name][1].hexdigest()[:16]
    result = list(checks.values())
    for name, child in mapping.children.items():
        result += _child_checks(records, mapping.entity, name, child, written, ids, chunk)
    return Integrity(result, len(written), superseded)


def _child_checks(
    records: RecordService,
    entity_name: str,
    name: str,
    child: Any,
    written: dict[int, tuple[int, dict[str, str]]],
    ids: list[int],
    chunk: int,
) -> list[ColumnCheck]:
    """The child rows the file gave each written record against the child rows stored for it."""
    field = records.entity(entity_name).fields[name]
    table = records.schema.child(entity_name, name)
    stored: dict[int, list[dict[str, Any]]] = {}
    with records.engine.connect() as conn:
        for start in range(0, len(ids), chunk):
            query = (
                sa.select(table)
                .where(table.c.parent_id.in_(ids[start : start + chunk]))
                .order_by(table.c.parent_id, table.c.position, table.c.id)
            )
            for found in conn.execute(query):
                values = decode(list(field.children.values()), found, table.name, records.cipher)
                stored.setdefault(found.parent_id, []).append(values)
    label = child.sheet if child.file is None else child.file
    counts = ColumnCheck(f"{label}", f"{name} (rows)")
    checks = [counts]
    column_checks = {sub: ColumnCheck(f"{label}:{rule.column}", f"{name}.{sub}") for sub, rule in child.fields.items()}
    checks += column_checks.values()
    hashes = {id(c): (hashlib.sha256(), hashlib.sha256()) for c in checks}
    for row in sorted(written):
        record_id, source = written[row]
        given = source.get(_child_key(name, "#", "rows"))
        if given is None:
            continue  # the file had no child rows for it: its stored rows are not the import's
        rows = stored.get(record_id, [])
        _compare(counts, hashes[id(counts)], f"{row}", given, str(len(rows)))
        for sub, check in column_checks.items():
            inner = field.children[sub]
            for position in range(max(int(given), len(rows))):
                mine = source.get(_child_key(name, position, sub))
                value = rows[position].get(sub) if position < len(rows) else None
                theirs = None if inner.kind.is_empty(value) else canonical(value)
                if mine is not None or theirs is not None:
                    _compare(check, hashes[id(check)], f"{row}\t{position}", mine, theirs)
    for check in checks:
        source_hash, database_hash = hashes[id(check)]
        check.source_checksum = source_hash.hexdigest()[:16]
        check.database_checksum = database_hash.hexdigest()[:16]
    return checks


def _compare(check: ColumnCheck, hashes: tuple[Any, Any], where: str, mine: str | None, theirs: str | None) -> None:
    row = int(where.split("\t")[0])
    if mine is not None:
        check.source_values += 1
        hashes[0].update(f"{where}\t{mine}\n".encode())
    if theirs is not None:
        check.database_values += 1
        hashes[1].update(f"{where}\t{theirs}\n".encode())
    if mine != theirs and row not in check.differing_rows:
        check.differing_rows.append(row)
