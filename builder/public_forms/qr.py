"""A link as a QR code in SVG, inline in the page (no image request, nothing for the CSP to allow)."""

from __future__ import annotations

import io

import segno


def qr_svg(url: str, title: str = "") -> str:
    """An SVG QR code of `url`, scaled by CSS (no fixed size), with a title for screen readers."""
    code = segno.make(url, error="m")
    out = io.BytesIO()
    code.save(
        out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True, title=title or None, nl=False, omitsize=True
    )
    return out.getvalue().decode("utf-8")
