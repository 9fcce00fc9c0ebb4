"""The blueprint shapes the rules engine reads: decision tables and `examples:`.

Pydantic models with extra="forbid", so a misspelt key is a blueprint problem
with its loc, not a silently ignored line.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel


class ExampleSpec(BaseModel):
    """One example: input values, and the expected result.

    For validations `expect` is pass or fail (or true/false). `now` pins the clock;
    `related` gives records for count/exists/last/overlaps (entity -> rows).
    """

    model_config = ConfigDict(extra="forbid")

    given: dict[str, Any] = Field(default_factory=dict)
    expect: Any = None
    now: dt.datetime | dt.date | None = None
    related: dict[str, list[dict[str, Any]]] | None = None


class DecisionRowSpec(BaseModel):
    """One row: a cell per input, and the output(s) when every cell matches."""

    model_config = ConfigDict(extra="forbid")

    when: list[Any]
    then: Any
    priority: int | None = None
    note: str | None = None


class DecisionTableSpec(BaseModel):
    """A decision table as written under `decision_tables:` in a blueprint."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    hit: Literal["first", "unique", "priority", "collect"] = "first"
    inputs: list[str] = Field(min_length=1)
    outputs: list[str] | None = None
    output_order: list[Any] | None = None
    aggregate: Literal["sum", "min", "max", "count"] | None = None
    default: Any = None
    rows: list[DecisionRowSpec] = Field(min_length=1)
    examples: list[ExampleSpec] = Field(default_factory=list)


class DecisionTablesSection(RootModel[dict[str, DecisionTableSpec]]):
    """The whole `decision_tables:` section: table name -> table."""
