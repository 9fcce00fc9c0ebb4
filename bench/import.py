"""Import speed on SQLite: `crm import`'s engine against a raw executemany of the same rows.

    PYTHONPATH=. python bench/import.py --rows 100000

Writes a CSV of N patients as a clinic would export it (GBK, Chinese headers, 男/女,
2026/3/5 dates, some phone numbers in full-width digits, 是/否 consent), then:

1. imports it with `run_import` (what `crm import` runs): every row through the record
   service as the system, in 500-row transactions with a savepoint per row, duplicate
   matching on phone, rows remembered for resuming, the rejects file and the integrity
   report (the stored rows read back and compared);
2. into a second, empty database of the same schema, reads the same file with the csv
   module, converts the same cells the shortest way, and inserts them with one
   `executemany` per 2,000 rows: no rules, no audit, no checks.

Prints both times (wall clock and this process's CPU time: on a shared machine the wall
clock also counts other processes), rows per second and the ratio (import / raw).

    PYTHONPATH=. python bench/import.py --rows 10000 --phases

also says where the import's CPU time went: each part's own time (its callees in another
part not counted), measured by wrapping the parts' functions with a CPU-time counter,
which adds a little to every call (so the phases run's total is a little higher).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import csv
import datetime as dt
import functools
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MAPPING = """
entity: patient
fields:
  name: 姓名
  gender: 性别
  birth_date: 出生日期
  phone: 手机
  channel: 来源渠道
  consent_sms: 同意短信
