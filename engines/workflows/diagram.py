"""A workflow drawn as SVG on the server: no script, every label escaped.

Layout is layered: a state's column is its distance from the initial state
(unreachable states go last), states stack down each column. Transitions are
straight arrows labelled with their names; a transition back to its own state is
a small loop. Good enough to read a clinic's flow at a glance.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from engines.forms import localized

from .workflow_spec import COLOURS, WorkflowSpec

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 150, 44, 90, 36, 24
FILLS = {
    "gray": "#eceff1",
    "blue": "#e3f2fd",
    "green": "#e8f5e9",
    "amber": "#fff8e1",
    "red": "#ffebee",
    "purple": "#f3e5f5",
    "teal": "#e0f2f1",
    "orange": "#fff3e0",
}
assert set(FILLS) == set(COLOURS)


def _layers(spec: WorkflowSpec) -> dict[str, int]:
    """Each state's column: breadth-first distance from the initial state."""
    depth = {spec.initial: 0} if spec.initial in spec.states else {}
    frontier = list(depth)
    while frontier:
        state = frontier.pop(0)
        for t in spec.transitions.values():
            if state in t.sources and t.to in spec.states and t.to not in depth:
                depth[t.to] = depth[state] + 1
                frontier.append(t.to)
    last = max(depth.values(), default=-1) + 1
    return {state: depth.get(state, last) for state in spec.states}


def _positions(spec: WorkflowSpec) -> dict[str, tuple[int, int]]:
    rows: dict[int, int] = {}
    places = {}
    for state, column in _layers(spec).items():
        row = rows.get(column, 0)
        rows[column] = row + 1
        places[state] = (MARGIN + column * (BOX_W + GAP_X), MARGIN + row * (BOX_H + GAP_Y))
    return places


def _fill(colour: str) -> str:
    return FILLS.get(colour, colour)


def _edges(spec: WorkflowSpec) -> Iterable[tuple[str, str, str]]:
    for name, t in spec.transitions.items():
        for source in t.sources:
            if source in spec.states and t.to in spec.states:
                yield name, source, t.to


def workflow_svg(spec: WorkflowSpec, locale: str = "en", *, title: str | None = None) -> str:
    """The SVG text of workflow `spec`, with state labels in `locale`."""
    places = _positions(spec)
    width = max((x for x, _ in places.values()), default=0) + BOX_W + MARGIN
    height = max((y for _, y in places.values()), default=0) + BOX_H + MARGIN + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title or 'workflow')}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#546e7a"/></marker></defs>',
    ]
    for name, source, target in _edges(spec):
        parts.append(_arrow(places[source], places[target], name, spec.transitions[name].label, locale))
    for state, (x, y) in places.items():
        s = spec.states[state]
        stroke = 3 if state == spec.initial else 1
        label = localized(s.label, locale, state)
        parts.append(
            f'<g class="state" data-state="{escape(state)}">'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="10" fill="{escape(_fill(s.color))}" '
            f'stroke="#37474f" stroke-width="{stroke}"/>'
            + (
                f'<rect x="{x + 4}" y="{y + 4}" width="{BOX_W - 8}" height="{BOX_H - 8}" rx="7" '
                f'fill="none" stroke="#37474f"/>'
                if s.final
                else ""
            )
            + f'<text x="{x + BOX_W // 2}" y="{y + BOX_H // 2 + 4}" '
            f'text-anchor="middle">{escape(label)}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _arrow(start: tuple[int, int], end: tuple[int, int], name: str, label: object, locale: str) -> str:
    text = escape(localized(label, locale, name) if label is not None else name)  # type: ignore[arg-type]
    (x1, y1), (x2, y2) = start, end
    if start == end:
        cx, top = x1 + BOX_W // 2, y1
        return (
            f'<g class="transition"><path d="M{cx - 20},{top} C{cx - 30},{top - 30} {cx + 30},{top - 30} '
            f'{cx + 20},{top}" fill="none" stroke="#546e7a" marker-end="url(#arrow)"/>'
            f'<text x="{cx}" y="{top - 24}" text-anchor="middle">{text}</text></g>'
        )
    if x2 > x1:
        ax, ay, bx, by = x1 + BOX_W, y1 + BOX_H // 2, x2, y2 + BOX_H // 2
    elif x2 < x1:
        ax, ay, bx, by = x1, y1 + BOX_H // 2 + 8, x2 + BOX_W, y2 + BOX_H // 2 + 8
    else:
        ax, bx = x1 + BOX_W // 2 + 20, x2 + BOX_W // 2 + 20
        ay, by = (y1 + BOX_H, y2) if y2 > y1 else (y1, y2 + BOX_H)
    mx, my = (ax + bx) // 2, (ay + by) // 2
    return (
        f'<g class="transition"><line x1="{ax}" y1="{ay}" x2="{bx}" y2="{by}" stroke="#546e7a" '
        f'marker-end="url(#arrow)"/><text x="{mx}" y="{my - 4}" text-anchor="middle">{text}</text></g>'
    )
