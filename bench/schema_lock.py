"""How long a SQLite migration's transaction holds the write lock for a text column's type change.

Every write of every server waits while the migration's transaction is open. N patients
are inserted with `email` as VARCHAR(200); then one `apply_migration` either widens it
to VARCHAR(300) (`--change widen`: the schema change alone) or makes it `encrypted: true`
(`--change encrypt`: VARCHAR(200) -> TEXT, the `email__hash` column and its index; timed to
the commit, before the batches encrypt the values). Run it against two checkouts to compare:

    python bench/schema_lock.py --rows 1000000
    python bench/schema_lock.py --rows 100000 --change encrypt
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from builder.loading import load_blueprint  # noqa: E402
from builder.storage.crypto import Keyring  # noqa: E402
from builder.storage.database import make_engine  # noqa: E402
from builder.storage.migrations import apply_migration, plan_migration  # noqa: E402

FILL = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
    "INSERT INTO patient (name, email, created_at, updated_at, version) "
    "SELECT 'patient ' || i, 'p' || i || '@example.org', '2026-01-01', '2026-01-01', 1 FROM n"
)


def entities(folder: Path, email: str) -> dict:
    path = folder / f"blueprint_{len(list(folder.glob('*.yaml')))}.yaml"
    fields = f"      name: {{type: text, max_length: 80}}\n      email: {email}\n"
    path.write_text(f"app: {{name: bench}}\nentities:\n  patient:\n    fields:\n{fields}", encoding="utf-8")
    return load_blueprint(path).blueprint.entities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--change", choices=["widen", "encrypt"], default="widen")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="schema-lock-"))
    engine = make_engine(f"sqlite:///{folder / 'crm.sqlite3'}")
    apply_migration(engine, plan_migration(engine, entities(folder, "{type: text, max_length: 200}")))
    with engine.begin() as connection:
        connection.exec_driver_sql(FILL, (args.rows,))
    wanted = "{type: text, max_length: 300}" if args.change == "widen" else "{type: text, encrypted: true}"
    plan = plan_migration(engine, entities(folder, wanted))
    print("\n".join(line.strip() for line in plan.describe()))
    committed: list[float] = []
    started = time.perf_counter()
    apply_migration(
        engine,
        plan,
        keyring=Keyring.generate(),
        on_progress=lambda *_: committed or committed.append(time.perf_counter() - started),
    )
    held = committed[0] if committed else time.perf_counter() - started
    print(f"{args.rows:,} rows, {args.change}: the migration's transaction took {held * 1000:.0f} ms")
    engine.dispose()


if __name__ == "__main__":
    main()
