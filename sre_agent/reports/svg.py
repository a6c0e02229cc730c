"""Inline SVG charts for self-contained HTML reports: no scripts, no fonts, no network; every text escaped.

Charts are plain ``<svg>`` strings sized in CSS pixels (they scale with the page and print as vectors). Colours
are the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies), grey for "other".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
GREYS = ("#9E9E9E", "#5F5F5F", "#C8C8C8", "#7B7B7B")
"""Series whose name is in parentheses ("(other)", "(serverless)"…) are not owners: shades of grey."""
WIDTH = 760


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value``."""
    if value <= 0:
        return 1.0
    magnitude = float(10 ** len(str(int(value)))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:,.2f}".rstrip("0").rstrip(".")


def _grid(left: int, right: int, base: int, height: int, top: float, bottom: float = 0.0) -> str:
    """Five horizontal grid lines with their values on the left axis (from ``bottom``, 0 unless negative values)."""
    out = []
    for k in range(5):
        y = base - height * k / 4
        out.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        label = _fmt(bottom + (top - bottom) * k / 4)
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{label}</text>')
    return "".join(out)


def colour(i: int, name: str) -> str:
    """The series colour of the ``i``-th series (a shade of grey for "(other)"-like names)."""
    return GREYS[i % len(GREYS)] if name.startswith("(") else PALETTE[i % len(PALETTE)]


def _legend(names: Sequence[str], y: int) -> str:
    out, x = [], 50
    for i, name in enumerate(names):
        out.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{colour(i, name)}"/>')
        out.append(f'<text x="{x + 14}" y="{y + 9}" font-size="11">{escape(name)}</text>')
        x += 26 + 8 * len(name)
        if x > WIDTH - 120:
            x, y = 50, y + 16
    return "".join(out)


def stacked_bars(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    unit: str,
    title: str,
    gaps: Sequence[bool] = (),
) -> str:
    """One stacked bar per label (a day); ``gaps[i]`` draws a hatched gap (no data), a column of ``None`` nothing
    (not yet)."""
    n = max(1, len(labels))
    totals = [sum(v[i] or 0.0 for v in series.values()) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0.0))
    plot_h, left, base = 200, 50, 230
    bar_w = (WIDTH - left - 10) / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {base + 40 + 16 * (len(series) // 6 + 1)}" '
        f'role="img" class="chart"><title>{escape(title)}</title>',
        '<defs><pattern id="gap" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#bbb" stroke-width="2"/></pattern></defs>',
    ]
    for k in range(5):
        y = base - plot_h * k / 4
        parts.append(f'<line x1="{left}" x2="{WIDTH - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{_fmt(top * k / 4)}</text>'
        )
    parts.append(f'<text x="4" y="12" font-size="11">{escape(unit)}</text>')
    names = list(series)
    for i, label in enumerate(labels):
        x = left + i * bar_w
        if i < len(gaps) and gaps[i]:
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{base - plot_h}" width="{max(1.0, bar_w - 2):.1f}" height="{plot_h}" '
                f'fill="url(#gap)"><title>{escape(label)}: no data</title></rect>'
            )
        elif any(series[s][i] is not None for s in names):
            y = float(base)
            for j, name in enumerate(names):
                value = series[name][i] or 0.0
                h = plot_h * value / top
                if h <= 0:
                    continue
                y -= h
                tip = f"{label} {name}: {_fmt(value)} {unit}"
                parts.append(
                    f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(1.0, bar_w - 2):.1f}" height="{h:.1f}" '
                    f'fill="{colour(j, name)}"><title>{escape(tip)}</title></rect>'
                )
        if n <= 16 or i % max(1, n // 10) == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{base + 14}" font-size="10" text-anchor="middle">'
                f"{escape(label[-5:])}</text>"
            )
    parts.append(_legend(names, base + 26))
    parts.append("</svg>")
    return "".join(parts)


