"""An import run: every row through the record service as the importing actor, in batches.

Each batch (500 rows by default) is one transaction of the record service's bulk path
(records/batch.py, the seeder's too); each row in it has its own savepoint, so a row the
record service refuses is rolled back alone and the batch's good rows stay.
The batch also marks its rows finished (store.py) before it commits, so a run stopped
by Ctrl-C, a crash or `stop_after` resumes exactly after its last committed batch.
A dry run does the same work and rolls every batch back: it reports what the real
run would do, rule checks, unique values and links included, and writes nothing.

Imported rows are history, like seeded ones: their writes plan the records' timers but
set off no event automations (a migration must not send 10,000 welcome messages).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..records import (
    Actor,
    Conflict,
    NotFound,
    PermissionDenied,
    RecordService,
    TooManyLookups,
    ValidationFailed,
)
from ..records.auditing import audit_row
from ..records.automations import Written
from ..records.batch import Batch
from ..system_tables import audit as audit_table
from .children import ChildSheet, child_problem, child_values, open_children, with_child_digests
from .converting import RowConverter, RowProblem
from .errors import ImportFailed
from .integrity import Integrity, check_integrity, coerced_source, imported_values
from .mapping import ImportMapping, parse_mapping
from .matching import Key, Match, Matcher
from .messages import say
from .reading import Source, SourceRow, open_source
from .rejects import RejectsFile, rejects_path_for
from .store import file_digest, finished_rows, load_run, new_import_id, remember_rows, set_status, start_run

_Converted = tuple[SourceRow, dict[str, Any], list[RowProblem], list[Key]]
Progress = Callable[[int, int | None], None]  # rows done so far (all passes), rows in the file (estimate)


@dataclass
class ImportOptions:
    dry_run: bool = False
    on_duplicate: str | None = None  # overrides the mapping's rule
    batch_size: int = 500
    resume: str | None = None  # an import id
    stop_after: int | None = None  # stop (as Ctrl-C would) after this many rows of this pass
    rejects_path: Path | None = None
    sheet: str | None = None
    should_stop: Callable[[], bool] | None = None  # asked between batches (the page's stop button)
    import_id: str | None = None  # chosen by the caller (the page); new otherwise


@dataclass(frozen=True)
class Duplicate:
    """A row that matched an existing record (or an earlier row of the file), and what was done."""

    row: int
    fields: tuple[str, ...]
    record_id: int | None
    earlier_row: int | None
    outcome: str  # skipped | updated | stopped


@dataclass
class ImportReport:
    """What a run did; counts are of committed work only (a stopped batch counts for nothing)."""

    entity: str
    file: str
    dry_run: bool
    import_id: str | None = None
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    already_done: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    stopped: str | None = None
    integrity: Integrity | None = None
    rejects_path: Path | None = None
    children: list[dict[str, Any]] = field(default_factory=list)  # per table field: rows read, attached, orphans
    child_rejects: list[Path] = field(default_factory=list)  # children's own rejects files (file: children)

    @property
    def written(self) -> int:
        return self.created + self.updated

    def as_dict(self, problems: int | None = None) -> dict[str, Any]:
        shown = self.problems if problems is None else self.problems[:problems]
        return {
            "import_id": self.import_id,
            "entity": self.entity,
            "file": self.file,
            "dry_run": self.dry_run,
            "rows_read": self.rows_read,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "already_done": self.already_done,
            "duplicates": [d.__dict__ | {"fields": list(d.fields)} for d in self.duplicates],
            "problems": [p.__dict__ for p in shown],
            "stopped": self.stopped,
            "rejects": str(self.rejects_path) if self.rejects_path else None,
            "integrity": self.integrity.as_dict() if self.integrity else None,
            "children": self.children,
            "child_rejects": [str(p) for p in self.child_rejects],
        }


class _Stop(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Batch:
    """One batch's results, applied to the report only once its transaction commits."""

    finished: list[tuple[int, str, int | None]] = field(default_factory=list)
    rejected: list[tuple[SourceRow, list[RowProblem]]] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    written: dict[int, tuple[int, dict[str, str]]] = field(default_factory=dict)
    attached: dict[str, int] = field(default_factory=dict)  # table field -> child rows written
    probes: list[tuple[int, dict[str, Any], ValidationFailed]] = field(default_factory=list)


