"""A deployment timeline drawn on the server as SVG: one lane per endpoint, one bar per
time a version served it. The page's template draws what `layout` computes, and lists the
same bars in a table (for screen readers, and for anyone who wants the exact times).

- The window ends now, never later; it starts at the first bar, or at `since` (a "recent"
  range), and bars before it are left out, bars across its start are cut at it.
- A version has the same colour on every page: its colour follows its number.
- Every bar carries its label (inside when it fits, after it when it does not).
"""

import datetime
from dataclasses import dataclass, field

from django.utils import timezone

WIDTH = 1000
LABEL_WIDTH = 260
RIGHT_MARGIN = 16
AXIS_HEIGHT = 28
LANE_HEIGHT = 30
BAR_HEIGHT = 20
TICKS = 6
CHARACTER_WIDTH = 7
# Distinct, print-safe colours, one per version number (cycled).
PALETTE = ["#0b5cad", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#0a7b83", "#bc4c00",
           "#57606a"]

# The ranges a page offers: key -> (label, how far back from now; None: all of it).
RANGES = {
    "recent": ("recent", None),
    "30d": ("30 days", datetime.timedelta(days=30)),
    "1y": ("1 year", datetime.timedelta(days=365)),
    "all": ("all", None),
}
DEFAULT_RANGE = "recent"
# "recent": from a little before the latest changes (the last RECENT_CHANGES starts).
RECENT_CHANGES = 3


@dataclass
class Bar:
    lane: str
    start: datetime.datetime
    end: datetime.datetime | None  # None: still running
    label: str
    title: str
    colour_key: str
    # The version's number: its colour everywhere. None: a colour per colour_key, in order.
    number: int | None = None
    details: dict = field(default_factory=dict)  # extra cells of the table equivalent


def colour_of(number):
    return PALETTE[(number - 1) % len(PALETTE)]


def window(bars, range_key, now):
    """(since, until) of a range: None for "from the first bar" and "to now".

    "recent" zooms on the latest changes: from a little before the last RECENT_CHANGES
    starts to a little after the last start or stop, so that a short run between long ones
    is as wide as it deserves (bars that run on are marked as doing so)."""
    label, span = RANGES.get(range_key, RANGES[DEFAULT_RANGE])
    if span is not None:
        return now - span, None
    if range_key != "recent" or not bars:
        return None, None
    starts = sorted({bar.start for bar in bars}, reverse=True)
    first = starts[min(RECENT_CHANGES, len(starts)) - 1]
    last = max(max(bar.start, bar.end or bar.start) for bar in bars)
    pad = max((last - first) / 8, datetime.timedelta(hours=1))
    since = first - pad if len(starts) > RECENT_CHANGES else None
    until = last + pad if last + pad < now else None
    return since, until


def _ticks(start, end):
    span = end - start
    fmt = "%Y-%m-%d" if span >= datetime.timedelta(days=3) else "%m-%d %H:%M"
    return [(start + span * index / (TICKS - 1), fmt) for index in range(TICKS)]


def layout(bars, now=None, since=None, until=None):
    """What the SVG shows for `bars` from `since` (default: the first bar) to `until`
    (default, and at the latest: now), or None when there is nothing to draw."""
    if not bars:
        return None
    now = now or timezone.now()
    bars = [bar for bar in bars if since is None or (bar.end or now) > since]
    if not bars:
        return {"empty": True}
    start = min(bar.start for bar in bars)
    if since is not None:
        start = max(start, since)
    end = min(until, now) if until is not None else now
    if end - start < datetime.timedelta(hours=1):
        start = end - datetime.timedelta(hours=1)
    plot = WIDTH - LABEL_WIDTH - RIGHT_MARGIN
    seconds = (end - start).total_seconds()

    def x(moment):
        moment = min(max(moment, start), end)
        return LABEL_WIDTH + plot * (moment - start).total_seconds() / seconds

    lanes, colours = {}, {}
    for bar in sorted(bars, key=lambda bar: bar.start):
        lanes.setdefault(bar.lane, len(lanes))
        colours.setdefault(bar.colour_key, colour_of(bar.number) if bar.number
                           else PALETTE[len(colours) % len(PALETTE)])
    rects = []
    for bar in sorted(bars, key=lambda bar: (lanes[bar.lane], bar.start)):
        left = x(bar.start)
        width = max(x(bar.end or now) - left, 3)
        top = AXIS_HEIGHT + lanes[bar.lane] * LANE_HEIGHT + (LANE_HEIGHT - BAR_HEIGHT) / 2
        label_width = CHARACTER_WIDTH * (len(bar.label) + 2)
        inside = width > label_width + 8
        # Outside: after the bar, or before it when the bar ends at the right edge.
        after = left + width + 3 + label_width <= WIDTH
        text_x = left + 4 if inside else (left + width + 3 if after else left - 3)
        rects.append({
            "x": round(left, 1), "y": round(top, 1), "width": round(width, 1),
            "height": BAR_HEIGHT, "colour": colours[bar.colour_key], "title": bar.title,
            "label": bar.label, "label_inside": inside,
            "anchor": "start" if inside or after else "end", "text_x": round(text_x, 1),
            "text_y": round(top + BAR_HEIGHT - 6, 1),
            "running": bar.end is None, "cut": bar.start < start,
            "runs_on": (bar.end or now) > end,
            "lane": bar.lane, "start": bar.start, "end": bar.end, "details": bar.details,
        })
    height = AXIS_HEIGHT + len(lanes) * LANE_HEIGHT + 8
    return {
        "width": WIDTH, "height": height, "rects": rects,
        # Endpoints share their start (https://host/...): the end tells them apart.
        "lanes": [{"label": lane if len(lane) <= 36 else "…" + lane[-35:], "full": lane,
                   "y": AXIS_HEIGHT + index * LANE_HEIGHT + LANE_HEIGHT / 2 + 4}
                  for lane, index in lanes.items()],
        "ticks": [{"x": round(x(moment), 1), "label": moment.strftime(fmt)}
                  for moment, fmt in _ticks(start, end)],
        "now_x": round(x(now), 1) if end == now else None,
        "axis_y": AXIS_HEIGHT - 4, "plot_left": LABEL_WIDTH,
        "legend": list(colours.items()), "start": start, "end": end,
        "cut": since is not None and any(rect["cut"] for rect in rects),
    }