def hbars(labels: Sequence[str], values: Sequence[float], unit: str, title: str) -> str:
    """Horizontal bars, largest first as given (labels are truncated to 40 characters, escaped)."""
    row_h, left = 20, 300
    top = _nice_max(max(values, default=0.0))
    height = row_h * len(labels) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" class="chart">'
        f"<title>{escape(title)}</title>"
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 10 + i * row_h
        w = (WIDTH - left - 90) * value / top
        short = label if len(label) <= 40 else label[:39] + "…"
        parts.append(f'<text x="{left - 6}" y="{y + 13}" font-size="11" text-anchor="end">{escape(short)}</text>')
        parts.append(
            f'<rect x="{left}" y="{y + 2}" width="{max(0.5, w):.1f}" height="{row_h - 6}" fill="{PALETTE[0]}">'
            f"<title>{escape(label)}: {_fmt(value)} {escape(unit)}</title></rect>"
        )
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 13}" font-size="11">{_fmt(value)} {escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def budget_chart(
    days: Sequence[str], spent: Sequence[float], amount: float, forecast: float | None, unit: str, title: str
) -> str:
    """Cumulative spend by day (solid), the straight path to the forecast at the period's end (dashed) and the
    amount (red line): budget vs actual vs forecast."""
    n = max(1, len(days))
    top = _nice_max(max([amount, forecast or 0.0, *spent]) * 1.05)
    plot_h, left, base = 150, 60, 175
    step = (WIDTH - left - 20) / n

    def xy(i: float, v: float) -> str:
        return f"{left + i * step:.1f},{base - plot_h * v / top:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {base + 30}" role="img" class="chart">'
        f"<title>{escape(title)}</title>"
    ]
    for k in range(5):
        y = base - plot_h * k / 4
        parts.append(f'<line x1="{left}" x2="{WIDTH - 20}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{_fmt(top * k / 4)}</text>'
        )
    amount_y = base - plot_h * amount / top
    parts.append(
        f'<line x1="{left}" x2="{WIDTH - 20}" y1="{amount_y:.1f}" y2="{amount_y:.1f}" stroke="#D55E00" '
        f'stroke-width="2"><title>budget {_fmt(amount)} {escape(unit)}</title></line>'
    )
    parts.append(
        f'<text x="{WIDTH - 22}" y="{amount_y - 4:.1f}" font-size="10" text-anchor="end" fill="#D55E00">'
        f"budget {_fmt(amount)}</text>"
    )
    points = [xy(0, 0.0)] + [xy(i + 1, v) for i, v in enumerate(spent)]
    parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{PALETTE[0]}" stroke-width="2.5"/>')
    if forecast is not None and spent:
        parts.append(
            f'<polyline points="{xy(len(spent), spent[-1])} {xy(n, forecast)}" fill="none" stroke="{PALETTE[0]}" '
            f'stroke-width="2" stroke-dasharray="6 4"><title>forecast {_fmt(forecast)} {escape(unit)}</title>'
            "</polyline>"
        )
        label_y = base - plot_h * forecast / top - 4
        if abs(label_y - (amount_y - 4)) < 12:  # keep clear of the budget's label
            label_y = max(label_y, amount_y - 4) + 14
        parts.append(f'<text x="{WIDTH - 22}" y="{label_y:.1f}" font-size="10" '
                     f'text-anchor="end">forecast {_fmt(forecast)}</text>')  # fmt: skip
    for i, day in enumerate(days):
        if n <= 16 or i % max(1, n // 8) == 0:
            parts.append(
                f'<text x="{left + (i + 1) * step:.1f}" y="{base + 14}" font-size="10" text-anchor="middle">'
                f"{escape(day[-5:])}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    unit: str,
    title: str,
    limit: float | None = None,
    limit_label: str = "",
    band: tuple[int, int, str] | None = None,
) -> str:
    """One line per series, a point per label (``None`` breaks the line: no data), an optional horizontal
    ``limit`` (red, labelled ``limit_label``) such as 100 % of an error budget, and an optional shaded ``band``
    (first index, last index, label) such as an incident's impact window. Points get a marker with a tooltip up to
    120 labels; longer series are drawn as lines only (the file stays small)."""
    n = max(1, len(labels))
    values = [v for s in series.values() for v in s if v is not None]
    top = _nice_max(max([*values, limit or 0.0, 0.0]) * 1.05)
    low = min([*values, limit or 0.0, 0.0])
    bottom = -_nice_max(-low * 1.05) if low < 0 else 0.0  # budgets left can be overspent (negative)
    plot_h, left, base, right = 150, 60, 175, WIDTH - 20
    step = (right - left) / max(1, n - 1)

    def y_of(value: float) -> float:
        return base - plot_h * (value - bottom) / (top - bottom)

    names = list(series)
    legend = len(names) > 1
    height = base + 30 + (16 * (len(names) // 6 + 1) if legend else 0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" class="chart">'
        f"<title>{escape(title)}</title>",
        _grid(left, right, base, plot_h, top, bottom),
        f'<text x="4" y="12" font-size="11">{escape(unit)}</text>',
    ]
    if band is not None:
        x0, x1 = left + band[0] * step, left + band[1] * step
        parts.append(
            f'<rect x="{x0:.1f}" y="{base - plot_h}" width="{max(x1 - x0, 1.0):.1f}" height="{plot_h}" '
            f'fill="#D55E00" fill-opacity="0.12"><title>{escape(band[2])}</title></rect>'
            f'<text x="{x0 + 3:.1f}" y="{base - plot_h + 11}" font-size="10" fill="#9a3b00">{escape(band[2])}</text>'
        )
    if limit is not None:
        y = y_of(limit)
        parts.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#D55E00" stroke-width="2">'
            f"<title>{escape(limit_label)}</title></line>"
            f'<text x="{right - 2}" y="{y - 4:.1f}" font-size="10" text-anchor="end" fill="#D55E00">'
            f"{escape(limit_label)}</text>"
        )
    for j, name in enumerate(names):
        runs: list[list[str]] = [[]]
        for i, value in enumerate(series[name]):
            if value is None:
                runs.append([])
                continue
            runs[-1].append(f"{left + i * step:.1f},{y_of(value):.1f}")
            if n > 120:
                continue
            tip = f"{labels[i]} {name}: {_fmt(value)} {unit}"
            parts.append(
                f'<circle cx="{left + i * step:.1f}" cy="{y_of(value):.1f}" r="2.5" '
                f'fill="{colour(j, name)}"><title>{escape(tip)}</title></circle>'
            )
        for run in runs:
            if len(run) > 1:
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour(j, name)}" stroke-width="2.5"/>'
                )
            elif run and n > 120:  # an isolated point of a long series (no marker was drawn): a dot
                cx, cy = run[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="1.8" fill="{colour(j, name)}"/>')
    for i, label in enumerate(labels):
        if n <= 16 or i % max(1, n // 8) == 0:
            parts.append(
                f'<text x="{left + i * step:.1f}" y="{base + 14}" font-size="10" text-anchor="middle">'
                f"{escape(label[-5:])}</text>"
            )
    if legend:
        parts.append(_legend(names, base + 26))
    parts.append("</svg>")
    return "".join(parts)
