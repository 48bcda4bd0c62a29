"""A deployment timeline drawn on the server as SVG: one lane per endpoint, one bar per
time a version served it. The page's template draws what `layout` computes."""

import datetime
from dataclasses import dataclass

from django.utils import timezone

WIDTH = 1000
LABEL_WIDTH = 260
RIGHT_MARGIN = 16
AXIS_HEIGHT = 28
LANE_HEIGHT = 30
BAR_HEIGHT = 20
TICKS = 6
# Distinct, print-safe colours, one per version (cycled).
PALETTE = ["#0b5cad", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#0a7b83", "#bc4c00",
           "#57606a"]


@dataclass
class Bar:
    lane: str
    start: datetime.datetime
    end: datetime.datetime | None  # None: still running
    label: str
    title: str
    colour_key: str


def _ticks(start, end):
    span = end - start
    fmt = "%Y-%m-%d" if span >= datetime.timedelta(days=3) else "%m-%d %H:%M"
    return [(start + span * index / (TICKS - 1), fmt) for index in range(TICKS)]


def layout(bars, now=None):
    """What the SVG shows for `bars`, or None when there is nothing to draw."""
    if not bars:
        return None
    now = now or timezone.now()
    start = min(bar.start for bar in bars)
    end = max(max(bar.end or now for bar in bars), now)
    if end - start < datetime.timedelta(hours=1):
        end = start + datetime.timedelta(hours=1)
    plot = WIDTH - LABEL_WIDTH - RIGHT_MARGIN
    seconds = (end - start).total_seconds()

    def x(moment):
        return LABEL_WIDTH + plot * (moment - start).total_seconds() / seconds

    lanes, colours = {}, {}
    for bar in sorted(bars, key=lambda bar: bar.start):
        lanes.setdefault(bar.lane, len(lanes))
        colours.setdefault(bar.colour_key, PALETTE[len(colours) % len(PALETTE)])
    rects = []
    for bar in bars:
        left = x(bar.start)
        width = max(x(bar.end or now) - left, 3)
        top = AXIS_HEIGHT + lanes[bar.lane] * LANE_HEIGHT + (LANE_HEIGHT - BAR_HEIGHT) / 2
        rects.append({
            "x": round(left, 1), "y": round(top, 1), "width": round(width, 1),
            "height": BAR_HEIGHT, "colour": colours[bar.colour_key], "title": bar.title,
            "label": bar.label if width > 8 * len(bar.label) + 6 else "",
            "text_x": round(left + 4, 1), "text_y": round(top + BAR_HEIGHT - 6, 1),
            "running": bar.end is None,
        })
    height = AXIS_HEIGHT + len(lanes) * LANE_HEIGHT + 8
    return {
        "width": WIDTH, "height": height, "rects": rects,
        # Endpoints share their start (https://host/...): the end tells them apart.
        "lanes": [{"label": lane if len(lane) <= 40 else "…" + lane[-39:], "full": lane,
                   "y": AXIS_HEIGHT + index * LANE_HEIGHT + LANE_HEIGHT / 2 + 4}
                  for lane, index in lanes.items()],
        "ticks": [{"x": round(x(moment), 1), "label": moment.strftime(fmt)}
                  for moment, fmt in _ticks(start, end)],
        "now_x": round(x(now), 1), "axis_y": AXIS_HEIGHT - 4, "plot_left": LABEL_WIDTH,
        "legend": list(colours.items()),
    }
