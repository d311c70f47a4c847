"""Weekly time windows in Berlin wall-clock time: inside/outside, next start, DST, descriptions."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.domain.schedule import (
    DAYS,
    RANGE,
    ScheduleResult,
    Window,
    describe,
    evaluate,
    parse_windows,
    window_problems,
    windows_from_subject,
)
from govchain.errors import InputError

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = ["mo", "di", "mi", "do", "fr", "sa"]
# Aachen's rules: Mon-Sat 9-13 and 14-20, Sundays from 11
AACHEN = parse_windows([
    {"tage": WEEKDAYS, "von": "09:00", "bis": "13:00"},
    {"tage": WEEKDAYS, "von": "14:00", "bis": "20:00"},
    {"tage": ["so"], "von": "11:00", "bis": "20:00"},
])


def dashed(text: str) -> str:
    """German ranges use an en dash; written here with hyphens for legibility."""
    return text.replace("-", RANGE)


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# 2026-05-04 is a Monday; 2026-05-10 a Sunday.
@pytest.mark.parametrize("at, inside", [
    ("2026-05-04T08:59:59", False),
    ("2026-05-04T09:00:00", True),
    ("2026-05-04T12:59:59", True),
    ("2026-05-04T13:00:00", False),  # bis is exclusive
    ("2026-05-04T13:59:59", False),
    ("2026-05-04T14:00:00", True),
    ("2026-05-04T19:59:59", True),
    ("2026-05-04T20:00:00", False),
    ("2026-05-09T13:30:00", False),  # Saturday lunch break
    ("2026-05-10T10:59:59", False),  # Sunday: not before 11
    ("2026-05-10T11:00:00", True),
    ("2026-05-10T13:30:00", True),  # Sunday has no lunch break
    ("2026-05-10T20:00:00", False),
])
def test_inside_and_outside_the_aachen_windows(at: str, inside: bool) -> None:
    result = evaluate(AACHEN, berlin(at))
    assert result.inside is inside
    assert (result.current is not None) is inside


@pytest.mark.parametrize("at, next_start", [
    ("2026-05-04T07:00:00", "2026-05-04T09:00:00"),
    ("2026-05-04T13:00:00", "2026-05-04T14:00:00"),
    ("2026-05-04T10:00:00", "2026-05-04T14:00:00"),  # inside: the next period after this one
    ("2026-05-04T21:00:00", "2026-05-05T09:00:00"),
    ("2026-05-09T20:30:00", "2026-05-10T11:00:00"),  # Saturday evening: Sunday from 11
    ("2026-05-10T12:00:00", "2026-05-11T09:00:00"),
])
def test_next_start(at: str, next_start: str) -> None:
    assert evaluate(AACHEN, berlin(at)).next_start == berlin(next_start)


def test_the_current_window_and_the_description() -> None:
    result = evaluate(AACHEN, berlin("2026-05-10T15:00:00"))
    assert result == ScheduleResult(
        inside=True, current=Window((6,), 11 * 60, 20 * 60),
        next_start=berlin("2026-05-11T09:00:00"),
        description=dashed("Mo-Sa 09:00-13:00, 14:00-20:00; So 11:00-20:00"))
    assert result.current is not None and result.current.to_json() == {
        "tage": ["so"], "von": "11:00", "bis": "20:00"}


def test_a_point_in_time_in_another_zone_is_read_in_berlin_time() -> None:
    assert evaluate(AACHEN, utc("2026-05-04T07:30:00")).inside  # 09:30 summer time
    assert not evaluate(AACHEN, utc("2026-01-05T07:30:00")).inside  # 08:30 winter time
    assert evaluate(AACHEN, utc("2026-01-05T08:30:00")).inside


def test_a_point_in_time_without_zone_is_refused() -> None:
    with pytest.raises(InputError, match="Zeitzone"):
        evaluate(AACHEN, datetime(2026, 5, 4, 10, 0))


# -- midnight -------------------------------------------------------------------------------

LATE = parse_windows([
    {"tage": ["fr"], "von": "22:00", "bis": "24:00"},
    {"tage": ["sa"], "von": "00:00", "bis": "02:00"},
])


@pytest.mark.parametrize("at, inside", [
    ("2026-05-08T21:59:59", False),
    ("2026-05-08T22:00:00", True),
    ("2026-05-08T23:59:59", True),
    ("2026-05-09T00:00:00", True),
    ("2026-05-09T01:59:59", True),
    ("2026-05-09T02:00:00", False),
])
def test_a_night_slot_is_two_windows_that_meet_at_midnight(at: str, inside: bool) -> None:
    assert evaluate(LATE, berlin(at)).inside is inside


def test_a_window_continuing_past_midnight_is_no_new_start() -> None:
    assert evaluate(LATE, berlin("2026-05-08T23:00:00")).next_start == berlin("2026-05-15T22:00")
    assert evaluate(LATE, berlin("2026-05-08T12:00:00")).next_start == berlin("2026-05-08T22:00")
    assert describe(LATE) == dashed("Fr 22:00-24:00; Sa 00:00-02:00")


def test_the_next_start_is_found_up_to_a_week_ahead() -> None:
    weekly = parse_windows([{"tage": ["mo"], "von": "09:00", "bis": "10:00"}])
    assert evaluate(weekly, berlin("2026-05-04T09:30")).next_start == berlin("2026-05-11T09:00")
    assert evaluate(weekly, berlin("2026-05-04T10:00")).next_start == berlin("2026-05-11T09:00")
    assert evaluate(weekly, berlin("2026-05-04T08:00")).next_start == berlin("2026-05-04T09:00")


def test_no_windows_means_never() -> None:
    assert evaluate((), berlin("2026-05-04T10:00")) == ScheduleResult(
        inside=False, current=None, next_start=None, description="keine Zeitfenster")


# -- daylight saving ----------------------------------------------------------------------------
# Spring 2026: Sunday 29 March, 02:00 CET -> 03:00 CEST. Autumn: Sunday 25 October, 03:00 CEST ->
# 02:00 CET, so 02:00-03:00 happens twice.

def test_windows_keep_their_wall_clock_times_across_the_spring_change() -> None:
    result = evaluate(AACHEN, utc("2026-03-29T00:30"))  # 01:30 CET
    assert result.next_start == utc("2026-03-29T09:00")  # 11:00 CEST
    assert evaluate(AACHEN, utc("2026-03-29T09:00")).inside
    assert evaluate(AACHEN, utc("2026-03-29T08:59:59")).inside is False  # 10:59:59 CEST
    assert evaluate(AACHEN, utc("2026-03-29T17:59:59")).inside  # 19:59:59 CEST
    assert not evaluate(AACHEN, utc("2026-03-29T18:00")).inside
    # the Saturday before was still winter time
    assert evaluate(AACHEN, utc("2026-03-28T18:59")).inside
    assert not evaluate(AACHEN, utc("2026-03-28T19:00")).inside


def test_a_window_starting_in_the_skipped_hour_starts_when_the_clocks_jump() -> None:
    windows = parse_windows([{"tage": ["so"], "von": "02:30", "bis": "04:00"}])
    result = evaluate(windows, utc("2026-03-29T00:00"))  # 01:00 CET
    assert result.next_start == utc("2026-03-29T01:00")  # the instant 02:00 CET became 03:00 CEST
    assert not evaluate(windows, utc("2026-03-29T00:59:59")).inside
    assert evaluate(windows, utc("2026-03-29T01:00")).inside


def test_a_window_lying_wholly_in_the_skipped_hour_does_not_happen_that_day() -> None:
    windows = parse_windows([{"tage": ["so"], "von": "02:00", "bis": "03:00"}])
    result = evaluate(windows, utc("2026-03-29T00:00"))
    assert result.next_start == berlin("2026-04-05T02:00")


def test_the_repeated_autumn_hour_counts_twice() -> None:
    windows = parse_windows([{"tage": ["so"], "von": "02:00", "bis": "02:30"}])
    first, second = utc("2026-10-25T00:00"), utc("2026-10-25T01:00")  # 02:00 CEST, 02:00 CET
    assert evaluate(windows, first + timedelta(minutes=15)).inside
    assert not evaluate(windows, first + timedelta(minutes=45)).inside
    assert evaluate(windows, first + timedelta(minutes=45)).next_start == second
    assert evaluate(windows, second + timedelta(minutes=29)).inside
    assert not evaluate(windows, second + timedelta(minutes=30)).inside


def test_a_sunday_window_on_the_autumn_change_day() -> None:
    result = evaluate(AACHEN, utc("2026-10-25T09:00"))  # 10:00 CET
    assert not result.inside
    assert result.next_start == utc("2026-10-25T10:00")  # 11:00 CET
    assert evaluate(AACHEN, utc("2026-10-25T18:59")).inside  # 19:59 CET


# -- parsing and checking -----------------------------------------------------------------------

def test_parsing_keeps_days_sorted_and_reads_24_00_as_midnight() -> None:
    (w,) = parse_windows([{"tage": ["so", "mo", "mo"], "von": "18:30", "bis": "24:00"}])
    assert w == Window((0, 6), 18 * 60 + 30, 24 * 60)
    assert (w.von, w.bis) == ("18:30", "24:00")


@pytest.mark.parametrize("raw, problems", [
    ([{"tage": ["mo"], "von": "13:00", "bis": "09:00"}],
     [("/0/bis", "muss nach dem Beginn (13:00) liegen; ein Zeitfenster über Mitternacht wird "
                 "als zwei Zeitfenster angegeben")]),
    ([{"tage": ["mo"], "von": "09:00", "bis": "09:00"}],
     [("/0/bis", "muss nach dem Beginn (09:00) liegen; ein Zeitfenster über Mitternacht wird "
                 "als zwei Zeitfenster angegeben")]),
    ([{"tage": ["mo"], "von": "24:00", "bis": "24:00"}],
     [("/0/von", "muss eine Uhrzeit im Format HH:MM sein")]),
    ([{"tage": ["mo"], "von": "9:00", "bis": "25:00"}],
     [("/0/von", "muss eine Uhrzeit im Format HH:MM sein"),
      ("/0/bis", "muss eine Uhrzeit im Format HH:MM (oder 24:00) sein")]),
    ([{"tage": ["montag"], "von": "09:00", "bis": "10:00"}],
     [("/0/tage", "muss eine Liste von Wochentagen sein (mo, di, mi, do, fr, sa, so)")]),
    ([{"tage": [], "von": "09:00", "bis": "10:00"}],
     [("/0/tage", "muss eine Liste von Wochentagen sein (mo, di, mi, do, fr, sa, so)")]),
    ([], [("", "muss mindestens ein Zeitfenster enthalten")]),
    ("Mo-Sa 9-13", [("", "muss eine Liste von Zeitfenstern sein")]),
    ([None], [("/0", "ist verborgen oder kein Zeitfenster")]),
])
def test_unusable_windows_are_named_field_by_field(raw: Any, problems: list[tuple[str, str]]
                                                    ) -> None:
    assert window_problems(raw) == problems
    with pytest.raises(InputError, match="Zeitfenster unbrauchbar"):
        parse_windows(raw)


SUBJECT = {"zeitfenster": [{"tage": ["sa"], "von": "10:00", "bis": "12:00"}]}


def test_windows_are_read_from_the_subject_by_pointer() -> None:
    assert windows_from_subject(SUBJECT, "/zeitfenster") == (Window((5,), 600, 720),)


@pytest.mark.parametrize("subject", [
    {},  # the whole list hidden
    {"zeitfenster": [None]},  # one window hidden
    {"zeitfenster": [{"tage": ["sa"], "von": "10:00"}]},  # its end hidden
    {"zeitfenster": [{"tage": ["sa", None], "von": "10:00", "bis": "12:00"}]},  # a day hidden
])
def test_hidden_windows_cannot_be_evaluated(subject: dict[str, Any]) -> None:
    # a partly hidden schedule would make "outside" a guess, so it is refused as a whole
    with pytest.raises(InputError):
        windows_from_subject(subject, "/zeitfenster")


# -- properties ---------------------------------------------------------------------------------

def _minutes(m: int) -> str:
    return f"{m // 60:02d}:{m % 60:02d}"


@st.composite
def window_lists(draw: st.DrawFn, avoid_spring_gap: bool = False) -> list[dict[str, Any]]:
    raws = []
    for _ in range(draw(st.integers(1, 4))):
        days = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True))
        start = draw(st.integers(0, 24 * 60 - 1))
        end = draw(st.integers(start + 1, 24 * 60))
        if avoid_spring_gap and start < 3 * 60 and end > 2 * 60:
            start, end = 3 * 60, max(end, 3 * 60 + 1)
        raws.append({"tage": days, "von": _minutes(start), "bis": _minutes(end)})
    return raws


instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31),
                        timezones=st.just(UTC))


def _oracle(raws: list[dict[str, Any]], at: datetime) -> bool:
    local = at.astimezone(BERLIN)
    clock = local.time()
    for raw in raws:
        if DAYS[local.weekday()] not in raw["tage"]:
            continue
        start = time.fromisoformat(raw["von"])
        if start <= clock and (raw["bis"] == "24:00" or clock < time.fromisoformat(raw["bis"])):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(window_lists(), instants)
def test_inside_means_the_berlin_wall_clock_is_in_a_window(raws: list[dict[str, Any]],
                                                           at: datetime) -> None:
    assert evaluate(parse_windows(raws), at).inside is _oracle(raws, at)


@settings(max_examples=300, deadline=None)
@given(window_lists(), instants, st.floats(0.001, 0.999))
def test_the_next_start_is_the_first_moment_inside(raws: list[dict[str, Any]], at: datetime,
                                                   fraction: float) -> None:
    windows = parse_windows(raws)
    result = evaluate(windows, at)
    if result.next_start is None:
        return
    start = result.next_start
    assert at < start <= at + timedelta(days=8)
    assert _oracle(raws, start)
    assert not _oracle(raws, start - timedelta(seconds=1))
    if not result.inside:  # nothing in between is inside either
        assert not _oracle(raws, at + (start - at) * fraction)


@settings(max_examples=200, deadline=None)
@given(window_lists(avoid_spring_gap=True), instants)
def test_a_weekly_schedule_always_has_a_next_start(raws: list[dict[str, Any]], at: datetime
                                                    ) -> None:
    assert evaluate(parse_windows(raws), at).next_start is not None


@settings(max_examples=200, deadline=None)
@given(window_lists(), st.randoms(use_true_random=False))
def test_the_description_does_not_depend_on_the_order_of_the_windows(
        raws: list[dict[str, Any]], rnd: Any) -> None:
    shuffled = list(raws)
    rnd.shuffle(shuffled)
    assert describe(parse_windows(raws)) == describe(parse_windows(shuffled))
