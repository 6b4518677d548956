#!/usr/bin/env python3
"""Draws committed records/s and p99 call latency against offered load as an SVG.

Usage: throughput-chart.py TSV SVG, where TSV is what scripts/throughput-sweep.sh writes
(clients, records_per_s, p50_ms, p99_ms, node_cores, one line per client count). The client
counts are spaced evenly along the x axis; records/s is read on the left axis, p99 on the right.
"""

import csv
import sys

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 70, 570, 30, 310
TICKS = 5
RATE, LATENCY = "#1f5fbf", "#c0392b"


def nice_ceiling(value):
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least `value`."""
    power = 1
    while power * 10 <= value:
        power *= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def chart(rows):
    clients = [r["clients"] for r in rows]
    rates = [float(r["records_per_s"]) for r in rows]
    p99s = [float(r["p99_ms"]) for r in rows]
    rate_top, latency_top = nice_ceiling(max(rates)), nice_ceiling(max(p99s))
    step = (RIGHT - LEFT) / max(len(rows) - 1, 1)
    xs = [LEFT + i * step for i in range(len(rows))]

    def y(value, top):
        return BOTTOM - (BOTTOM - TOP) * value / top

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-size="14">One dev node: '
        "committed records/s and p99 latency against offered load (consents, calls of 1,000)"
        "</text>",
        f'<line x1="{LEFT}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}" stroke="black"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{BOTTOM}" stroke="black"/>',
        f'<line x1="{RIGHT}" y1="{TOP}" x2="{RIGHT}" y2="{BOTTOM}" stroke="black"/>',
    ]
    for x, n in zip(xs, clients):
        out.append(f'<text x="{x:.1f}" y="{BOTTOM + 16}" text-anchor="middle">{n}</text>')
    out.append(
        f'<text x="{(LEFT + RIGHT) / 2}" y="{BOTTOM + 38}" text-anchor="middle">'
        "clients, one call in flight each</text>"
    )
    for i in range(TICKS + 1):
        rate, latency = rate_top * i / TICKS, latency_top * i / TICKS
        ty = y(i, TICKS) + 4
        out.append(f'<text x="{LEFT - 6}" y="{ty:.1f}" text-anchor="end">{rate / 1000:g}k</text>')
        out.append(f'<text x="{RIGHT + 6}" y="{ty:.1f}">{latency:g} ms</text>')
    mid = (TOP + BOTTOM) / 2
    out.append(
        f'<text x="16" y="{mid}" transform="rotate(-90 16 {mid})" text-anchor="middle" '
        f'fill="{RATE}">records/s</text>'
    )
    out.append(
        f'<text x="{WIDTH - 12}" y="{mid}" transform="rotate(90 {WIDTH - 12} {mid})" '
        f'text-anchor="middle" fill="{LATENCY}">p99 latency</text>'
    )
    for values, top, colour, dash in (
        (rates, rate_top, RATE, ""),
        (p99s, latency_top, LATENCY, ' stroke-dasharray="5,3"'),
    ):
        points = " ".join(f"{x:.1f},{y(v, top):.1f}" for x, v in zip(xs, values))
        out.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{points}"/>'
        )
        out.extend(
            f'<circle cx="{x:.1f}" cy="{y(v, top):.1f}" r="3" fill="{colour}"/>'
            for x, v in zip(xs, values)
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows:
        sys.exit(f"{sys.argv[1]}: no rows")
    with open(sys.argv[2], "w") as f:
        f.write(chart(rows))


if __name__ == "__main__":
    main()
