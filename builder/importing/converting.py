"""One source row made into the field values the record service takes, or the reasons it cannot be.

Only what a spreadsheet adds is done here (full-width digits, date shapes, labels for
options, 是/否, a doctor named instead of numbered); the record service then applies
every rule of the field types and the blueprint, as for typed-in data. Empty cells are
left out, so defaults apply on create and an update leaves the stored value alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engines.forms import EntitySpec, FieldSpec

from ..records import Actor, RecordService
from ..records.codec import search_value
from .mapping import ColumnRule, ImportMapping
from .messages import say
from .normalising import compact_number, parse_boolean, parse_date, parse_datetime, split_list, text_of
from .reading import EXTRA, SourceRow
from .suggesting import squash


@dataclass(frozen=True)
class RowProblem:
    """Why a row (or one of its cells) cannot be imported: row number, column ("" for the whole row), message."""

    row: int
    column: str
    message: str


class RowConverter:
    """Converts rows for one mapping; link look-ups are cached for the whole import."""

    def __init__(
        self,
        records: RecordService,
        actor: Actor,
        mapping: ImportMapping,
        entities: dict[str, EntitySpec],
        table: str | None = None,
    ):
        """Rows of the mapping's entity, or with `table` the rows of that table field's `children:` sheet."""
        self.records = records
        self.actor = actor
        self.mapping = mapping
        entity = entities[mapping.entity]
        self.fields: dict[str, FieldSpec] = entity.fields if table is None else (entity.fields[table].fields or {})
        self.columns: dict[str, ColumnRule] = mapping.fields if table is None else mapping.children[table].fields
        self.entities = entities
        self._options = {name: _option_words(spec) for name, spec in self.fields.items() if spec.options}
        self._links: dict[tuple[str, str, str], int | str] = {}
        self._known: dict[tuple[str, str], Any] = {}  # (field, cell text) -> value, for the kinds in _BY_TEXT

    def convert(self, row: SourceRow, conn: sa.Connection) -> tuple[dict[str, Any], list[RowProblem]]:
        values: dict[str, Any] = {}
        problems: list[RowProblem] = []
        if EXTRA in row.cells:
            problems.append(RowProblem(row.row, "", say("extra_cells", self.actor.locale, count=len(row.cells[EXTRA]))))
        for name, rule in self.columns.items():
            cell = row.cells.get(rule.column)
            try:
                value = self.value(name, rule, cell, conn)
            except ValueError as exc:
                problems.append(RowProblem(row.row, rule.column, str(exc)))
                continue
            if value is not None and value != []:
                values[name] = value
        return values, problems

    def value(self, name: str, rule: ColumnRule, cell: Any, conn: sa.Connection) -> Any:
        """The input value for field `name` from one cell; ValueError with a message for a person.

        A text cell of a kind whose value follows from the text alone is converted once per distinct
        text (a column of 男/女, 是/否, a few channels or dates repeats them thousands of times)."""
        text = text_of(cell)
        if text is None:
            return None
        if text in rule.values:
            return rule.values[text]
        if type(cell) is not str or self.fields[name].type not in _BY_TEXT:
            return self._value(name, rule, cell, text, conn)
        key = (name, text)
        known = self._known.get(key, _UNKNOWN)
        if known is _UNKNOWN:
            if len(self._known) >= _KNOWN_LIMIT:
                self._known.clear()
            known = self._known[key] = self._value(name, rule, cell, text, conn)
        return list(known) if type(known) is list else known  # a list of options is the row's own

    def _value(self, name: str, rule: ColumnRule, cell: Any, text: str, conn: sa.Connection) -> Any:
        spec = self.fields[name]
        locale = self.actor.locale
        kind = spec.type
        try:
            if kind == "date":
                return parse_date(cell if not isinstance(cell, str) else text, rule.format)
            if kind == "datetime":
                return parse_datetime(cell if not isinstance(cell, str) else text, rule.format)
            if kind == "boolean":
                return parse_boolean(text)
        except ValueError:
            raise ValueError(say(f"invalid_{kind}", locale, value=text)) from None
        if kind == "select":
            return self._option(name, rule, text)
        if kind == "multi_select":
            return [self._option(name, rule, part) for part in split_list(text)]
        if kind in ("phone", "cn_resident_id"):
            return compact_number(text)
        if kind in ("integer", "decimal", "number", "money"):
            return re.sub(r"(?<=\d),(?=\d{3})", "", text)
        if kind == "link":
            return self._link(spec, rule, text, conn)
        return text

    def _option(self, name: str, rule: ColumnRule, text: str) -> Any:
        if text in rule.values:
            return rule.values[text]
        return self._options[name].get(squash(text), text)  # unknown: the record service says which are allowed

    def _link(self, spec: FieldSpec, rule: ColumnRule, text: str, conn: sa.Connection) -> int:
        """The id of the one record of the target whose `by` field is `text`, among those the actor may see."""
        target = spec.to or ""
        by = rule.by or "id"
        key = (target, by, text)
        if key not in self._links:
            self._links[key] = self._find(target, by, text, conn)
        found = self._links[key]
        if isinstance(found, str):
            raise ValueError(found)
        return found

    def _find(self, target: str, by: str, text: str, conn: sa.Connection) -> int | str:
        locale = self.actor.locale
        records = self.records
        table = records.schema.table(target)
        grant = records.policy.grant(self.actor, target)
        if by != "id" and by not in grant.readable:
            return say("link_unreadable", locale, entity=target, field=by)
        if by == "id":
            try:
                column, stored = "id", int(text)
            except ValueError:
                return say("link_missing", locale, entity=target, value=text)
        else:
            field = records.entity(target).fields[by]
            try:
                column, stored = search_value(field, field.kind.coerce(text, field.spec), records.cipher)
            except ValueError:
                return say("link_missing", locale, entity=target, value=text)
        query = sa.select(table.c.id).where(table.c[column] == stored)
        visible = records.row_filter(self.actor, target, grant)
        if visible is not None:
            query = query.where(visible)
        ids = list(conn.execute(query.limit(2)).scalars())
        if not ids:
            return say("link_missing", locale, entity=target, value=text)
        if len(ids) > 1:
            return say("link_ambiguous", locale, entity=target, value=text, field=by)
        return int(ids[0])


# Kinds whose value is a function of the cell's text (and the mapping), costly enough to remember and
# with few distinct texts; numbers and plain text are cheap to convert and mostly differ row by row.
_BY_TEXT = frozenset({"date", "datetime", "boolean", "select", "multi_select"})
_KNOWN_LIMIT = 50_000  # distinct texts remembered, then forgotten all at once (memory stays bounded)
_UNKNOWN = object()


def _option_words(spec: FieldSpec) -> dict[str, str]:
    """Each option's code and labels in every language, squashed, -> the option (男 -> male)."""
    words: dict[str, str] = {}
    for option in spec.options or []:
        words[squash(option)] = option
        labels = (spec.option_labels or {}).get(option)
        for label in labels.values() if isinstance(labels, dict) else [labels] if labels else []:
            words.setdefault(squash(label), option)
    return words
