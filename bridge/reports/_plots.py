"""Inline SVG charts for the HTML report: no plotting library, no external file.

Every label that reaches the SVG is escaped with :func:`html.escape`; every number is
formatted here.  The charts are plain ``<svg>`` elements styled by the report's CSS classes
(``.axis``, ``.grid``, ``.lbl``) so they print and scale with the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = [
    "PALETTE",
    "Point",
    "attribution_bars_svg",
    "grouped_bars_svg",
    "nice_ticks",
    "scatter_svg",
]

#: Okabe-Ito colour-blind-safe palette (black left out), then a few extra hues.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#6A3D9A", "#8C564B", "#7F7F7F")
_POS = "#C0392B"
_NEG = "#2E86C1"
_CHAR_W = 6.6  # average glyph width at 12px, for label layout


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _f(x: float) -> str:
    return f"{x:.1f}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick positions covering ``[lo, hi]`` (about ``n`` of them)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) * 0.1 or 1.0)
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t <= hi + step * 0.5 and len(ticks) < 50:
        ticks.append(round(t, 10))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _tick_label(t: float, ticks: Sequence[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = next((d for d in range(5) if abs(round(step, d) - step) < 1e-9), 4)
    return f"{t:.{decimals}f}"


@dataclass
class Point:
    """One method on the trade-off chart."""

    label: str
    x: float
    y: float
    front: bool = False
    baseline: bool = False


def _overlaps(box: tuple[float, float, float, float],
              boxes: Sequence[tuple[float, float, float, float]]) -> bool:
    x0, y0, x1, y1 = box
    return any(not (x1 < a0 or x0 > a1 or y1 < b0 or y0 > b1) for a0, b0, a1, b1 in boxes)


def scatter_svg(points: Sequence[Point], *, x_label: str, y_label: str, width: int = 760,
                height: int = 420, x_ideal: float | None = 0.0, title: str = "") -> str:
    """Accuracy vs disparity: every method a dot, the Pareto front joined and filled.

    Parameters
    ----------
    points : sequence of Point
        ``x``: the disparity (distance from parity), ``y``: accuracy.
    x_label, y_label : str
        Axis titles.
    x_ideal : float, optional
        Draws a dashed line at perfect parity.
    """
    pts = [p for p in points if math.isfinite(p.x) and math.isfinite(p.y)]
    ml, mr, mt, mb = 64, 24, 20 if not title else 40, 56
    pw, ph = width - ml - mr, height - mt - mb
    if not pts:
        return (f'<svg class="chart" viewBox="0 0 {width} 80" role="img" '
                f'aria-label="{_e(title or "trade-off")}"><text x="{width // 2}" y="44" '
                'text-anchor="middle" class="lbl muted">No method has both an accuracy and '
                'a disparity to plot.</text></svg>')
    xs = [p.x for p in pts] + ([x_ideal] if x_ideal is not None else [])
    ys = [p.y for p in pts]
    xpad = (max(xs) - min(xs)) * 0.08 or 0.02
    ypad = (max(ys) - min(ys)) * 0.12 or 0.02
    xt = nice_ticks(min(xs) - (0 if x_ideal is not None and min(xs) >= x_ideal else xpad),
                    max(xs) + xpad)
    yt = nice_ticks(max(0.0, min(ys) - ypad), min(1.0, max(ys) + ypad) if max(ys) <= 1 else max(ys) + ypad)
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]

    def sx(v: float) -> float:
        return ml + (v - x0) / ((x1 - x0) or 1) * pw

    def sy(v: float) -> float:
        return mt + ph - (v - y0) / ((y1 - y0) or 1) * ph

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{_e(title or y_label + " vs " + x_label)}">']
    if title:
        out.append(f'<text x="{ml}" y="22" class="ttl">{_e(title)}</text>')
    # the "better" corner: high accuracy, low disparity
    out.append(f'<text x="{_f(ml + 8)}" y="{_f(mt + 16)}" class="lbl muted">'
               '&#8598; better: more accurate, closer to parity</text>')
    for t in xt:
        out.append(f'<line class="grid" x1="{_f(sx(t))}" x2="{_f(sx(t))}" y1="{mt}" y2="{mt + ph}"/>')
        out.append(f'<text class="tick" x="{_f(sx(t))}" y="{mt + ph + 18}" text-anchor="middle">'
                   f'{_tick_label(t, xt)}</text>')
    for t in yt:
        out.append(f'<line class="grid" x1="{ml}" x2="{ml + pw}" y1="{_f(sy(t))}" y2="{_f(sy(t))}"/>')
        out.append(f'<text class="tick" x="{ml - 8}" y="{_f(sy(t) + 4)}" text-anchor="end">'
                   f'{_tick_label(t, yt)}</text>')
    out.append(f'<rect class="axis" x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none"/>')
    if x_ideal is not None and x0 <= x_ideal <= x1:
        out.append(f'<line class="ideal" x1="{_f(sx(x_ideal))}" x2="{_f(sx(x_ideal))}" '
                   f'y1="{mt}" y2="{mt + ph}"/>')
    out.append(f'<text class="axlbl" x="{ml + pw / 2:.1f}" y="{height - 14}" '
               f'text-anchor="middle">{_e(x_label)}</text>')
    out.append(f'<text class="axlbl" transform="translate(16 {mt + ph / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle">{_e(y_label)}</text>')
    front = sorted((p for p in pts if p.front), key=lambda p: (p.x, -p.y))
    if len(front) > 1:
        path = " ".join(f"{'M' if i == 0 else 'L'}{_f(sx(p.x))},{_f(sy(p.y))}"
                        for i, p in enumerate(front))
        out.append(f'<path class="frontline" d="{path}"/>')
    boxes: list[tuple[float, float, float, float]] = []
    placed = [(sx(p.x), sy(p.y)) for p in pts]
    for cx, cy in placed:
        boxes.append((cx - 6, cy - 6, cx + 6, cy + 6))
    labels = []
    for p, (cx, cy) in sorted(zip(pts, placed), key=lambda t: (-t[0].front, t[1][1])):
        cls = "dot front-dot" if p.front else "dot"
        shape = (f'<rect class="{cls}" x="{_f(cx - 6)}" y="{_f(cy - 6)}" width="12" height="12" '
                 f'transform="rotate(45 {_f(cx)} {_f(cy)})"/>' if p.baseline else
                 f'<circle class="{cls}" cx="{_f(cx)}" cy="{_f(cy)}" r="6"/>')
        out.append(f'<g><title>{_e(p.label)}: accuracy {p.y:.3f}, disparity {p.x:.3f}'
                   f'{" (Pareto front)" if p.front else ""}</title>{shape}</g>')
        text = p.label if len(p.label) <= 34 else p.label[:33] + "\u2026"
        w = len(text) * _CHAR_W
        for dx, dy, anchor in ((10, 4, "start"), (-10, 4, "end"), (0, -12, "middle"),
                               (0, 20, "middle"), (10, -10, "start"), (10, 18, "start"),
                               (-10, -10, "end"), (-10, 18, "end")):
            left = cx + dx - (w if anchor == "end" else w / 2 if anchor == "middle" else 0)
            box = (left, cy + dy - 11, left + w, cy + dy + 3)
            inside = box[0] >= ml - 2 and box[2] <= ml + pw + 2 and box[1] >= mt and box[3] <= mt + ph
            if inside and not _overlaps(box, boxes):
                break
        else:
            dx, dy, anchor = 10, 4, "start"
            left = cx + dx
            box = (left, cy + dy - 11, left + w, cy + dy + 3)
        boxes.append(box)
        labels.append(f'<text class="lbl{" strong" if p.front else ""}" x="{_f(cx + dx)}" '
                      f'y="{_f(cy + dy)}" text-anchor="{anchor}">{_e(text)}</text>')
    out.extend(labels)
    out.append("</svg>")
    return "".join(out)


def grouped_bars_svg(categories: Sequence[str], series: Sequence[str],
                     panels: Sequence[tuple[str, Sequence[Sequence[float | None]]]], *,
                     title: str = "", width: int = 900, x_max: float | None = 1.0) -> str:
    """Horizontal grouped bars: one cluster per category, one bar (colour) per series.

    Several panels (e.g. selection rate, true positive rate) sit side by side and share the
    category labels and the colour legend.

    Parameters
    ----------
    categories : sequence of str
        The clusters (e.g. methods), top to bottom.
    series : sequence of str
        The bars in each cluster (e.g. groups), with a colour legend.
    panels : sequence of (str, values)
        A title and ``values[i][j]`` (category ``i``, series ``j``) per panel; ``None`` or NaN
        draws no bar ("n/a").
    x_max : float, optional
        The right end of every panel's axis (1.0 for rates); ``None`` fits the data.
    """
    bar_h, gap_in, gap_out = 13, 2, 14
    label_w = min(230, max(90, int(max((len(c) for c in categories), default=8) * _CHAR_W) + 16))
    legend_rows = (_legend_rows(series, width - label_w - 20)
                   if len(series) > 1 or (series and series[0]) else [])
    y = 8
    out_top: list[str] = []
    if title:
        out_top.append(f'<text x="4" y="22" class="ttl">{_e(title)}</text>')
        y = 32
    for row in legend_rows:
        x = label_w
        for j, name in row:
            color = PALETTE[j % len(PALETTE)]
            out_top.append(f'<rect x="{_f(x)}" y="{y + 3}" width="12" height="12" rx="2" '
                           f'fill="{color}"/>')
            out_top.append(f'<text class="lbl" x="{_f(x + 17)}" y="{y + 13}">{_e(name)}</text>')
            x += 17 + len(name) * _CHAR_W + 18
        y += 20
    panel_title_h = 22
    plot_top = y + 6 + panel_title_h
    cluster_h = len(series) * (bar_h + gap_in) - gap_in
    plot_bottom = plot_top + len(categories) * (cluster_h + gap_out) - gap_out + 6
    height = plot_bottom + 26
    n_panels = max(1, len(panels))
    gutter = 40
    panel_w = (width - label_w - 10 - gutter * (n_panels - 1)) / n_panels
    value_w = 34  # room for the value printed after a full-length bar
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{_e(title or ", ".join(t for t, _ in panels) or "grouped bars")}">']
    out.extend(out_top)
    for k, (ptitle, values) in enumerate(panels):
        left = label_w + k * (panel_w + gutter)
        pw = panel_w - value_w
        finite = [v for row in values for v in row if v is not None and math.isfinite(v)]
        top = max(x_max if x_max is not None else 0.0, max(finite, default=0.0)) or 1.0
        ticks = nice_ticks(0.0, top, 4 if panel_w < 400 else 5)
        hi = ticks[-1] or 1.0

        def sx(v: float, left: float = left, pw: float = pw, hi: float = hi) -> float:
            return left + v / hi * pw

        out.append(f'<text class="ttl" x="{_f(left)}" y="{plot_top - 10}">{_e(ptitle)}</text>')
        for t in ticks:
            out.append(f'<line class="grid" x1="{_f(sx(t))}" x2="{_f(sx(t))}" y1="{plot_top - 4}" '
                       f'y2="{plot_bottom}"/>')
            out.append(f'<text class="tick" x="{_f(sx(t))}" y="{plot_bottom + 16}" '
                       f'text-anchor="middle">{_tick_label(t, ticks)}</text>')
        yy = plot_top
        for i, cat in enumerate(categories):
            if k == 0:
                room = int((label_w - 12) / _CHAR_W)
                text = cat if len(cat) <= room else cat[: room - 1] + "\u2026"
                out.append(f'<text class="lbl" x="{label_w - 8}" y="{_f(yy + cluster_h / 2 + 4)}" '
                           f'text-anchor="end"><title>{_e(cat)}</title>{_e(text)}</text>')
            row = values[i] if i < len(values) else []
            for j, name in enumerate(series):
                v = row[j] if j < len(row) else None
                if v is None or not math.isfinite(v):
                    out.append(f'<text class="tick muted" x="{_f(left + 4)}" y="{yy + bar_h - 2}">'
                               'n/a</text>')
                else:
                    w = max(0.0, sx(v) - left)
                    out.append(f'<g><title>{_e(cat)} \u2014 {_e(name)}: {v:.3f}</title>'
                               f'<rect x="{_f(left)}" y="{yy}" width="{_f(w)}" height="{bar_h}" '
                               f'rx="2" fill="{PALETTE[j % len(PALETTE)]}"/></g>')
                    out.append(f'<text class="tick" x="{_f(left + w + 4)}" y="{yy + bar_h - 2}">'
                               f'{v:.2f}</text>')
                yy += bar_h + gap_in
            yy += gap_out - gap_in
        out.append(f'<line class="axis" x1="{_f(left)}" x2="{_f(left)}" y1="{plot_top - 4}" '
                   f'y2="{plot_bottom}"/>')
    out.append("</svg>")
    return "".join(out)


def _legend_rows(series: Sequence[str], width: float) -> list[list[tuple[int, str]]]:
    rows: list[list[tuple[int, str]]] = [[]]
    used = 0.0
    for j, name in enumerate(series):
        w = 17 + len(name) * _CHAR_W + 18
        if rows[-1] and used + w > width:
            rows.append([])
            used = 0.0
        rows[-1].append((j, name))
        used += w
    return rows if rows[0] else []


def attribution_bars_svg(items: Sequence[tuple[str, float]], *, title: str = "",
                         width: int = 620, signed: bool = True) -> str:
    """Horizontal bars of feature attributions (or importances), largest first.

    Positive values point right in red (towards the predicted class), negative left in blue;
    with ``signed=False`` all bars point right in the first palette colour.
    """
    items = [(str(k), float(v)) for k, v in items if v is not None and math.isfinite(float(v))]
    bar_h, gap = 16, 6
    label_w = min(240, max(80, int(max((len(k) for k, _ in items), default=6) * _CHAR_W) + 16))
    mt = 30 if title else 8
    height = mt + max(1, len(items)) * (bar_h + gap) + 4
    ml, mr = label_w, 8
    pw = width - ml - mr
    m = max((abs(v) for _, v in items), default=1.0) or 1.0
    neg = signed and any(v < 0 for _, v in items)
    value_w = 52  # room for the printed value beyond the longest bar
    zero = ml + (pw / 2 if neg else 0)
    scale = ((pw / 2 if neg else pw) - value_w) / m
    out = [f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" '
           f'style="max-width:{width}px" aria-label="{_e(title or "attributions")}">']
    if title:
        out.append(f'<text x="4" y="20" class="ttl">{_e(title)}</text>')
    if not items:
        out.append(f'<text class="lbl muted" x="{ml}" y="{mt + 14}">no attributions</text>')
    y = mt
    for k, v in items:
        text = k if len(k) * _CHAR_W <= label_w - 12 else k[: int((label_w - 12) / _CHAR_W) - 1] + "\u2026"
        color = (_POS if v >= 0 else _NEG) if signed else PALETTE[0]
        w = abs(v) * scale
        x = zero if v >= 0 else zero - w
        out.append(f'<text class="lbl" x="{ml - 8}" y="{y + bar_h - 4}" text-anchor="end">'
                   f'<title>{_e(k)}</title>{_e(text)}</text>')
        out.append(f'<g><title>{_e(k)}: {v:+.4g}</title><rect x="{_f(x)}" y="{y}" '
                   f'width="{_f(max(w, 0.5))}" height="{bar_h}" rx="2" fill="{color}"/></g>')
        tx, anchor = (x + w + 4, "start") if v >= 0 else (x - 4, "end")
        out.append(f'<text class="tick" x="{_f(tx)}" y="{y + bar_h - 4}" text-anchor="{anchor}">'
                   f'{v:+.3g}</text>' if signed else
                   f'<text class="tick" x="{_f(tx)}" y="{y + bar_h - 4}">{v:.3g}</text>')
        y += bar_h + gap
    out.append(f'<line class="axis" x1="{_f(zero)}" x2="{_f(zero)}" y1="{mt - 4}" y2="{y}"/>')
    out.append("</svg>")
    return "".join(out)
