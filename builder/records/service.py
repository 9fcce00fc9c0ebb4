"""The record service: create, read, update, delete and list records *as* an actor.

The lifecycle of a write is explicit and in one place (`_write`): check the grant,
coerce the input, merge with what is stored, apply defaults and computed values,
validate everything, then write the row, its child rows and the audit entry in
one transaction. No flags, no way around it.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import functools
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from builder.storage.database import write_transaction
from builder.storage.id_lists import among
from builder.storage.row_insert import RowInserts
from builder.storage.table_versions import note_change
from builder.storage.tables import Schema, build_schema
from builder.system_tables import audit as audit_table
from engines.forms import EntitySpec, FormSpec, message
from engines.rules import get_timezone
from engines.workflows import Flows

from . import preparing
from .actor import Actor
from .auditing import add_audit, audit_changes, audit_row
from .automations import Change, Run, Written, react
from .batch import KNOWN_LINKS, Batch, in_batch, open_batch, starting_to_write
from .codec import Cipher, decode, encode, search_value, with_previous_names
from .compiled import CompiledEntity, compile_entity
from .compiled_reports import CompiledReports
from .counting import CAPPED_COUNT, Seen, capped_count, count_matches, with_count
from .errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from .evaluating import RecordEvaluator, child_key
from .keyset import SortKey, encode_cursor
from .link_filters import LinkChoice, check_admitted, check_link_filters, filter_clause
from .links import LinkLoader
from .list_statements import KeptList, ListStatements
from .manual import BulkRun, run_manual, run_manual_many
from .masked_lookups import MaskedLookupGuard, find_masked_lookup, unique_probe
from .policy import Grant, Policy
from .querying import MAX_LIMIT, ListQueries, ListQuery, build_list_query
from .read_audit import protected_fields, read_detail, write_read_audit
from .related import SqlRelated
from .rowfilter import RowFilters
from .tasks import MAX_TASKS, TaskList, count_tasks, list_tasks
from .transitions import Move, make_transition, start_state, state_writes


@dataclass
class Page:
    """One page of a list: the records, how many match in all, and where the next page starts.

    `total_kind` says what `total` is (counting.py): exact, estimate, at_least, or none
    (then `total` is None). `next_after` is the keyset cursor of the next page (None on the last).
    """

    items: list[dict[str, Any]]
    total: int | None
    limit: int
    offset: int
    total_kind: str = "exact"
    next_after: str | None = None


def _now() -> dt.datetime:
    """Now in the app's timezone, stored naive like every datetime field."""
    return dt.datetime.now(get_timezone()).replace(tzinfo=None, microsecond=0)


