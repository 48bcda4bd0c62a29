"""The deployment timeline's layout: lanes per endpoint, bars in time, one colour per version."""

import datetime

from mlportal.pages.timeline import LABEL_WIDTH, WIDTH, Bar, layout

UTC = datetime.UTC
NOW = datetime.datetime(2024, 1, 31, tzinfo=UTC)


def day(number):
    return datetime.datetime(2024, 1, number, tzinfo=UTC)


def test_nothing_to_draw():
    assert layout([], now=NOW) is None


def test_bars_sit_in_their_endpoints_lane_in_time_order():
    drawn = layout([
        Bar("https://prod", day(1), day(11), "v1", "v1 at prod", "v1"),
        Bar("https://prod", day(11), None, "v2", "v2 at prod", "v2"),
        Bar("https://staging", day(6), day(21), "v2", "v2 at staging", "v2"),
    ], now=NOW)

    assert [lane["label"] for lane in drawn["lanes"]] == ["https://prod", "https://staging"]
    first, second, staging = drawn["rects"]
    assert first["x"] == LABEL_WIDTH
    assert first["x"] + first["width"] == second["x"]
    assert round(second["x"] + second["width"]) == round(drawn["now_x"]) == WIDTH - 16
    assert second["running"] and not first["running"]
    assert first["y"] == second["y"] < staging["y"]
    assert second["colour"] == staging["colour"] != first["colour"]
    assert drawn["legend"] == [("v1", first["colour"]), ("v2", second["colour"])]
    assert [drawn["ticks"][0]["label"], drawn["ticks"][-1]["label"]] == [
        "2024-01-01", "2024-01-31"]


def test_a_bar_too_short_for_its_label_goes_without():
    drawn = layout([Bar("https://prod", day(1), day(30), "v1", "", "v1"),
                    Bar("https://prod", day(30), day(30), "v2", "", "v2")], now=NOW)

    assert [rect["label"] for rect in drawn["rects"]] == ["v1", ""]
    assert drawn["rects"][1]["width"] == 3
