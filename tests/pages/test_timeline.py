"""The deployment timeline's layout: lanes per endpoint, bars in time, one colour per version."""

import datetime

from mlportal.pages.timeline import LABEL_WIDTH, WIDTH, Bar, colour_of, layout, window

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


def test_a_bar_too_short_for_its_label_carries_it_beside_it():
    drawn = layout([Bar("https://prod", day(1), day(29), "v1", "", "v1"),
                    Bar("https://prod", day(29), day(29), "v2", "", "v2")], now=NOW)

    first, short = drawn["rects"]
    assert [rect["label"] for rect in drawn["rects"]] == ["v1", "v2"]
    assert first["label_inside"] and not short["label_inside"]
    assert short["width"] == 3 and short["text_x"] == short["x"] + 3 + 3


def test_the_axis_never_runs_into_the_future():
    drawn = layout([Bar("https://prod", NOW - datetime.timedelta(minutes=5), None, "v1", "",
                        "v1")], now=NOW)
    assert drawn["end"] == NOW and drawn["now_x"] == WIDTH - 16
    assert drawn["ticks"][-1]["label"] == NOW.strftime("%m-%d %H:%M")


def test_a_version_has_the_same_colour_whatever_else_is_drawn():
    alone = layout([Bar("a", day(1), None, "v3", "", "v3", number=3)], now=NOW)
    among = layout([Bar("a", day(1), day(2), "v1", "", "v1", number=1),
                    Bar("b", day(2), None, "v3", "", "x v3", number=3)], now=NOW)
    assert alone["rects"][0]["colour"] == among["rects"][1]["colour"] == colour_of(3)
    assert among["rects"][0]["colour"] == colour_of(1) != colour_of(3)


def test_recent_zooms_on_the_latest_changes_and_ends_before_now():
    bars = [Bar("e", datetime.datetime(2020, 1, 1, tzinfo=UTC), day(1), "v1", "", "v1", 1),
            Bar("e", day(1), day(3), "v2", "", "v2", 2),
            Bar("e", day(3), day(5), "v3", "", "v3", 3),
            Bar("e", day(5), None, "v2", "", "v2", 2)]
    since, until = window(bars, "recent", NOW)
    assert since is not None and day(1) - datetime.timedelta(days=1) < since < day(1)
    assert day(5) < until < NOW

    drawn = layout(bars, now=NOW, since=since, until=until)
    assert drawn["now_x"] is None
    first, *_, last = drawn["rects"]
    assert first["cut"] and last["runs_on"]
    # The two-day run of v3 is drawn wide enough to read, not as a sliver.
    assert drawn["rects"][2]["width"] > 100


def test_a_range_leaves_out_what_ended_before_it():
    bars = [Bar("e", day(1), day(2), "v1", "", "v1", 1), Bar("e", day(20), None, "v2", "", "v2", 2)]
    since, until = window(bars, "30d", day(31))
    drawn = layout(bars, now=day(31), since=day(25), until=until)
    assert [rect["label"] for rect in drawn["rects"]] == ["v2"]
    assert layout(bars[:1], now=day(31), since=day(25)) == {"empty": True}