class RecordService:
    """Every read and write of blueprint records goes through here."""

    def __init__(
        self,
        entities: dict[str, EntitySpec],
        engine: sa.Engine,
        cipher: Cipher | None = None,
        schema: Schema | None = None,
        clock=_now,
        decision_tables: Mapping[str, Any] | None = None,
        timezone: str | None = None,
        masked_lookups: MaskedLookupGuard | None = None,
        flows: Flows | None = None,
        forms: Mapping[str, FormSpec] | None = None,
    ):
        self.engine = engine
        self.masked_lookups = masked_lookups or MaskedLookupGuard()
        self.cipher = with_previous_names(cipher, entities)  # a rename's re-encryption may be under way
        self.schema = schema or build_schema(entities)
        self.decision_tables = dict(decision_tables or {})
        self.timezone = timezone
        self.flows = flows  # the compiled workflows and automations; None: the blueprint has none
        self.reports_engine: sa.Engine | None = None  # `[database] reports_url`: reports run there when set
        self.report_cache: Any = None  # a records.report_cache.ReportCache, set by the runtime
        self.compiled_reports = CompiledReports()  # reports compiled per viewer (records/compiled_reports.py)
        self.entities: dict[str, CompiledEntity] = {
            n: compile_entity(n, entities, self.decision_tables, forms) for n in entities
        }
        self.policy = Policy.from_entities(entities)
        self._unique_queries: dict[tuple[str, str, bool], sa.Select] = {}
        self._statements: dict[tuple[Any, ...], Any] = {}  # statements built once, by kind and table (and shape)
        self._list_statements = ListStatements()  # list requests' statements, kept (list_statements.py)
        self._row_inserts = RowInserts()  # one row's INSERT per table and columns, as the driver's SQL
        self._row_filters = RowFilters(lambda name: self.schema.table(name), lambda e, f: self._links[e].get(f))
        self.clock = clock
        self._links = {n: _link_fields(e.fields) for n, e in entities.items()}
        self._links.update(
            {
                child_key(n, f): _link_fields(s.fields or {})  # child rows' links, for expressions
                for n, e in entities.items()
                for f, s in e.fields.items()
                if s.type == "table"
            }
        )

    # -- helpers ---------------------------------------------------------------------
    def entity(self, name: str) -> CompiledEntity:
        if name not in self.entities:
            raise NotFound(f"there is no entity `{name}`")
        return self.entities[name]

    def link_targets(self, entity: str) -> dict[str, str]:
        return self._links[entity]

    @functools.cached_property
    def linked_to(self) -> frozenset[str]:
        """The entities some link (of a record or a child row) points at."""
        return frozenset(target for links in self._links.values() for target in links.values())

    def link_loader(self, conn: sa.Connection) -> LinkLoader:
        """Linked records as stored (unfiltered), for evaluating expressions within `conn`'s transaction."""

        def fetch(entity: str, record_id: int) -> dict[str, Any] | None:
            table = self.schema.table(entity)
            row = conn.execute(sa.select(table).where(table.c.id == record_id)).first()
            if row is None:
                return None
            values = decode(self.entities[entity].stored_fields, row, entity, self.cipher)
            return {"id": row.id, **values}

        return LinkLoader(fetch, self.link_targets)

    def stored_records(self, conn: sa.Connection, entity: str, ids: Iterable[int]) -> dict[int, dict[str, Any] | None]:
        """Records as stored (decrypted, unfiltered) by id, in one query; None for an id with no record."""
        wanted = sorted(set(ids))
        found: dict[int, dict[str, Any] | None] = dict.fromkeys(wanted)
        if wanted:
            table = self.schema.table(entity)
            fields = self.entities[entity].stored_fields
            for row in conn.execute(sa.select(table).where(among(conn, table.c.id, wanted))):
                found[row.id] = {"id": row.id, **decode(fields, row, entity, self.cipher)}
        return found

    def _evaluator(self, entity: str, actor: Actor, conn: sa.Connection, record_id: int | None) -> RecordEvaluator:
        """Evaluates the entity's expressions for one record within this operation's connection."""
        return RecordEvaluator(
            self.link_loader(conn),
            entity,
            actor.as_context(),
            SqlRelated(self, conn, (entity, record_id)),
            self.timezone,
            record_id,
        )

    def row_filter(self, actor: Actor, entity: str, grant: Grant) -> sa.ColumnElement[bool] | None:
        """The SQL form of the grant's `where`, for this actor."""
        if not grant.where:
            return None
        return self._row_filters.clause(grant.where, entity, actor.as_context())

    def select_visible(self, actor: Actor, entity: str, grant: Grant) -> sa.Select:
        table = self.schema.table(entity)
        query = sa.select(table)
        condition = self.row_filter(actor, entity, grant)
        return query.where(condition) if condition is not None else query

    def visible_row(self, conn: sa.Connection, actor: Actor, entity: str, grant: Grant, record_id: int) -> Any:
        """The stored row if the actor may see it; NotFound otherwise (absent and hidden look alike)."""
        table = self.schema.table(entity)
        row = conn.execute(self.select_visible(actor, entity, grant).where(table.c.id == record_id)).first()
        if row is None:
            raise NotFound(f"{entity} {record_id} not found")
        return row

    # -- reading ---------------------------------------------------------------------
    def child_rows(self, conn: sa.Connection, entity: CompiledEntity, ids: list[int]) -> dict[tuple[str, int], list]:
        found: dict[tuple[str, int], list] = {}
        for field in entity.child_fields:
            table = self.schema.child(entity.name, field.name)
            if len(ids) == 1:  # one record (a write, a page of one): a statement built once
                rows = conn.execute(self._children_of_one(table), {"parent": ids[0]}).all()
            else:
                rows = conn.execute(
                    sa.select(table)
                    .where(table.c.parent_id.in_(ids))
                    .order_by(table.c.parent_id, table.c.position, table.c.id)
                ).all()
            for row in rows:
                values = decode(list(field.children.values()), row, table.name, self.cipher)
                found.setdefault((field.name, row.parent_id), []).append({"id": row.id, **values})
        return found

    def _children_of_one(self, table: sa.Table) -> sa.Select:
        query = self._statements.get(("children", table.name))
        if query is None:
            query = self._statements[("children", table.name)] = (
                sa.select(table)
                .where(table.c.parent_id == sa.bindparam("parent"))
                .order_by(table.c.position, table.c.id)
            )
        return query

    def present_row(self, entity: CompiledEntity, row: Any, grant: Grant, children: dict) -> dict[str, Any]:
        """What the actor may see of a stored row: readable fields only (only those decrypted), sensitive masked."""
        return self.present_rows(entity, [row], grant, children)[0]

    def present_rows(
        self, entity: CompiledEntity, rows: Sequence[Any], grant: Grant, children: dict
    ) -> builtins.list[dict[str, Any]]:
        """`present_row` of each row; which fields to decode and mask is worked out once (a week holds 1,260)."""
        readable = [f for f in entity.stored_fields if f.name in grant.readable]
        shown = [
            (name, bool(field.children), field if field.spec.sensitive and not grant.full_access else None)
            for name, field in entity.fields.items()
            if name in grant.readable
        ]
        presented = []
        for row in rows:
            stored = row._mapping  # by key: a Row's attributes cost ten times as much (50 rows, 10 columns)
            values = decode(readable, stored, entity.name, self.cipher)
            out: dict[str, Any] = {"id": stored["id"]}
            for name, child, masked in shown:
                value = children.get((name, out["id"]), []) if child else values.get(name)
                out[name] = value if masked is None else masked.kind.mask(value, masked.spec)
            for name in SYSTEM_COLUMNS[1:]:  # after `id`: version and the stamps
                out[name] = stored[name]
            presented.append(out)
        return presented

    def get(self, actor: Actor, entity_name: str, record_id: int, purpose: str | None = None) -> dict[str, Any]:
        """One record as the actor may see it (NotFound outside its rows); views of PHI are audited.

        A view with a `purpose` (`print`: a copy leaves the screen) is audited whatever it shows.
        """
        entity = self.entity(entity_name)
        grant = self.policy.require(actor, entity_name, "read")
        with write_transaction(self.engine) as conn:
            row = self.visible_row(conn, actor, entity_name, grant, record_id)
            record = self.present_row(entity, row, grant, self.child_rows(conn, entity, [row.id]))
            if purpose is not None or protected_fields(entity, grant):  # PHI, encrypted or sensitive (masked too)
                detail = json.dumps({"purpose": purpose}) if purpose is not None else None
                conn.execute(
                    audit_table.insert().values(
                        **audit_row(actor, "view", entity_name, record_id, self.clock(), detail=detail)
                    )
                )
        return record

    def explain(self, actor: Actor, entity_name: str, record_id: int) -> dict[str, Any]:
        """Why each computed value the actor can see is what it is (see explaining.py)."""
        from .explaining import explain_record

        return explain_record(self, actor, entity_name, record_id)

    def list(
        self,
        actor: Actor,
        entity_name: str,
        *,
        q: str | None = None,
        filters: Mapping[str, Any] | None = None,
        sort: str | None = None,
        limit: int = 50,
        offset: int = 0,
        fields: Collection[str] | None = None,
        count: str = "auto",
        after: str | None = None,
        choosing: LinkChoice | None = None,
    ) -> Page:
        """A page of the records the actor may see, searched, filtered and sorted; audited if it shows PHI.

        `fields` narrows what each record carries (a picker needs titles only), and so what is
        read, decrypted and audited. `count` and `after`: see counting.py and keyset.py.
        `choosing`: only the records a link's `filter:` admits for a record holding those values.
        """
        entity = self.entity(entity_name)
        grant = self.policy.require(actor, entity_name, "read")
        spec = ListQuery(
            q=q, filters=dict(filters or {}), sort=sort, limit=limit, offset=offset, count=count, after=after
        )
        shown = grant if fields is None else replace(grant, readable=grant.readable & frozenset(fields))
        narrow = None
        if choosing is not None:
            if self.link_targets(choosing.entity).get(choosing.field) != entity_name:
                raise NotFound(f"`{choosing.entity}.{choosing.field}` is not a link to {entity_name}")
            narrow = filter_clause(self, actor, choosing.entity, choosing.field, choosing.values)
        page, masked = self._first_page(actor, entity, grant, spec, shown, narrow)
        self.audit_read(actor, "list", entity, shown, page.items, spec, masked)
        return page

    def list_statement(
        self,
        actor: Actor,
        entity_name: str,
        *,
        q: str | None = None,
        filters: Mapping[str, Any] | None = None,
        sort: str | None = None,
    ) -> sa.Select:
        """The page query `list()` would run (nothing is run or audited): for EXPLAIN in tests and bench/scale.py."""
        entity = self.entity(entity_name)
        grant = self.policy.require(actor, entity_name, "read")
        spec = ListQuery(q=q, filters=dict(filters or {}), sort=sort)
        queries = build_list_query(
            self, entity, grant, self.select_visible(actor, entity.name, grant), spec, actor.locale
        )
        table = self.schema.table(entity.name)
        return queries.page.with_only_columns(*_columns_for(table, entity, grant, queries.order))

    def export(
        self,
        actor: Actor,
        entity_name: str,
        *,
        q: str | None = None,
        filters: Mapping[str, Any] | None = None,
        sort: str | None = None,
        max_rows: int = 100_000,
    ) -> builtins.list[dict[str, Any]]:
        """Every matching record the actor may export, as list() shows them; one audit entry for all."""
        entity = self.entity(entity_name)
        grant = self.policy.require(actor, entity_name, "export")
        if not grant.readable:
            raise PermissionDenied(f"role `{actor.role}` may not export {entity_name} records")
        spec = ListQuery(q=q, filters=dict(filters or {}), sort=sort, limit=MAX_LIMIT, offset=0, count="exact")
        page, masked = self._first_page(actor, entity, grant, spec)
        records = list(page.items)
        while page.next_after and len(records) < max_rows:
            spec.after = page.next_after
            page = self._page(actor, entity, grant, spec)
            records += page.items
        self.audit_read(actor, "export", entity, grant, records[:max_rows], spec, masked, always=True)
        return records[:max_rows]

    def _first_page(
        self,
        actor: Actor,
        entity: CompiledEntity,
        grant: Grant,
        spec: ListQuery,
        shown: Grant | None = None,
        narrow: sa.ColumnElement[bool] | None = None,
    ) -> tuple[Page, dict[str, Any] | None]:
        """The first page, after refusing probes of masked fields and counting a masked look-up."""
        lookup = find_masked_lookup(entity, grant, spec.q, spec.filters, spec.sort, actor.locale)
        kept = self._list_queries(actor, entity, grant, spec, narrow)
        masked = None
        if lookup is not None:  # counted only once the whole query is known to be valid
            self.masked_lookups.admit(self.engine, actor, lookup, self.clock())
            masked = {"fields": list(lookup.fields), "hash": self.masked_lookups.keyed_hash(lookup, self.cipher)}
        return self._run_page(entity, shown or grant, spec, kept), masked

    def _page(self, actor: Actor, entity: CompiledEntity, grant: Grant, spec: ListQuery) -> Page:
        return self._run_page(entity, grant, spec, self._list_queries(actor, entity, grant, spec))

    def _list_queries(
        self,
        actor: Actor,
        entity: CompiledEntity,
        grant: Grant,
        spec: ListQuery,
        narrow: sa.ColumnElement[bool] | None = None,
    ) -> KeptList:
        """The request's statements: kept from an earlier same request (list_statements.py) or built now."""
        condition = self.row_filter(actor, entity.name, grant)

        def build() -> ListQueries:
            base = self.select_visible(actor, entity.name, grant)  # `condition`, kept by RowFilters
            return build_list_query(
                self, entity, grant, base.where(narrow) if narrow is not None else base, spec, actor.locale
            )

        if narrow is not None:  # a link picker's filter for one record's values: built each time
            return KeptList(build(), spec.limit, spec.offset, condition)
        kept = self._list_statements.get(entity.name, grant, condition, spec, build)
        spec.limit, spec.offset = kept.limit, kept.offset  # as building normalises them
        return kept

    def _run_page(self, entity: CompiledEntity, shown: Grant, spec: ListQuery, kept: KeptList) -> Page:
        """Run the page and its count; only the columns `shown` needs are read (and decrypted)."""
        table = self.schema.table(entity.name)
        queries = kept.queries
        together = queries.selective and spec.count == "auto" and spec.limit and not spec.offset and not spec.after
        page = kept.derive(
            ("page", shown.readable, bool(together)),
            lambda: _page_statement(table, entity, shown, queries, bool(together)),
        )
        # In a transaction, not `reading()`: in autocommit a reader during a migration's column type change
        # had PostgreSQL refuse its prepared page statement ("cached plan must not change result type";
        # tests/security/test_batched_rewrites.py, cut); in a transaction it does not (why, not pinned down).
        with self.engine.connect() as conn:
            rows = conn.execute(page).all() if spec.limit else []
            seen = Seen.of(spec.limit, spec.offset, spec.after, len(rows))  # a page with the last match: no count
            capped = rows[0]._mapping[CAPPED_COUNT] if together and rows else None
            count = count_matches(
                conn,
                queries.matches,
                spec.count,
                may_estimate=not shown.where,
                seen=seen,
                capped=capped,
                counting=kept.derive("count", lambda: capped_count(queries.matches)),
            )
            more = len(rows) > spec.limit
            rows = rows[: spec.limit]
            children = self.child_rows(conn, entity, [r.id for r in rows]) if rows and entity.child_fields else {}
        items = self.present_rows(entity, rows, shown, children)
        cursor = encode_cursor(queries.order, rows[-1]) if more else None
        return Page(items, count.total, spec.limit, spec.offset, count.kind, cursor)

    def audit_read(
        self,
        actor: Actor,
        action: str,
        entity: CompiledEntity,
        grant: Grant,
        items: builtins.list[dict],
        spec: ListQuery,
        masked: dict[str, Any] | None,
        always: bool = False,
    ) -> None:
        """One entry per request that returned protected fields or looked a record up by a masked one."""
        if always or masked is not None or (items and protected_fields(entity, grant)):
            write_read_audit(
                self.engine, actor, action, entity, self.clock(), read_detail(entity, grant, items, spec, masked)
            )

    # -- writing ---------------------------------------------------------------------
    def create(
        self, actor: Actor, entity_name: str, values: Mapping[str, Any], *, for_link: LinkChoice | None = None
    ) -> dict[str, Any]:
        """Create a record from the actor's input; ValidationFailed lists every problem.

        `for_link`: the record is made to be chosen in that link (a quick-create from its
        picker), so it must pass the link's `filter:` too, or nothing is written.
        """
        try:
            return self._write(actor, entity_name, None, values, None, for_link)
        except ValidationFailed as exc:
            self.count_unique_probe(actor, entity_name, values, exc)
            raise

    def update(
        self, actor: Actor, entity_name: str, record_id: int, values: Mapping[str, Any], version: int | None
    ) -> dict[str, Any]:
        """Change the given fields; `version` must be the one the actor read (else Conflict)."""
        try:
            return self._write(actor, entity_name, record_id, values, version)
        except ValidationFailed as exc:
            self.count_unique_probe(actor, entity_name, values, exc)
            raise

    def count_unique_probe(self, actor: Actor, entity_name: str, values: Any, exc: ValidationFailed) -> None:
        """ "Already used" for a value the actor sees masked answers a look-up: counted and audited as one.

        Public for writers that call `write_in` themselves (imports count their refusals too).
        """
        entity = self.entity(entity_name)
        grant = self.policy.grant(actor, entity_name)
        lookup = unique_probe(entity, grant, values, exc.errors) if isinstance(values, Mapping) else None
        if lookup is not None:
            self.masked_lookups.admit(self.engine, actor, lookup, self.clock())
            detail = {
                "masked_lookup": {
                    "fields": list(lookup.fields),
                    "hash": self.masked_lookups.keyed_hash(lookup, self.cipher),
                },
                "via": "unique",
            }
            write_read_audit(self.engine, actor, "masked_lookup", entity, self.clock(), detail)

    def delete(self, actor: Actor, entity_name: str, record_id: int, version: int | None = None) -> None:
        """Delete a record the actor may see and delete (child rows go with it)."""
        self.entity(entity_name)
        grant = self.policy.require(actor, entity_name, "delete")
        table = self.schema.table(entity_name)
        entity = self.entities[entity_name]
        with write_transaction(self.engine) as conn:
            row = self.visible_row(conn, actor, entity_name, grant, record_id)
            if version is not None and row.version != version:
                raise Conflict(message("conflict", actor.locale), row.version)
            before = decode(entity.stored_fields, row, entity_name, self.cipher)
            try:
                conn.execute(table.delete().where(table.c.id == record_id))
            except sa.exc.IntegrityError:
                raise ValidationFailed([FieldError("__all__", "in_use", _in_use(actor.locale))]) from None
            note_change(conn, entity_name)
            conn.execute(
                audit_table.insert().values(**audit_row(actor, "delete", entity_name, record_id, self.clock()))
            )
            deleted = Change(entity_name, "deleted", record_id, row.version, before, None)
            react(self, self.new_run(conn), deleted, events=actor.sets_off)

    def _write(
        self,
        actor: Actor,
        entity_name: str,
        record_id: int | None,
        values: Mapping[str, Any],
        version: int | None,
        for_link: LinkChoice | None = None,
    ) -> dict[str, Any]:
        """One create or update, and everything it sets off (automations, timers, outbox), in one transaction."""
        entity = self.entity(entity_name)
        grant = self.policy.require(actor, entity_name, "create" if record_id is None else "write")
        with write_transaction(self.engine) as conn:
            run = self.new_run(conn)
            written = self.write_in(conn, actor, entity, grant, record_id, values, version)
            change = written.change("created" if record_id is None else "updated")
            acted = react(self, run, change, events=actor.sets_off)
            refused = check_admitted(self, conn, actor, for_link, written.record_id) if for_link else None
            if refused is not None:  # raised inside the transaction: the record and what it set off roll back
                raise ValidationFailed([refused])
            return self.reread(conn, actor, entity, grant, written) if acted else written.presented

    def write_in(
        self,
        conn: sa.Connection,
        actor: Actor,
        entity: CompiledEntity,
        grant: Grant,
        record_id: int | None,
        values: Mapping[str, Any],
        version: int | None,
        *,
        move: Move | None = None,
        made_at: dt.datetime | None = None,
    ) -> Written:
        """Check and write one record within `conn`: the lifecycle every write shares.

        The caller owns the transaction and then calls `automations.react` with the
        returned Written (create/update above, transitions, automations' own writes).

        `move` is the transition being made (transitions.py): it alone may change a
        workflow-driven state field, and it is audited as a transition.

        `made_at` backdates a new record's `created_at`/`updated_at` (its audit entry keeps
        the real time): only for actors writing history (`sets_off` False, i.e. seeding),
        so demo data can have 18 months of registrations.
        """
        entity_name = entity.name
        creating = record_id is None
        if made_at is not None and (actor.sets_off or not creating):
            raise PermissionDenied("only seeding may say when a new record was made")
        if not isinstance(values, Mapping):
            raise ValidationFailed([FieldError("__all__", "invalid", "expected an object of field values")])
        locale = actor.locale
        table = self.schema.table(entity_name)
        evaluate = self._evaluator(entity_name, actor, conn, record_id)
        stored: dict[str, Any] = {}
        row: Any = None
        if record_id is not None:
            row = self.visible_row(conn, actor, entity_name, grant, record_id)
            if version is None:
                raise ValidationFailed([FieldError("version", "required", message("required", locale))])
            if row.version != version:
                raise Conflict(message("conflict", locale), row.version)
            stored = decode(entity.stored_fields, row, entity_name, self.cipher)
            children = self.child_rows(conn, entity, [record_id]) if entity.child_fields else {}
            for field in entity.child_fields:
                stored[field.name] = children.get((field.name, record_id), [])
            values = preparing.drop_unchanged_masks(entity, grant, values, stored)
        typed, errors = preparing.coerce_input(entity.fields, values, locale)
        errors += state_writes(self.flows, entity_name, actor, typed, stored, creating, move, locale)
        errors += preparing.not_writable(entity, grant, typed, locale)
        record = {**stored, **typed}
        if creating:
            errors += preparing.apply_defaults(entity.fields, record, evaluate, locale)
            start_state(self.flows, entity_name, record)
        errors += preparing.prepare_rows(entity, record, evaluate, locale, set(typed) if not creating else None)
        errors += preparing.apply_computed(entity.fields, record, evaluate, locale)
        errors += preparing.read_only_now(entity, typed, record, stored, evaluate, locale)
        failed = {e.field for e in errors}
        checked = preparing.check_fields(entity.fields, record, evaluate, locale)
        if not creating:
            checked = preparing.drop_required_unwritable(checked, grant)
        errors += [e for e in checked if e.field not in failed]
        errors += self._check_links(conn, actor, entity, record, set(typed), locale)
        bad = {e.field for e in errors}
        errors += check_link_filters(self, conn, actor, entity, record, typed, stored, bad, locale)
        if not in_batch(conn):  # a batch row is undone alone: its unique values are the constraints' to check
            errors += self._check_unique(conn, entity, record, record_id, locale)
        if not errors:
            errors += preparing.check_rules(entity, record, evaluate, locale)
        if errors:
            raise ValidationFailed(errors)
        now = self.clock()
        starting_to_write(conn)  # a batch row's savepoint (batch.py)
        row_values = encode(entity.stored_fields, record, entity_name, self.cipher)
        try:
            if record_id is None:
                made = made_at or now
                row_values.update(
                    created_at=made, created_by=actor.name, updated_at=made, updated_by=actor.name, version=1
                )
                # Compiled once per set of columns to the driver's SQL (row_insert.py).
                record_id = self._row_inserts.insert(conn, table, row_values)
            else:
                row_values.update(updated_at=now, updated_by=actor.name, version=row.version + 1)
                result = conn.execute(
                    table.update().where(table.c.id == record_id, table.c.version == version).values(**row_values)
                )
                if result.rowcount != 1:
                    raise Conflict(message("conflict", locale))
            children = self._write_children(conn, entity, record_id, record, typed, creating)
        except sa.exc.IntegrityError as exc:
            raise ValidationFailed(_integrity_errors(entity, exc, locale)) from None
        note_change(conn, entity_name)  # cached reports over this entity are stale once this commits
        changes = audit_changes(entity, {} if creating else stored, record, typed if not creating else record)
        action = "create" if creating else ("transition" if move is not None else "update")
        add_audit(conn, audit_row(actor, action, entity_name, record_id, now, changes, move.detail if move else None))
        written = _WrittenRow({**(dict(row._mapping) if not creating else {}), **row_values, "id": record_id})
        if not creating and entity.child_fields:  # the table fields this update left as they were
            children = self.child_rows(conn, entity, [record_id])
        return Written(
            entity_name,
            record_id,
            row_values["version"],
            None if creating else stored,
            record,
            lambda: self.present_row(entity, written, grant, children),  # from what is in hand: no statement
        )

    def reread(
        self, conn: sa.Connection, actor: Actor, entity: CompiledEntity, grant: Grant, written: Written
    ) -> dict[str, Any]:
        """The record as the actor now sees it: automations may have changed it after the write."""
        table = self.schema.table(entity.name)
        version = conn.execute(sa.select(table.c.version).where(table.c.id == written.record_id)).scalar()
        if version == written.version:
            return written.presented
        try:
            row = self.visible_row(conn, actor, entity.name, grant, written.record_id)
        except NotFound:
            return written.presented
        children = self.child_rows(conn, entity, [row.id]) if entity.child_fields else {}
        return self.present_row(entity, row, grant, children)

    def batch(
        self, actor: Actor, *, dry_run: bool = False, known_links: set[tuple[str, Any]] | None = None
    ) -> contextlib.AbstractContextManager[Batch]:
        """Many writes as `actor` in one transaction, each row with the whole lifecycle and its result (batch.py)."""
        return open_batch(self, actor, dry_run=dry_run, known_links=known_links)

    # -- workflows -------------------------------------------------------------------
    def new_run(self, conn: sa.Connection, now: dt.datetime | None = None) -> Run:
        """What automations set off by a write share: its connection and the app-timezone moment."""
        return Run(conn, now or self.moment())

    def moment(self) -> dt.datetime:
        """Now, aware, in the app's timezone: the `now` workflow decisions and automations see."""
        current = self.clock()
        return current if current.tzinfo is not None else current.replace(tzinfo=self.zone)

    @property
    def zone(self) -> dt.tzinfo:
        return ZoneInfo(self.timezone) if self.timezone else get_timezone()

    def transition(
        self,
        actor: Actor,
        entity_name: str,
        record_id: int,
        name: str,
        version: int | None,
        comment: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Make workflow transition `name` on a record (transitions.py); what it sets off runs in its transaction."""
        with write_transaction(self.engine) as conn:
            return make_transition(
                self, self.new_run(conn), actor, entity_name, record_id, name, version, comment, values
            )

    def run_automation(self, actor: Actor, entity_name: str, record_id: int, name: str) -> int:
        """Press an automation's `manual:` button on a record (manual.py); how many actions ran."""
        return run_manual(self, actor, entity_name, record_id, name)

    def run_automation_many(self, actor: Actor, entity_name: str, ids: builtins.list[int], name: str) -> BulkRun:
        """Press an automation's `manual:` button on selected records (manual.py): per-row outcomes, one audit entry."""
        self.entity(entity_name)
        return run_manual_many(self, actor, entity_name, ids, name)

    def transition_many(
        self, actor: Actor, entity_name: str, records: builtins.list[tuple[int, int]], name: str
    ) -> BulkRun:
        """Make a simple transition on selected (id, version) records (bulk_moves.py): per-row outcomes."""
        from .bulk_moves import transition_many

        self.entity(entity_name)
        return transition_many(self, actor, entity_name, records, name)

    def update_many(
        self, actor: Actor, entity_name: str, records: builtins.list[tuple[int, int]], values: Mapping[str, Any]
    ) -> BulkRun:
        """Set fields (name -> value) on selected (id, version) records, each in one normal write (bulk_update.py)."""
        from .bulk_update import update_many

        return update_many(self, actor, entity_name, records, values)

    def tasks(self, actor: Actor, limit: int = MAX_TASKS) -> TaskList:
        """The records waiting for the actor ("My tasks", tasks.py): read like a list, audited like one."""
        return list_tasks(self, actor, limit)

    def count_tasks(self, actor: Actor) -> int:
        """How many tasks wait for the actor (the header badge)."""
        return count_tasks(self, actor)

    def _write_children(
        self, conn: sa.Connection, entity: CompiledEntity, record_id: int, record: dict, given: dict, creating: bool
    ) -> dict[tuple[str, int], builtins.list[dict[str, Any]]]:
        """Replace the child rows of each table field the writer sent; the rows written, as `child_rows` reads them."""
        written: dict[tuple[str, int], builtins.list[dict[str, Any]]] = {}
        for field in entity.child_fields:
            if field.name not in given and not creating:
                continue
            table = self.schema.child(entity.name, field.name)
            if not creating:
                conn.execute(table.delete().where(table.c.parent_id == record_id))
            fields = list(field.children.values())
            data = [
                {"parent_id": record_id, "position": position, **encode(fields, row, table.name, self.cipher)}
                for position, row in enumerate(record.get(field.name) or [])
            ]
            ids = self._insert_many(conn, table, data)
            written[(field.name, record_id)] = [
                {"id": child_id, **decode(fields, row, table.name, self.cipher)} for child_id, row in zip(ids, data)
            ]
        return written

    def built(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        """A statement of one kind and shape, built once: its values are bound, so SQLAlchemy's cache serves it."""
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = build()
        return statement

    def _insert_many(
        self, conn: sa.Connection, table: sa.Table, rows: builtins.list[dict[str, Any]]
    ) -> builtins.list[int]:
        """Insert `rows` and return their ids in order: rows with the same columns go in one statement."""
        if len(rows) == 1:
            return [self._row_inserts.insert(conn, table, rows[0])]
        ids: dict[int, int] = {}
        shapes: dict[tuple[str, ...], builtins.list[int]] = {}
        for position, row in enumerate(rows):
            shapes.setdefault(tuple(row), []).append(position)
        returning = self.built(
            ("insert-returning", table.name),
            lambda: table.insert().returning(table.c.id, sort_by_parameter_order=True),
        )
        for positions in shapes.values():
            made = conn.execute(returning, [rows[p] for p in positions]).scalars().all()
            ids.update(zip(positions, made))
        return [ids[p] for p in range(len(rows))]

    def _check_links(
        self, conn: sa.Connection, actor: Actor, entity: CompiledEntity, record: dict, given: set[str], locale: str
    ) -> builtins.list[FieldError]:
        """Each link points at an existing record; a link the actor sets, at one the actor may see."""
        errors = []
        # Within a batch (batch.py) the system's links found once need no second look.
        known: set[tuple[str, Any]] | None = conn.info.get(KNOWN_LINKS) if actor.system else None
        for name, target in self._links[entity.name].items():
            value = record.get(name)
            if value is None or (known is not None and (target, value) in known):
                continue
            if name in given and not actor.system:
                query = sa.select(self.schema.table(target).c.id).where(self.schema.table(target).c.id == value)
                grant = self.policy.grant(actor, target)
                visible = self.row_filter(actor, target, grant) if grant.readable else sa.false()
                found = conn.execute(query.where(visible) if visible is not None else query).first() is not None
            else:
                found = self._record_exists(conn, target, value)
            if not found:
                errors.append(FieldError(name, "invalid_link", message("invalid_link", locale)))
            elif known is not None:
                known.add((target, value))
        for table in entity.child_fields:
            for i, row in enumerate(record.get(table.name) or [] if table.name in given else []):
                for name, target in self._links[child_key(entity.name, table.name)].items():
                    value = row.get(name)
                    if value is None or (known is not None and (target, value) in known):
                        continue
                    if not self._record_exists(conn, target, value):
                        errors.append(
                            FieldError(f"{table.name}.{i}.{name}", "invalid_link", message("invalid_link", locale))
                        )
                    elif known is not None:
                        known.add((target, value))
        return errors

    def _record_exists(self, conn: sa.Connection, entity: str, record_id: Any) -> bool:
        """Is there a record `record_id` (whoever may see it)? One statement per entity, built once."""
        query = self._statements.get(("exists", entity))
        if query is None:
            table = self.schema.table(entity)
            query = self._statements[("exists", entity)] = sa.select(table.c.id).where(table.c.id == sa.bindparam("id"))
        return conn.execute(query, {"id": record_id}).first() is not None

    def _unique_query(self, entity: str, column: str, other_than: bool) -> sa.Select:
        """Is `value` taken (by another record)? Built once per column: bound values keep it cached."""
        key = (entity, column, other_than)
        query = self._unique_queries.get(key)
        if query is None:
            table = self.schema.table(entity)
            query = sa.select(table.c.id).where(table.c[column] == sa.bindparam("value"))
            if other_than:
                query = query.where(table.c.id != sa.bindparam("record_id"))
            query = self._unique_queries[key] = query.limit(1)
        return query

    def _check_unique(
        self, conn: sa.Connection, entity: CompiledEntity, record: dict, record_id: int | None, locale: str
    ) -> builtins.list[FieldError]:
        errors = []
        for field in entity.stored_fields:
            value = record.get(field.name)
            if not field.spec.unique or field.kind.is_empty(value):
                continue
            column, stored = search_value(field, value, self.cipher)
            query = self._unique_query(entity.name, column, record_id is not None)
            if conn.execute(query, {"value": stored, "record_id": record_id}).first() is not None:
                errors.append(FieldError(field.name, "unique", message("unique", locale)))
        return errors


def _link_fields(fields: Mapping[str, Any]) -> dict[str, str]:
    return {name: spec.to for name, spec in fields.items() if spec.type == "link" and spec.to}


class _WrittenRow(dict):
    """The row just written, as the columns it now holds: no need to read it back."""

    @property
    def _mapping(self) -> _WrittenRow:
        return self

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _in_use(locale: str) -> str:
    return (
        "该记录被其他记录引用,无法删除。"
        if locale.startswith("zh")
        else "Other records still refer to this one; it cannot be deleted."
    )


def _integrity_errors(entity: CompiledEntity, exc: sa.exc.IntegrityError, locale: str) -> list[FieldError]:
    """A constraint the checks could not see (a race): name the field where the message allows."""
    text = str(exc.orig).lower()
    for field in entity.stored_fields:
        if field.spec.unique and field.name in text:
            return [FieldError(field.name, "unique", message("unique", locale))]
    return [FieldError("__all__", "conflict", message("conflict", locale))]


SYSTEM_COLUMNS = ("id", "version", "created_at", "created_by", "updated_at", "updated_by")


def _page_statement(
    table: sa.Table, entity: CompiledEntity, shown: Grant, queries: ListQueries, together: bool
) -> sa.Select:
    """The page reading only the columns `shown` needs; `together`: with its capped count (counting.with_count)."""
    page = queries.page.with_only_columns(*_columns_for(table, entity, shown, queries.order))
    return with_count(page, queries.matches) if together else page


def _columns_for(table: sa.Table, entity: CompiledEntity, shown: Grant, order: list[SortKey]) -> list[sa.Column]:
    """The columns a page needs: the system ones, the shown stored fields, and the sort's (for the cursor)."""
    names = [*SYSTEM_COLUMNS, *(f.name for f in entity.stored_fields if f.name in shown.readable)]
    names += [key.column.name for key in order]
    return [table.c[name] for name in dict.fromkeys(names)]
