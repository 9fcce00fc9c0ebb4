"""Blueprint migrations: plan (renames first, then Alembic's comparison), refuse data loss, apply.

plan = plan_migration(engine, blueprint.entities)
print("\\n".join(plan.describe()))
print(migration_sql(engine, plan))          # --dry-run
apply_migration(engine, plan, allow_data_loss=False, applied_by="alice")
"""

from .apply import MigrationResult, apply_migration, migration_sql
from .errors import MigrationError, MigrationRefused
from .history import HISTORY_TABLE, HistoryEntry, applied_history
from .planner import MigrationPlan, blueprint_hash, blueprint_json, plan_migration

__all__ = [
    "HISTORY_TABLE",
    "HistoryEntry",
    "MigrationError",
    "MigrationPlan",
    "MigrationRefused",
    "MigrationResult",
    "applied_history",
    "apply_migration",
    "blueprint_hash",
    "blueprint_json",
    "migration_sql",
    "plan_migration",
]
