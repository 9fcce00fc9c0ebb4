"""Which state a seeded record is in: by the kind of each state, weighted like a real clinic's.

A workflow says which state records start in (`initial`), which end the flow
(`final`) and how they move. From that, each state gets a kind:

- **start**: the initial state (requested, booked, open);
- **step**: a state one move from the start that does not end the flow (confirmed);
- **later**: other states that do not end it (checked_in): only reached on the day;
- **good end**: a final state that is not a failure (completed, attended, done);
- **bad end**: a final state whose name or colour says it failed: red, grey or gray,
  or a name with cancel, no_show, missed, unreachable, reject, fail, lost, declin,
  expir, abandon, void (no_show, missed, cancelled, unreachable).

A record whose moment has passed has ended: a good end 84% of the time, the bad ends
sharing 16% (two bad ends: 8% each, so no-shows are about 8.7% of the appointments
that were due). A record ahead has not: the start 45%, the steps 50% between them,
and 5% for bad ends reachable from the start or a step by a move not waiting for
`now()` (cancelled in advance; never a no-show).
Without a workflow the options' order stands in: the first is the start, the later
half the ends, the first end the good one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from engines.workflows import WorkflowSpec

GOOD_END, BAD_END = 0.84, 0.16
AHEAD_START, AHEAD_STEP, AHEAD_BAD = 0.45, 0.50, 0.05
_BAD_WORDS: tuple[str, ...] = (
    "cancel",
    "no_show",
    "noshow",
    "missed",
    "unreachable",
    "reject",
    "fail",
    "lost",
    "declin",
    "expir",
    "abandon",
    "void",
)
_BAD_COLOURS = ("red", "gray", "grey")


@dataclass
class StateWeights:
    """Weights of each state for records whose moment has passed, and for records ahead.

    Picks keep each state's share close to its weight however few records there are
    (the state furthest below its share, give or take a random nudge of one record),
    so a demo of 200 patients shows about 8% no-shows, not 3% or 14% by chance; the
    order stays random.
    """

    past: dict[str, float]
    ahead: dict[str, float]
    made: dict[bool, dict[str, int]] = field(default_factory=lambda: {True: {}, False: {}})

    def pick(self, rng: random.Random, past: bool) -> str:
        weights = self.past if past else self.ahead
        made = self.made[past]
        total = sum(made.values()) + 1
        states = [s for s, w in weights.items() if w > 0]
        chosen = max(states, key=lambda s: weights[s] * total - made.get(s, 0) + rng.random())
        made[chosen] = made.get(chosen, 0) + 1
        return chosen


def _bad(name: str, colour: str | None) -> bool:
    return any(word in name.lower() for word in _BAD_WORDS) or (colour or "").lower() in _BAD_COLOURS


def _weights(
    start: str, steps: list[str], finals: list[str], bad: set[str], early_bad: set[str], everything: Sequence[str]
) -> StateWeights:
    good = [s for s in finals if s not in bad] or finals[:1]
    bad_ends = [s for s in finals if s not in good]
    past = {s: 0.0 for s in everything}
    for state in good:
        past[state] += (GOOD_END if bad_ends else 1.0) / len(good)
    for state in bad_ends:
        past[state] += BAD_END / len(bad_ends)
    if not finals:  # a flow that never ends: past records sit anywhere but the start
        past.update({s: 1.0 for s in everything if s != start} or {start: 1.0})
    ahead = {s: 0.0 for s in everything}
    ahead[start] = AHEAD_START if steps else 1.0
    for state in steps:
        ahead[state] += AHEAD_STEP / len(steps)
    cancelled = [s for s in bad_ends if s in early_bad]
    for state in cancelled:
        ahead[state] += AHEAD_BAD / len(cancelled)
    return StateWeights(past, ahead)


def workflow_weights(flow: WorkflowSpec) -> StateWeights:
    """The weights of a workflow's states, from their kinds (see the module's docstring)."""
    states = list(flow.states)
    moves = [
        (t.from_ if isinstance(t.from_, list) else [t.from_], t.to, t.if_ or "") for t in flow.transitions.values()
    ]
    finals = [s for s, spec in flow.states.items() if spec.final]
    steps = [
        s
        for s in states
        if s != flow.initial
        and s not in finals
        and any(flow.initial in sources and to == s for sources, to, _ in moves)
    ]
    bad = {s for s in finals if _bad(s, flow.states[s].color)}
    # Moves that wait for the moment (`if: "starts_at < now()"`) cannot have happened ahead of it.
    early = {
        to
        for sources, to, guard in moves
        if "now()" not in guard and (flow.initial in sources or set(sources) & set(steps))
    }
    return _weights(flow.initial, steps, finals, bad, early, states)


def option_weights(options: Sequence[str]) -> StateWeights:
    """Weights from a state field's options alone: the first starts, the later half ends."""
    half = (len(options) + 1) // 2
    finals = list(options[half:]) if len(options) > 1 else []
    steps = list(options[1:half])
    bad = {s for s in finals if _bad(s, None)}
    return _weights(options[0], steps, finals, bad, {s for s in bad if "cancel" in s}, options)
