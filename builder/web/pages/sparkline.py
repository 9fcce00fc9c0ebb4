"""A small trend chart drawn on the server as inline SVG (blood pressure over the last readings).

Why SVG on the server rather than ECharts: a record page stays one request with no
script, the chart prints on the A4 view, fits the strict CSP as it is, and a few
dozen points need no zooming or tooltips beyond each point's <title>.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 320, 110, 16
STYLES = [
    ("#0b6e6e", ""),
    ("#b3261e", "5 3"),
    ("#5b3fa0", "2 2"),
    ("#8a5a00", "8 3"),
]  # colour and dash: not colour alone


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, decimal.Decimal)):
        return float(value)
    return None


def sparkline(series: Mapping[str, Sequence[Any]], moments: Sequence[str], caption: str) -> Markup | None:
    """One polyline per series over the same moments; None when there is nothing to draw."""
    values = [v for points in series.values() for v in (_number(p) for p in points) if v is not None]
    if not values or not moments:
        return None
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    count = len(moments)
    step = (WIDTH - 2 * PAD) / max(count - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return PAD + i * step, HEIGHT - PAD - (v - low) / span * (HEIGHT - 2 * PAD)

    parts = [
        f'<svg class="sparkline" viewBox="0 0 {WIDTH} {HEIGHT + 18 * len(series)}" role="img" '
        f'aria-label="{escape(caption)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(caption)}</title>",
        f'<text x="2" y="{PAD - 4}" class="axis">{escape(_short(high))}</text>',
        f'<text x="2" y="{HEIGHT - 2}" class="axis">{escape(_short(low))}</text>',
    ]
    for index, (label, points) in enumerate(series.items()):
        colour, dash = STYLES[index % len(STYLES)]
        coords = [(i, _number(p)) for i, p in enumerate(points)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in coords if v is not None))
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dashing} points="{path}"/>')
        for i, v in coords:
            if v is not None:
                x, y = xy(i, v)
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}">'
                    f"<title>{escape(label)} {escape(_short(v))} · {escape(moments[i])}</title></circle>"
                )
        legend_y = HEIGHT + 14 + 18 * index
        parts.append(
            f'<line x1="{PAD}" y1="{legend_y - 4}" x2="{PAD + 24}" y2="{legend_y - 4}" stroke="{colour}" '
            f'stroke-width="2"{dashing}/><text x="{PAD + 30}" y="{legend_y}" class="legend">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