def run_import(
    records: RecordService,
    actor: Actor,
    path: Path | str,
    mapping: ImportMapping | None,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import `path` as `actor` with `mapping` (a resume reuses the stopped run's mapping when None)."""
    return _Importer(records, actor, Path(path), mapping, options or ImportOptions(), progress).run()


class _Importer:
    def __init__(
        self,
        records: RecordService,
        actor: Actor,
        path: Path,
        mapping: ImportMapping | None,
        options: ImportOptions,
        progress: Progress | None,
    ):
        self.records = records
        self.actor = replace(actor, sets_off=False)
        self.path = path
        self.options = options
        self.progress = progress
        self.done: dict[int, tuple[str, int | None]] = {}
        if options.resume:
            run = load_run(records.engine, options.resume)
            if run.status == "done":
                raise ImportFailed(f"import `{run.id}` has finished; there is nothing to resume")
            if file_digest(path) != run.file_sha256:
                raise ImportFailed(f"{path.name} is not the file import `{run.id}` read ({run.file_name})")
            mapping = mapping or parse_mapping(run.mapping, f"the mapping of import {run.id}")
            self.done = finished_rows(records.engine, run.id)
        if mapping is None:
            raise ImportFailed("a mapping is needed (give --mapping, or --suggest-mapping to write one)")
        self.mapping = mapping
        self.entity = mapping.entity
        self.on_duplicate = options.on_duplicate or mapping.on_duplicate
        if self.on_duplicate not in ("skip", "update", "stop"):
            raise ImportFailed(f"on duplicate: `{self.on_duplicate}` is not skip, update or stop")
        entities = records_entities(records)
        try:
            self.grant = records.policy.require(self.actor, self.entity, "create")
            if self.on_duplicate == "update" and mapping.match:
                records.policy.require(self.actor, self.entity, "write")
        except PermissionDenied as exc:
            raise ImportFailed(f"{exc}: the import is refused") from None
        except NotFound as exc:
            raise ImportFailed(str(exc)) from None
        self.converter = RowConverter(records, self.actor, mapping, entities)
        self.matcher = Matcher(records, self.actor, self.entity, mapping.match)
        self.compiled = records.entity(self.entity)
        self.links_itself = any(
            spec.type == "link" and spec.to == self.entity
            for name, spec in entities[self.entity].fields.items()
            if name in mapping.fields
        )
        # Unique fields the actor sees masked: a refusal there answers "does it exist?". One row per batch,
        # so each answer is counted before the next row is tried.
        self.probing = any(
            f.spec.unique and f.spec.sensitive and not self.grant.full_access
            for name, f in self.compiled.fields.items()
            if name in mapping.fields
        )
        if self.probing:
            self.options = replace(options, batch_size=1)
        self.report = ImportReport(self.entity, path.name, options.dry_run)
        self.written: dict[int, tuple[int, dict[str, str]]] = {}
        self.children: list[ChildSheet] = []
        self._row_children: dict[str, list[SourceRow]] = {}  # the row being written's child rows, for its errors

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> ImportReport:
        source = open_source(self.path, self.options.sheet)
        try:
            self.mapping.check(records_entities(self.records), source.columns)
            self.children = open_children(
                self.records, self.actor, self.mapping, records_entities(self.records), self.path, self.options.sheet
            )
            self.report.rows_read = 0
            rejects = None
            if not self.options.dry_run:
                self._begin()
                rejects = RejectsFile(
                    self.options.rejects_path or rejects_path_for(self.path), source, self.actor.locale
                )
            try:
                self._rows(source, rejects)
            except KeyboardInterrupt:
                self.report.stopped = "interrupted"
            except _Stop as stop:
                self.report.stopped = stop.reason
            finally:
                if rejects is not None:
                    rejects.close()
                    self.report.rejects_path = rejects.path if rejects.count else None
                    self.report.child_rejects = rejects.child_paths
                self.report.children = [sheet.as_dict() for sheet in self.children]
        finally:
            source.close()
        if not self.options.dry_run:
            try:
                self._finish()
            except KeyboardInterrupt:  # Ctrl-C during the final check: every row is in, the run can be resumed
                self.report.stopped = "interrupted"
                if self.report.import_id:
                    set_status(self.records.engine, self.report.import_id, "stopped")
        return self.report

    def _begin(self) -> None:
        if self.options.resume:
            self.report.import_id = self.options.resume
            set_status(self.records.engine, self.options.resume, "running")
            return
        self.report.import_id = self.options.import_id or new_import_id()
        if self.mapping.child_sources():
            self.mapping = with_child_digests(self.mapping, self.path)
        start_run(
            self.records.engine,
            self.report.import_id,
            self.entity,
            self.path,
            file_digest(self.path),
            self.actor.name,
            self.mapping.to_yaml(),
        )

    def _rows(self, source: Source, rejects: RejectsFile | None) -> None:
        batch: list[SourceRow] = []
        processed = 0
        limit = self.options.stop_after
        for row in _counted(source.rows, self.report):
            if row.row in self.done:
                self.report.already_done += 1
                for sheet in self.children:  # its children were written then: not orphans
                    sheet.take(row)
                continue
            batch.append(row)
            processed += 1
            if len(batch) >= self.options.batch_size or (limit is not None and processed >= limit):
                self._batch(batch, rejects)
                batch = []
                self._tell(source)
                if limit is not None and processed >= limit:
                    raise _Stop(f"stopped after {processed} rows")
                if self.options.should_stop and self.options.should_stop():
                    raise _Stop("stopped")
        if batch:
            self._batch(batch, rejects)
            self._tell(source)

    def _tell(self, source: Source) -> None:
        if self.progress:
            report = self.report
            self.progress(report.already_done + report.written + report.skipped + report.rejected, source.total_hint)

    def _batch(self, rows: list[SourceRow], rejects: RejectsFile | None) -> None:
        results = _Batch()
        stop: _Stop | None = None
        with self.records.batch(self.actor, dry_run=self.options.dry_run) as batch:
            for row, values, problems, keys in self._converted(batch.conn, rows):
                try:
                    self._row(batch, row, values, problems, keys, results)
                except _Stop as exc:
                    stop = exc
                    break
            if not self.options.dry_run:
                remember_rows(batch.conn, self.report.import_id or "", results.finished)
        stop = self._count_probes(results) or stop
        self._apply(results, rejects)
        if stop is not None:
            raise stop

    def _apply(self, results: _Batch, rejects: RejectsFile | None) -> None:
        report = self.report
        for _row, outcome, _id in results.finished:
            if outcome == "created":
                report.created += 1
            elif outcome == "updated":
                report.updated += 1
            else:
                report.skipped += 1
        for row, problems in results.rejected:
            report.rejected += 1
            report.problems += problems
            if rejects is not None:
                rejects.add(row, problems)
                text = say("child_parent_rejected", self.actor.locale, row=row.row)
                for sheet in self.children:
                    for child in sheet.rows_of(row):
                        rejects.add_child(sheet, child, [RowProblem(child.row, "", text)])
        report.duplicates += results.duplicates
        self.written.update(results.written)
        for sheet in self.children:
            sheet.attached += results.attached.get(sheet.table, 0)

    def _converted(self, conn: sa.Connection, rows: list[SourceRow]) -> Iterable[_Converted]:
        """The batch's rows converted, with their duplicate-match keys looked up in one go.

        A row that links to the imported entity is converted only when its turn comes (its link may
        name a record an earlier row of the batch writes), and then each row's keys are asked alone."""
        if self.links_itself:
            self.matcher.prefetch(conn, ())  # nothing asked ahead: each row's keys are asked alone
            return (self._convert(conn, row) for row in rows)
        converted = [self._convert(conn, row) for row in rows]
        if self.matcher.rules:
            self.matcher.prefetch(conn, (key for _row, _values, _problems, keys in converted for key in keys))
        return converted

    def _convert(self, conn: sa.Connection, row: SourceRow) -> _Converted:
        """A row's values, its problems, and its duplicate-match keys (none for a row with problems)."""
        values, problems = self.converter.convert(row, conn)
        keys = self.matcher.keys(values) if self.matcher.rules and not problems else []
        return row, values, problems, keys

    def _row(
        self,
        batch: Batch,
        row: SourceRow,
        values: dict[str, Any],
        problems: list[RowProblem],
        keys: list[Key],
        results: _Batch,
    ) -> None:
        conn = batch.conn
        problems += self._children_of(conn, row, values)
        if problems:
            results.rejected.append((row, problems))
            return
        match = self.matcher.find(conn, keys) if keys else None
        if match is not None:
            self._duplicate(batch, row, values, keys, match, results)
            return
        written = self._write(batch, row, values, None, None, results)
        if written is not None:
            self.matcher.remember(keys, row.row)
            self.matcher.wrote(keys, written.record_id)
            results.finished.append((row.row, "created", written.record_id))
            results.written[row.row] = (written.record_id, imported_values(self.compiled, values, written.after))
            self._count_children(values, results)

    def _children_of(self, conn: sa.Connection, row: SourceRow, values: dict[str, Any]) -> list[RowProblem]:
        """The row's child rows from the `children:` sheets, as its table fields' values; their problems."""
        problems: list[RowProblem] = []
        self._row_children = {}
        locale = self.actor.locale
        for sheet in self.children:
            rows, earlier = sheet.take(row)
            if earlier is not None:
                column = sheet.key_column()
                text = say("child_key_taken", locale, row=earlier, column=column, source=sheet.label)
                problems.append(RowProblem(row.row, column, text))
                continue
            if not rows:
                continue  # none in the file: a new record gets the table's default, an update keeps its rows
            child, found = child_values(sheet, row, rows, conn, locale)
            values[sheet.table] = child
            problems += found
            self._row_children[sheet.table] = rows
        return problems

    def _count_children(self, values: dict[str, Any], results: _Batch) -> None:
        for sheet in self.children:
            if sheet.table in values:
                results.attached[sheet.table] = results.attached.get(sheet.table, 0) + len(values[sheet.table])

    def _duplicate(
        self, batch: Batch, row: SourceRow, values: dict, keys: list[Key], match: Match, results: _Batch
    ) -> None:
        rule = self.on_duplicate
        outcome = {"skip": "skipped", "update": "updated", "stop": "stopped"}[rule]
        duplicate = Duplicate(row.row, match.fields, match.record_id, match.earlier_row, outcome)
        if rule == "stop":
            results.duplicates.append(duplicate)
            where = (
                say("duplicate_in_file", self.actor.locale, fields=", ".join(match.fields), row=match.earlier_row)
                if match.earlier_row
                else say("duplicate", self.actor.locale, fields=", ".join(match.fields), record=match.record_id)
            )
            raise _Stop(f"row {row.row}: {where}")
        if rule == "skip":
            results.duplicates.append(duplicate)
            results.finished.append((row.row, "skipped", match.record_id))
            return
        if match.record_id is None:  # a dry run: the earlier row's record was rolled back with its batch
            results.duplicates.append(duplicate)
            results.finished.append((row.row, "updated", None))
            return
        written = self._write(batch, row, values, match.record_id, match.version, results)
        if written is not None:
            self.matcher.wrote(keys, written.record_id)
            results.duplicates.append(duplicate)
            results.finished.append((row.row, "updated", written.record_id))
            results.written[row.row] = (written.record_id, imported_values(self.compiled, values, written.after))
            self._count_children(values, results)

    def _write(
        self,
        batch: Batch,
        row: SourceRow,
        values: dict,
        record_id: int | None,
        version: int | None,
        results: _Batch,
    ) -> Written | None:
        """The row through the record service's bulk path (its own savepoint); what it wrote, or None when refused."""
        result = batch.write(self.entity, record_id, values, version)
        refused = result.refused
        if refused is None:
            return result.written
        locale = self.actor.locale
        if isinstance(refused, ValidationFailed):
            results.rejected.append((row, [self._problem(row, e.field, e.message) for e in refused.errors]))
            if self.probing:
                results.probes.append((row.row, values, refused))
        elif isinstance(refused, Conflict):
            results.rejected.append((row, [RowProblem(row.row, "", say("conflict", locale))]))
        else:
            results.rejected.append((row, [RowProblem(row.row, "", say("not_allowed", locale, reason=refused))]))
        return None

    def _count_probes(self, results: _Batch) -> _Stop | None:
        """A row refused as `unique` on a field the actor sees masked told it the value exists: counted and
        audited as a masked look-up, like a form's, once the batch's transaction is over (the look-up
        counter writes in its own). Over the limit, that row's answer is withheld and the import stops."""
        for row, values, refused in results.probes:
            try:
                self.records.count_unique_probe(self.actor, self.entity, values, refused)
            except TooManyLookups as exc:
                results.rejected = [r for r in results.rejected if r[0].row != row]
                return _Stop(str(exc))
        return None

    def _problem(self, row: SourceRow, field_path: str, text: str) -> RowProblem:
        name = field_path.split(".")[0]
        parts = field_path.split(".")
        if name in self._row_children and len(parts) == 3 and parts[1].isdigit():
            sheet = next(s for s in self.children if s.table == name)
            child = self._row_children[name][int(parts[1])]
            rule_of = sheet.rule.fields.get(parts[2])
            column = rule_of.column if rule_of else parts[2]
            return child_problem(sheet, row.row, child.row, column, text, self.actor.locale)
        rule = self.mapping.fields.get(name)
        return RowProblem(row.row, rule.column if rule else ("" if name == "__all__" else name), text)

    # -- the end -----------------------------------------------------------------------------
    def _finish(self) -> None:
        report = self.report
        run_id = report.import_id or ""
        finished = finished_rows(self.records.engine, run_id)
        earlier = {r: v for r, v in finished.items() if r in self.done}
        report_total = {"created": 0, "updated": 0, "skipped": 0}
        for outcome, _id in finished.values():
            report_total[outcome] = report_total.get(outcome, 0) + 1
        if report.stopped is None:
            written = dict(self.written)
            if earlier:
                written.update(self._earlier_sources(earlier))
            report.integrity = check_integrity(self.records, self.mapping, written)
        summary = report.as_dict(problems=200) | {"totals": report_total}
        set_status(self.records.engine, run_id, "stopped" if report.stopped else "done", summary)
        detail = {k: summary[k] for k in ("import_id", "file", "created", "updated", "skipped", "rejected", "stopped")}
        with self.records.engine.begin() as conn:
            conn.execute(
                audit_table.insert().values(
                    **audit_row(
                        self.actor,
                        "import",
                        self.entity,
                        None,
                        self.records.clock(),
                        detail=json.dumps(detail, ensure_ascii=False),
                    )
                )
            )

    def _earlier_sources(self, earlier: dict[int, tuple[str, int | None]]) -> dict[int, tuple[int, dict[str, str]]]:
        """The canonical values of rows an earlier pass wrote, read again from the file (a resumed import)."""
        out: dict[int, tuple[int, dict[str, str]]] = {}
        with open_source(self.path, self.options.sheet) as source, self.records.engine.connect() as conn:
            for row in source.rows:
                outcome, record_id = earlier.get(row.row, ("", None))
                if outcome in ("created", "updated") and record_id is not None:
                    values, _problems = self.converter.convert(row, conn)
                    self._children_of(conn, row, values)
                    out[row.row] = (record_id, coerced_source(self.records, self.entity, values))
        return out


def _counted(rows: Iterator[SourceRow], report: ImportReport) -> Iterator[SourceRow]:
    for row in rows:
        report.rows_read += 1
        yield row


def records_entities(records: RecordService) -> dict[str, Any]:
    """The blueprint's entity specs, as the record service compiled them."""
    return {name: compiled.spec for name, compiled in records.entities.items()}
