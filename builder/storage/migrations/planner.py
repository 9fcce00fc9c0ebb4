"""Plan a migration: what must change for the database to match the blueprint.

Renames (from `renamed_from`) are tried first inside a transaction that is rolled
back; Alembic's `compare_metadata` then compares the renamed database with the
blueprint's tables, so the rest of the plan is exactly what will run. Only the
blueprint's own tables are compared: those it declares and those an earlier
migration recorded in the history (never `crm_*` tables or tables made by hand).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations

from engines.forms import EntitySpec

from ..tables import build_schema
from .alterations import Alteration, ChangeType
from .diffs import steps_from_diffs
from .encryption import plan_encryption_changes
from .errors import MigrationError, MigrationRefused
from .fills import plan_fills
from .history import recorded_tables
from .indexes import plan_indexes
from .length_checks import read_length_checks, type_comparer
from .naming import BlueprintNames
from .operations import DropTable, Phase, Step
from .renames import plan_renames
from .sqlite_retype import accepts_schema_edits

SYSTEM_PREFIX = "crm_"


def blueprint_json(entities: dict[str, EntitySpec]) -> str:
    """The entities as canonical JSON (what the history keeps and the hash is taken of)."""
    data = {name: spec.model_dump(mode="json", exclude_defaults=True) for name, spec in sorted(entities.items())}
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def blueprint_hash(entities: dict[str, EntitySpec]) -> str:
    return hashlib.sha256(blueprint_json(entities).encode("utf-8")).hexdigest()


@dataclass
class MigrationPlan:
    """The steps that bring the database to the blueprint, in the order they run."""

    steps: list[Step]
    entities: dict[str, EntitySpec] = field(repr=False)
    target: sa.MetaData = field(repr=False)
    dialect: str = ""
    live_tables: dict[str, sa.Table] = field(default_factory=dict, repr=False)  # after renames, for --dry-run
    notes: list[str] = field(default_factory=list)  # what the plan cannot do here (e.g. no pg_trgm), said once

    @property
    def is_empty(self) -> bool:
        return not self.steps

    @property
    def blueprint_tables(self) -> list[str]:
        """The blueprint's table names once this plan is applied."""
        return sorted(self.target.tables)

    @property
    def data_losing(self) -> list[Step]:
        return [s for s in self.steps if s.loses_data and not s.blocked]

    @property
    def blocked(self) -> list[Step]:
        return [s for s in self.steps if s.blocked]

    def describe(self) -> list[str]:
        """One line per step, flagged when it loses data or cannot apply."""
        lines = []
        for step in self.steps:
            if step.blocked:
                lines.append(f"BLOCKED    {step.describe()}: {step.blocked}")
            elif step.loses_data:
                lines.append(f"LOSES DATA {step.summary()}")
            elif step.concurrently() and self.dialect == "postgresql":
                lines.append(f"           {step.summary()} [CONCURRENTLY, after the transaction]")
            else:
                lines.append(f"           {step.summary()}")
        if self.steps:
            lines += [f"NOTE       {note}" for note in self.notes]
        return lines

    def check(self, *, allow_data_loss: bool = False) -> None:
        """Raise MigrationRefused if the plan cannot, or may not, be applied."""
        if self.blocked:
            raise MigrationRefused(self.blocked, overridable=False)
        if self.data_losing and not allow_data_loss:
            raise MigrationRefused(self.data_losing, overridable=True)


def _owned_tables(entities_tables: set[str], recorded: set[str]) -> set[str]:
    return {t for t in entities_tables | recorded if not t.startswith(SYSTEM_PREFIX)}


def plan_migration(engine: sa.Engine, entities: dict[str, EntitySpec], timezone: str | None = None) -> MigrationPlan:
    """Compare the blueprint's tables with the live database (nothing is changed).

    `timezone` (the app's) is the one a default such as `today()` is evaluated in when
    empty rows of a required field are filled.
    """
    target = build_schema(entities).metadata
    names = BlueprintNames(entities)
    try:
        with engine.connect() as connection:
            # It tries the renames (rolled back): on SQLite it takes the write lock up front, or a
            # server's write committed meanwhile would make the upgrade fail ("database is locked").
            connection.execution_options(writes=True)
            transaction = connection.begin()
            try:
                steps, notes = _plan_in_transaction(connection, entities, target, names, timezone)
                live = _reflect(connection, {s.table for s in steps if s.table})
            finally:
                transaction.rollback()
    except sa.exc.DBAPIError as exc:
        raise MigrationError(f"could not plan the migration: {str(exc.orig).strip()}") from None
    return MigrationPlan(steps, entities, target, engine.dialect.name, live, notes)