match: [phone]
on_duplicate: skip
"""

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(2026)
    channels = ["到店", "转介绍", "微信", "网站", "电话"]
    with path.open("w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["姓名", "性别", "出生日期", "手机", "来源渠道", "同意短信"])
        for i in range(rows):
            phone = f"13{i:09d}"
            if i % 10 == 0:
                phone = phone.translate(FULL_WIDTH)
            born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(30000))
            writer.writerow(
                [
                    f"患者{i:06d}",
                    rng.choice(["男", "女"]),
                    f"{born.year}/{born.month}/{born.day}",
                    phone,
                    rng.choice(channels),
                    rng.choice(["是", "否"]),
                ]
            )


def project(directory: Path):
    from builder.project import init_project
    from builder.runtime import open_runtime
    from builder.storage.crypto import Keyring

    init_project(directory, "clinic")
    text = (directory / "crm.toml").read_text(encoding="utf-8")
    (directory / "crm.toml").write_text(
        text.replace(text[text.index("key_file") :].splitlines()[0], 'key_file = "keys.json"'), encoding="utf-8"
    )
    Keyring.generate(directory / "keys.json")
    runtime = open_runtime(directory)
    runtime.records.schema.metadata.create_all(runtime.engine)
    return runtime


def raw_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The file's patients as column values, converted the shortest way (no checks)."""
    genders = {"男": "male", "女": "female"}
    channels = {"到店": "walk_in", "转介绍": "referral", "微信": "wechat", "网站": "web", "电话": "phone"}
    now = dt.datetime(2026, 1, 1)
    with path.open(encoding="gbk", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for name, gender, born, phone, channel, consent in reader:
            year, month, day = (int(p) for p in born.split("/"))
            yield {
                "name": name,
                "gender": genders[gender],
                "birth_date": dt.date(year, month, day),
                "phone": "+86" + phone.translate({0xFF10 + d: 0x30 + d for d in range(10)}),
                "channel": channels[channel],
                "consent_sms": consent == "是",
                "consent_marketing": False,
                "stage": "lead",
                "tags": "[]",
                "created_at": now,
                "updated_at": now,
                "created_by": "bench",
                "updated_by": "bench",
                "version": 1,
            }


def raw_insert(runtime, path: Path) -> int:
    """The floor: the same rows, converted the shortest way, inserted with executemany."""
    table = runtime.records.schema.table("patient")
    count = 0
    with runtime.engine.begin() as conn:
        batch = []
        for row in raw_rows(path):
            batch.append(row)
            if len(batch) == 2000:
                conn.execute(table.insert(), batch)
                count += len(batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)
            count += len(batch)
    return count


def raw_insert_as_imported(runtime, path: Path, batch_size: int) -> int:
    """The same database rows as the import writes, by hand: each record (its id returned), its audit
    entry (the values as changes) and its `crm_import_row`, `batch_size` rows a transaction as the import
    commits. Still no checks, rules, encryption or savepoints: what the import's writes cost by themselves."""
    import json

    from builder.system_tables import audit, create_system_tables, import_rows

    create_system_tables(runtime.engine)
    table = runtime.records.schema.table("patient")
    returning = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    shown = ("name", "gender", "birth_date", "phone", "channel", "consent_sms", "consent_marketing", "stage", "tags")
    at = dt.datetime(2026, 1, 1)

    def write(batch: list[dict[str, Any]], first_line: int) -> None:
        with runtime.engine.begin() as conn:
            ids = conn.execute(returning, batch).scalars().all()
            conn.execute(
                audit.insert(),
                [
                    {
                        "at": at,
                        "actor": "system",
                        "role": "system",
                        "address": None,
                        "action": "create",
                        "entity": "patient",
                        "record_id": record_id,
                        "changes": json.dumps(
                            {k: [None, str(row[k]) if k == "birth_date" else row[k]] for k in shown},
                            ensure_ascii=False,
                        ),
                        "detail": None,
                    }
                    for record_id, row in zip(ids, batch, strict=True)
                ],
            )
            conn.execute(
                import_rows.insert(),
                [
                    {"import_id": "raw", "source_row": first_line + n, "outcome": "created", "record_id": record_id}
                    for n, record_id in enumerate(ids)
                ],
            )

    count, batch = 0, []
    for row in raw_rows(path):
        batch.append(row)
        if len(batch) == batch_size:
            write(batch, count + 2)
            count, batch = count + len(batch), []
    if batch:
        write(batch, count + 2)
        count += len(batch)
    return count


def phase_parts() -> list[tuple[Any, str, str]]:
    """(owner, function name, label): the parts of an import the phases say apart."""
    from builder.importing import converting, matching, running
    from builder.records import batch, service

    return [
        (running._Importer, "run", "reading the file, setting up"),
        (converting.RowConverter, "convert", "cells to values (normalising, value maps, dates)"),
        (matching.Matcher, "keys", "duplicate keys (the phone parsed by phonenumbers)"),
        (matching.Matcher, "prefetch", "duplicate look-up, one query per batch and rule"),
        (matching.Matcher, "find", "duplicate match per row"),
        (running._Importer, "_batch", "a batch's transaction: open, audit executemany, commit"),
        (running._Importer, "_row", "the importer's own work per row (dispatch, outcome)"),
        (running._Importer, "_apply", "a committed batch's counts in the report"),
        (batch.Batch, "write", "record service: a row's lifecycle (batch.write)"),
        (service.RecordService, "_check_unique", "record service: unique check (a query a row)"),
        (running, "imported_values", "values kept for the integrity report"),
        (running, "remember_rows", "crm_import_row (one executemany a batch)"),
        (running._Importer, "_finish", "finishing: run status, audit entry"),
        (running, "check_integrity", "integrity report (reading back, comparing)"),
    ]


@contextlib.contextmanager
def phases() -> Iterator[collections.Counter]:
    """CPU seconds spent in each part's own code while the block runs (see phase_parts)."""
    spent: collections.Counter = collections.Counter()
    inner: list[float] = []  # per open call: time its nested parts took
    originals = []

    def counted(function: Any, label: str) -> Any:
        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            inner.append(0.0)
            try:
                return function(*args, **kwargs)
            finally:
                took = time.process_time() - started
                spent[label] += took - inner.pop()
                if inner:
                    inner[-1] += took

        return call

    for owner, name, label in phase_parts():
        originals.append((owner, name, getattr(owner, name)))
        setattr(owner, name, counted(getattr(owner, name), label))
    try:
        yield spent
    finally:
        for owner, name, function in originals:
            setattr(owner, name, function)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--phases", action="store_true", help="also say where the import's CPU time went")
    args = parser.parse_args()

    from dataclasses import replace

    from builder.importing import ImportOptions, run_import
    from builder.importing.mapping import parse_mapping
    from builder.records import SYSTEM

    with tempfile.TemporaryDirectory(prefix="crm-bench-import-") as tmp:
        folder = Path(tmp)
        source = folder / "patients.csv"
        write_csv(source, args.rows)
        print(f"{args.rows} patients, {source.stat().st_size / 1e6:.1f} MB of GBK CSV")

        imported = project(folder / "imported")
        with phases() if args.phases else contextlib.nullcontext(collections.Counter()) as spent:
            started, cpu = time.perf_counter(), time.process_time()
            report = run_import(
                imported.records,
                replace(SYSTEM, locale="zh-CN"),
                source,
                parse_mapping(MAPPING),
                ImportOptions(batch_size=args.batch_size),
            )
            import_seconds = time.perf_counter() - started
            import_cpu = time.process_time() - cpu
        imported.close()
        assert report.created == args.rows, report.as_dict(problems=5)
        assert report.integrity is not None and report.integrity.matches

        raw = project(folder / "raw")
        started, cpu = time.perf_counter(), time.process_time()
        count = raw_insert(raw, source)
        raw_seconds = time.perf_counter() - started
        raw_cpu = time.process_time() - cpu
        raw.close()
        assert count == args.rows

        same = project(folder / "same")
        started, cpu = time.perf_counter(), time.process_time()
        assert raw_insert_as_imported(same, source, args.batch_size) == args.rows
        same_seconds = time.perf_counter() - started
        same_cpu = time.process_time() - cpu
        same.close()

    print(f"crm import (record service): {import_seconds:7.2f} s  {args.rows / import_seconds:9.0f} rows/s", end="")
    print(f"  (CPU {import_cpu:.2f} s)")
    print(f"raw executemany:             {raw_seconds:7.2f} s  {args.rows / raw_seconds:9.0f} rows/s", end="")
    print(f"  (CPU {raw_cpu:.2f} s)")
    print(f"ratio import / raw: {import_seconds / raw_seconds:.1f}x (CPU: {import_cpu / raw_cpu:.1f}x)")
    print(f"the same database rows by hand: {same_seconds:7.2f} s  {args.rows / same_seconds:9.0f} rows/s", end="")
    print(f"  (CPU {same_cpu:.2f} s; records, audit entries, import rows, {args.batch_size} a transaction)")
    same_ratio = import_seconds / same_seconds
    print(f"ratio import / the same rows by hand: {same_ratio:.1f}x (CPU: {import_cpu / same_cpu:.1f}x)")
    if spent:
        print(f"where the import's CPU went (µs a row; the raw executemany: {raw_cpu / args.rows * 1e6:.0f}):")
        spent["other"] = import_cpu - sum(spent.values())
        for label, seconds in spent.most_common():
            print(f"  {seconds / args.rows * 1e6:7.1f}  {seconds / import_cpu:6.1%}  {label}")


if __name__ == "__main__":
    main()
