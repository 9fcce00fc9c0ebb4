"""Rules engine speed against the same logic written as plain Python.

    python bench/rules.py           # rates and ratios
    python bench/rules.py --smoke   # few iterations; asserts both give the same results

Goals: expressions within 3x of native Python; a 20-row decision table at
200,000 decisions/s or more per core.
"""

from __future__ import annotations

import argparse
import datetime as dt
import pathlib
import random
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from engines.rules import compile_decision_table, compile_expression, get_timezone, set_timezone

# A 20-row triage table: systolic bands by 10 mmHg, each needing a minimum diastolic; a catch-all last.
BANDS = [(250 - 10 * i, 260 - 10 * i, 40 + 3 * i, ("critical", "high", "elevated", "watch")[i // 5]) for i in range(19)]
TABLE = {
    "hit": "first",
    "inputs": ["systolic", "diastolic"],
    "rows": [{"when": [f"[{lo}..{hi})", f">= {dmin}"], "then": out} for lo, hi, dmin, out in BANDS]
    + [{"when": ["-", "-"], "then": "normal"}],
}


def native_validation(record: dict[str, Any]) -> bool:
    return not record.get("pregnancy") or record.get("gender") == "female"


def native_age(record: dict[str, Any]) -> int | None:
    born = record.get("birth_date")
    if born is None:
        return None
    today = dt.datetime.now(get_timezone()).date()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def native_table(record: dict[str, Any]) -> str:
    systolic, diastolic = record.get("systolic"), record.get("diastolic")
    if systolic is not None and diastolic is not None:
        for low, high, minimum, outcome in BANDS:
            if low <= systolic < high and diastolic >= minimum:
                return outcome
    return "normal"


def records(count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    return [
        {
            "pregnancy": rng.random() < 0.2,
            "gender": rng.choice(["female", "male", "other"]),
            "birth_date": dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(30_000)),
            "systolic": rng.randrange(70, 260),
            "diastolic": rng.randrange(40, 130),
        }
        for _ in range(count)
    ]


def rate(fn: Callable[[dict[str, Any]], Any], data: list[dict[str, Any]], seconds: float) -> float:
    """Calls per second of fn over data, repeated for about `seconds`."""
    calls, started = 0, time.perf_counter()
    while True:
        for record in data:
            fn(record)
        calls += len(data)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return calls / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="few iterations; check results, not speed")
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args(argv)
    set_timezone("Europe/Berlin")
    data = records(200 if args.smoke else 2_000)
    validation = compile_expression("not pregnancy or gender == 'female'")
    age = compile_expression("years_between(birth_date, today())")
    table = compile_decision_table("triage", TABLE)
    cases = [
        ("validation  not pregnancy or gender == 'female'", validation.evaluate, native_validation),
        ("computed    years_between(birth_date, today())", age.evaluate, native_age),
        ("table       20-row decision table, first hit", table.evaluate, native_table),
    ]
    for label, ours, native in cases:
        mismatches = [r for r in data if ours(r) != native(r)]
        assert not mismatches, f"{label}: differs from native for {mismatches[0]}"
    if args.smoke:
        print(f"smoke: {len(cases)} cases agree with native Python on {len(data)} records")
        return 0
    print(f"{'case':52} {'rules/s':>12} {'native/s':>12} {'slower by':>10}")
    for label, ours, native in cases:
        ours_rate, native_rate = rate(ours, data, args.seconds), rate(native, data, args.seconds)
        print(f"{label:52} {ours_rate:12,.0f} {native_rate:12,.0f} {native_rate / ours_rate:9.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