def _plan_in_transaction(
    connection: sa.Connection,
    entities: dict[str, EntitySpec],
    target: sa.MetaData,
    names: BlueprintNames,
    timezone: str | None,
) -> tuple[list[Step], list[str]]:
    renames = plan_renames(entities, connection, names)
    operations = Operations(MigrationContext.configure(connection))
    for step in renames:
        if step.phase in (Phase.RENAME_TABLE, Phase.RENAME_COLUMN):  # re-encryption waits for the real run
            step.apply(operations)
    owned = _owned_tables(set(target.tables), recorded_tables(connection))

    def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
        return name in owned if type_ == "table" else True

    checks = read_length_checks(connection)  # PostgreSQL: shortened text keeps its type (length_checks.py)
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": type_comparer(checks), "include_name": include_name, "target_metadata": target},
    )
    with warnings.catch_warnings():  # SQLite cannot reflect the search indexes (expressions); indexes.py reads them
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        diffs = compare_metadata(context, target)
    steps = renames + plan_encryption_changes(entities, connection, names)
    steps += steps_from_diffs(diffs, target, names, connection.dialect.name, checks)
    for step in steps:  # new tables and columns too, so every step examines the data it will meet
        if step.phase in (Phase.CREATE_TABLE, Phase.ADD_COLUMN):
            step.apply(operations)
    steps += plan_fills(entities, connection, names, target, timezone)
    copied = _plan_sqlite_copies(connection, steps)
    index_steps, notes = plan_indexes(entities, connection, names, owned, copied)
    steps += index_steps
    for step in steps:
        step.examine(connection)
    return sorted(steps, key=lambda s: _order(s, steps)), notes


REFUSED_COPY = "this SQLite does not allow editing its schema, so the table is copied"
OTHER_COPY = "the table is copied for its other changes"


def _plan_sqlite_copies(connection: sa.Connection, steps: list[Step]) -> set[str]:
    """The tables SQLite will copy to alter them; a type change it could make in place joins the copy then.

    Whether this SQLite writes its schema at all (not in defensive mode) is asked once, if needed.
    """
    dialect = connection.dialect.name
    alterations = [s for s in steps if isinstance(s, Alteration)]
    retypes = [s for s in alterations if isinstance(s, ChangeType) and s.retypable]
    copied = {s.table for s in alterations if s.copies_table(dialect) and not any(s is r for r in retypes)}
    refused = bool(retypes) and not accepts_schema_edits(connection)
    for step in retypes:
        step.copied = REFUSED_COPY if refused else OTHER_COPY if step.table in copied else ""
    return copied | {s.table for s in retypes if s.copied}


def _order(step: Step, steps: list[Step]) -> tuple[int, int, str, int]:
    """Phase first; tables are dropped children first; a table's alterations stay together."""
    depth = 0
    if isinstance(step, DropTable):
        dropped = [s for s in steps if isinstance(s, DropTable)]
        seen: set[str] = set()
        todo = [step.table]
        while todo:  # dropped tables pointing (transitively) at this one go before it
            current = todo.pop()
            for other in dropped:
                if current in other.references() and other.table not in seen:
                    seen.add(other.table)
                    todo.append(other.table)
        depth = len(seen)
    group = step.table if isinstance(step, Alteration) else ""
    return step.phase, depth, group, getattr(step, "order", 0)


def _reflect(connection: sa.Connection, tables: set[str]) -> dict[str, sa.Table]:
    """The tables as they are after the renames (what `--dry-run` on SQLite copies from)."""
    if connection.dialect.name != "sqlite":
        return {}
    metadata = sa.MetaData()
    inspector = sa.inspect(connection)
    warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index sx_")
    return {
        name: sa.Table(name, metadata, autoload_with=connection) for name in sorted(tables) if inspector.has_table(name)
    }
