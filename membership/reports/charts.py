"""Charts as inline SVG, drawn on the server from the figures the page already shows.

No JavaScript and nothing from a CDN: the page stays readable offline, in a print-out and
with scripts blocked. Each chart carries a ``<title>`` per bar or point, so hovering
(or a screen reader) gives the exact figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 70, 10, 10, 40
COLOURS = {"once": "#6b8fb3", "monthly": "#2f5d8a", "annual": "#c7893a"}


def stacked_bars(
    labels: Sequence[str],
    series: dict[str, Sequence[int]],
    *,
    title: str,
    format_value: Callable[[int], str] = str,
) -> Markup:
    """Bars per label, stacked by series (say net revenue per month by frequency)."""
    totals = [sum(max(values[i], 0) for values in series.values()) for i in range(len(labels))]
    top = max([*totals, 1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels), 1)
    parts = [_axis(top, format_value)]
    for i, label in enumerate(labels):
        x = LEFT + i * step
        y = float(TOP + plot_h)
        for name, values in series.items():
            value = max(values[i], 0)
            height = plot_h * value / top
            y -= height
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{step - 2:.1f}" height="{height:.1f}" '
                f'fill="{COLOURS.get(name, "#888")}"><title>{escape(label)} {escape(name)}: '
                f"{escape(format_value(values[i]))}</title></rect>"
            )
        parts.append(_x_label(i, label, x + step / 2, len(labels)))
    legend = "".join(
        f'<rect x="{LEFT + 110 * n}" y="{HEIGHT - 14}" width="10" height="10" '
        f'fill="{COLOURS.get(name, "#888")}"/>'
        f'<text x="{LEFT + 110 * n + 14}" y="{HEIGHT - 5}">{escape(name)}</text>'
        for n, name in enumerate(series)
    )
    return _svg(title, "".join(parts) + legend)


def line(
    labels: Sequence[str],
    values: Sequence[int],
    *,
    title: str,
    format_value: Callable[[int], str] = str,
) -> Markup:
    """One line over labels (say active recurring supporters at each month's end)."""
    top = max([*values, 1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels), 1)
    points = [
        (LEFT + i * step + step / 2, TOP + plot_h - plot_h * max(v, 0) / top)
        for i, v in enumerate(values)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    parts = [
        _axis(top, format_value),
        f'<polyline fill="none" stroke="#2f5d8a" stroke-width="2" points="{path}"/>',
    ]
    for i, ((x, y), label) in enumerate(zip(points, labels, strict=True)):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#2f5d8a"><title>{escape(label)}: '
            f"{escape(format_value(values[i]))}</title></circle>"
        )
        parts.append(_x_label(i, label, x, len(labels)))
    return _svg(title, "".join(parts))


def _axis(top: int, format_value: Callable[[int], str]) -> str:
    bottom = HEIGHT - BOTTOM
    return (
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#999"/>'
        f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" stroke="#999"/>'
        f'<text x="{LEFT - 4}" y="{TOP + 10}" text-anchor="end">{escape(format_value(top))}</text>'
        f'<text x="{LEFT - 4}" y="{bottom}" text-anchor="end">0</text>'
    )


def _x_label(i: int, label: str, x: float, count: int) -> str:
    every = max(count // 8, 1)
    if i % every:
        return ""
    return (
        f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">{escape(label)}</text>'
    )


def _svg(title: str, body: str) -> Markup:
    return Markup(  # noqa: S704  (every value inside was escaped above)
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'class="chart" font-size="11" font-family="sans-serif">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )
