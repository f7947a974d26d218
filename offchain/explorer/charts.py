"""Charts as inline SVG, built by hand (no plotting library, no script, nothing fetched).

Every label is escaped: names and ids come from the chain or from a package's roster, and a
contributor called ``<script>`` must stay text.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 640
BAR_HEIGHT = 22


def _fmt(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.4g}"


def columns(points: Sequence[tuple[str, float]], *, title: str, unit: str = "",
            height: int = 180) -> Markup:
    """Vertical bars over a sequence (records per day, earnings per epoch)."""
    if not points:
        return Markup('<p class="muted">no data yet</p>')
    top = max(max(v for _, v in points), 1e-18)
    left, bottom, plot_h = 72, 36, height - 56
    step = (WIDTH - left - 8) / len(points)
    bar_w = max(2.0, step * 0.75)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}">',
             f'<title>{escape(title)}</title>',
             f'<text x="{left}" y="14" class="chart-title">{escape(title)}</text>',
             f'<line x1="{left}" y1="{20 + plot_h}" x2="{WIDTH - 4}" y2="{20 + plot_h}" '
             'class="axis"/>',
             f'<text x="{left - 4}" y="26" text-anchor="end" class="tick">'
             f'{escape(_fmt(top))}</text>',
             f'<text x="{left - 4}" y="{20 + plot_h}" text-anchor="end" class="tick">0</text>']
    label_every = max(1, len(points) // 8)
    for i, (label, value) in enumerate(points):
        h = plot_h * value / top
        x = left + i * step + (step - bar_w) / 2
        y = 20 + plot_h - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                     f'class="bar"><title>{escape(label)}: {escape(_fmt(value))}'
                     f'{escape(unit)}</title></rect>')
        if i % label_every == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 30}" '
                         f'text-anchor="middle" class="tick">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(points: Sequence[tuple[str, float]], *, title: str, unit: str = "") -> Markup:
    """Horizontal bars, one per labelled item (attribution per contributor)."""
    if not points:
        return Markup('<p class="muted">no data yet</p>')
    top = max(max(v for _, v in points), 1e-18)
    label_w, pad = 200, 4
    height = 24 + len(points) * (BAR_HEIGHT + pad)
    plot_w = WIDTH - label_w - 90
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}">',
             f'<title>{escape(title)}</title>',
             f'<text x="0" y="14" class="chart-title">{escape(title)}</text>']
    for i, (label, value) in enumerate(points):
        y = 22 + i * (BAR_HEIGHT + pad)
        w = plot_w * value / top
        shown = label if len(label) <= 28 else label[:12] + "…" + label[-10:]
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" class="tick">'
                     f'{escape(shown)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{BAR_HEIGHT}" '
                     f'class="bar"><title>{escape(label)}: {escape(_fmt(value))}'
                     f'{escape(unit)}</title></rect>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" class="tick">'
                     f'{escape(_fmt(value))}{escape(unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
