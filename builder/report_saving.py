"""Save a designed report into the project's blueprint folder, never breaking `crm validate`.

The designer's draft becomes `reports/<name>.yaml` in the blueprint folder. Before
anything is written, the whole blueprint is copied to a temporary folder with the
new file and loaded as `crm validate` loads it (structure, meaning, examples); only
a blueprint that passes is written, atomically (a temporary file renamed). The save
is audited (`action: report_saved`). Running servers follow the blueprint files
(builder/following.py) and serve the new report from their next request.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from .errors import BlueprintError
from .records import Actor
from .records.auditing import audit_row
from .storage.database import write_transaction
from .system_tables import audit as audit_table


@dataclass
class SaveRefused(Exception):
    """Why a report was not saved, in words (`problems`: the blueprint's located problems, if any)."""

    reason: str
    problems: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.reason


def report_file(blueprint_path: Path, name: str) -> Path:
    return blueprint_path / "reports" / f"{name}.yaml"


def save_report(
    engine: sa.Engine,
    actor: Actor,
    blueprint_path: Path,
    name: str,
    text: str,
    *,
    existing: bool,
    replace: bool,
    at: dt.datetime,
) -> Path:
    """Write `text` (the file `reports/<name>.yaml` holds) after checking the whole blueprint with it.

    `existing`: the running blueprint has a report of this name. Raises SaveRefused.
    """
    from .runtime import load_checked

    if not blueprint_path.is_dir():
        raise SaveRefused(
            f"the blueprint is a single file ({blueprint_path.name}): the designer saves into a blueprint folder; "
            "copy the YAML shown into the file instead"
        )
    target = report_file(blueprint_path, name)
    if (existing or target.exists()) and not replace:
        raise SaveRefused(f"a report `{name}` exists already: choose another name, or tick “replace”")
    if existing and not target.exists():
        raise SaveRefused(
            f"report `{name}` is defined in another file of the blueprint: only a report saved as "
            f"reports/{name}.yaml can be replaced here"
        )
    with tempfile.TemporaryDirectory(prefix="crm-designer-") as scratch:
        copy = Path(scratch) / "blueprint"
        shutil.copytree(blueprint_path, copy)
        report_file(copy, name).parent.mkdir(exist_ok=True)
        report_file(copy, name).write_text(text, encoding="utf-8")
        try:
            load_checked(copy)
        except BlueprintError as exc:
            shown = tuple(str(p).replace(str(copy) + os.sep, "") for p in exc.problems)
            raise SaveRefused("the blueprint would not pass `crm validate` with this report", shown) from None
    replaced = target.exists()
    target.parent.mkdir(exist_ok=True)
    partial = target.with_suffix(".yaml.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)
    detail = json.dumps({"report": name, "file": f"reports/{name}.yaml", "replaced": replaced}, ensure_ascii=False)
    with write_transaction(engine) as conn:
        conn.execute(audit_table.insert().values(**audit_row(actor, "report_saved", None, None, at, detail=detail)))
    return target
