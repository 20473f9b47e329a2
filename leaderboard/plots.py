"""Server-rendered SVG plots (no JavaScript, no build step): lines and scatter on one axis pair."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["line_chart", "scatter_chart"]

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
_W, _H, _L, _R, _T, _B = 640, 320, 60, 160, 20, 40


def _span(values: Sequence[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    if high - low < 1e-12:
        return low - 0.5, high + 0.5
    pad = (high - low) * 0.05
    return low - pad, high + pad


def _frame(
    title: str, xlabel: str, ylabel: str, x: tuple[float, float], y: tuple[float, float]
) -> list[str]:
    pw, ph = _W - _L - _R, _H - _T - _B
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" '
        f'height="{_H}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{_L}" y="{_T}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>',
        f'<text x="{_L + pw / 2}" y="{_H - 6}" text-anchor="middle" font-size="12">'
        f"{escape(xlabel)}</text>",
        f'<text x="14" y="{_T + ph / 2}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 14 {_T + ph / 2})">{escape(ylabel)}</text>',
    ]
    for i in range(5):
        fx = x[0] + (x[1] - x[0]) * i / 4
        fy = y[0] + (y[1] - y[0]) * i / 4
        px = _L + pw * i / 4
        py = _T + ph - ph * i / 4
        parts.append(
            f'<text x="{px:.1f}" y="{_T + ph + 14}" text-anchor="middle" font-size="10">'
            f"{fx:.3g}</text>"
        )
        parts.append(
            f'<text x="{_L - 4}" y="{py + 3:.1f}" text-anchor="end" font-size="10">{fy:.3g}</text>'
        )
    return parts


def line_chart(
    series: Sequence[tuple[str, Sequence[float]]], *, title: str, xlabel: str, ylabel: str
) -> str:
    """Lines ``(label, y values at x = 1, 2, ...)``, with a legend on the right."""
    n = max((len(ys) for _, ys in series), default=1)
    x = (1.0, float(max(n, 2)))
    y = _span([v for _, ys in series for v in ys])
    pw, ph = _W - _L - _R, _H - _T - _B
    parts = _frame(title, xlabel, ylabel, x, y)
    if not series:
        parts.append(f'<text x="{_L + 10}" y="{_T + 20}" font-size="12">no scores yet</text>')
    for k, (label, ys) in enumerate(series):
        colour = _COLOURS[k % len(_COLOURS)]
        points = " ".join(
            f"{_L + pw * (i + 1 - x[0]) / (x[1] - x[0]):.1f},"
            f"{_T + ph - ph * (v - y[0]) / (y[1] - y[0]):.1f}"
            for i, v in enumerate(ys)
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        ly = _T + 14 + 16 * k
        parts.append(
            f'<rect x="{_W - _R + 8}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{_W - _R + 22}" y="{ly + 1}" font-size="11">{escape(label[:22])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def scatter_chart(
    points: Sequence[tuple[str, float, float]], *, title: str, xlabel: str, ylabel: str
) -> str:
    """Points ``(label, x, y)``, each with a tooltip naming it."""
    x = _span([p[1] for p in points])
    y = _span([p[2] for p in points])
    pw, ph = _W - _L - _R, _H - _T - _B
    parts = _frame(title, xlabel, ylabel, x, y)
    if not points:
        parts.append(f'<text x="{_L + 10}" y="{_T + 20}" font-size="12">no scores yet</text>')
    for k, (label, px, py) in enumerate(points):
        cx = _L + pw * (px - x[0]) / (x[1] - x[0])
        cy = _T + ph - ph * (py - y[0]) / (y[1] - y[0])
        colour = _COLOURS[k % len(_COLOURS)]
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{colour}">'
            f"<title>{escape(label)}: {py:.4g} at {px:g}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)
