"""Weekly time windows of a permit (street music) in Europe/Berlin wall-clock time.

A window names weekdays and a time of day from ``von`` to ``bis``; a permit is usable while the
local wall-clock time lies in [von, bis) on one of those days. Defining "inside" by wall-clock time
means daylight saving needs no special case there: 09:00 to 13:00 is 09:00 to 13:00 on the day the
clocks change too. Only turning a wall-clock time back into an instant (the next start) meets the
hour that does not exist in spring (a window starting in it starts when the clocks jump forward)
and the hour that occurs twice in autumn (both occurrences count). Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from govchain.domain.pointers import resolve_pointer
from govchain.domain.timefmt import BERLIN
from govchain.errors import InputError

DAYS = ("mo", "di", "mi", "do", "fr", "sa", "so")  # index = datetime.weekday()
DAY_LABELS = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")
MINUTES_PER_DAY = 24 * 60
RANGE = "\N{EN DASH}"  # German typography writes ranges of days and hours with an en dash
LOOKAHEAD_DAYS = 7  # a weekly schedule repeats, so looking further finds nothing new

_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_END_OF_DAY = "24:00"


@dataclass(frozen=True)
class Window:
    """Weekdays (0 = Monday … 6 = Sunday) and local times of day in minutes since midnight.

    ``end`` may be 1440 (written "24:00"): until midnight. A window never crosses midnight; a
    late-night slot is two windows.
    """

    days: tuple[int, ...]
    start: int
    end: int

    @property
    def von(self) -> str:
        return _hhmm(self.start)

    @property
    def bis(self) -> str:
        return _hhmm(self.end)

    def to_json(self) -> dict[str, Any]:
        return {"tage": [DAYS[d] for d in self.days], "von": self.von, "bis": self.bis}


@dataclass(frozen=True)
class ScheduleResult:
    inside: bool
    current: Window | None  # a window that contains the point in time, if any
    next_start: datetime | None  # next period's start within a week, Berlin UTC offset
    description: str  # German, e.g. "Mo-Sa 09:00-13:00, 14:00-20:00; So 11:00-20:00" (en dashes)


# -- parsing ----------------------------------------------------------------------------------

def window_problems(raw: object) -> list[tuple[str, str]]:
    """(JSON Pointer relative to the list, German message) for every unusable part of `raw`.

    Shared by issuing (where the schema has already vouched for the structure, so only the order of
    von and bis is left to find) and by verifying (where a field may have been hidden).
    """
    if not isinstance(raw, list):
        return [("", "muss eine Liste von Zeitfenstern sein")]
    if not raw:
        return [("", "muss mindestens ein Zeitfenster enthalten")]
    problems: list[tuple[str, str]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            problems.append((f"/{i}", "ist verborgen oder kein Zeitfenster"))
            continue
        days = item.get("tage")
        if not isinstance(days, list) or not days or any(d not in DAYS for d in days):
            problems.append((f"/{i}/tage", "muss eine Liste von Wochentagen sein ("
                             + ", ".join(DAYS) + ")"))
        start = _minutes(item.get("von"), end=False)
        end = _minutes(item.get("bis"), end=True)
        if start is None:
            problems.append((f"/{i}/von", "muss eine Uhrzeit im Format HH:MM sein"))
        if end is None:
            problems.append((f"/{i}/bis", "muss eine Uhrzeit im Format HH:MM (oder 24:00) sein"))
        elif start is not None and end <= start:
            problems.append((f"/{i}/bis", f"muss nach dem Beginn ({_hhmm(start)}) liegen; ein "
                             "Zeitfenster über Mitternacht wird als zwei Zeitfenster angegeben"))
    return problems


def parse_windows(raw: object) -> tuple[Window, ...]:
    """The windows of a `zeitfenster`-style list; InputError if any part is unusable or hidden."""
    problems = window_problems(raw)
    if problems:
        raise InputError("Zeitfenster unbrauchbar: " + "; ".join(
            f"{path or '/'}: {message}" for path, message in problems))
    assert isinstance(raw, list)  # window_problems said so
    windows: list[Window] = []
    for item in raw:
        start, end = _minutes(item["von"], end=False), _minutes(item["bis"], end=True)
        assert start is not None and end is not None
        days = tuple(sorted({DAYS.index(d) for d in item["tage"]}))
        windows.append(Window(days, start, end))
    return tuple(windows)


def windows_from_subject(subject: object, pointer: str) -> tuple[Window, ...]:
    """The windows at `pointer` inside a credentialSubject; InputError if missing or hidden."""
    try:
        node = resolve_pointer(subject, pointer)
    except LookupError:
        raise InputError(f"Die Zeitfenster ({pointer}) fehlen oder sind verborgen") from None
    return parse_windows(node)


def _minutes(value: object, *, end: bool) -> int | None:
    if end and value == _END_OF_DAY:
        return MINUTES_PER_DAY
    if not isinstance(value, str) or not (m := _TIME.match(value)):
        return None
    return int(m.group(1)) * 60 + int(m.group(2))


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# -- evaluation -------------------------------------------------------------------------------

def evaluate(windows: Sequence[Window], at: datetime) -> ScheduleResult:
    """Whether `at` (timezone-aware) lies in one of the windows, and when the next one starts."""
    if at.tzinfo is None:
        raise InputError("Der Prüfzeitpunkt braucht eine Zeitzone")
    current = _window_at(windows, at)
    return ScheduleResult(inside=current is not None, current=current,
                          next_start=_next_start(windows, at), description=describe(windows))


def _window_at(windows: Sequence[Window], at: datetime) -> Window | None:
    local = at.astimezone(BERLIN)
    second = local.hour * 3600 + local.minute * 60 + local.second
    day = local.weekday()
    return next((w for w in windows
                 if day in w.days and w.start * 60 <= second < w.end * 60), None)


def _next_start(windows: Sequence[Window], at: datetime) -> datetime | None:
    """The first instant after `at` at which a permitted period begins.

    A start that only continues a period (one window ending where the next begins, or two
    overlapping windows) is none: just before it, the permit was already usable.
    """
    first_day = at.astimezone(BERLIN).date()
    before = timedelta(seconds=1)  # windows are whole minutes, so one second resolves them
    starts: list[datetime] = []
    for offset in range(LOOKAHEAD_DAYS + 1):
        day = first_day + timedelta(days=offset)
        for w in windows:
            if day.weekday() not in w.days:
                continue
            for s in _instants(day, w.start):
                if s > at and _window_at(windows, s) and not _window_at(windows, s - before):
                    starts.append(s)
    first = min(starts, default=None)
    if first is None:
        return None
    # A fixed offset, not the zone: Python never finds a zoned time in the repeated autumn hour
    # equal to the same instant in another zone (PEP 495), which would trip up every caller.
    utc_offset = first.astimezone(BERLIN).utcoffset()
    assert utc_offset is not None
    return first.astimezone(timezone(utc_offset))


def _instants(day: date, minutes: int) -> set[datetime]:
    """Every UTC instant whose Berlin wall-clock time is `minutes` past midnight of `day`."""
    if minutes >= MINUTES_PER_DAY:
        day, minutes = day + timedelta(days=1), minutes - MINUTES_PER_DAY
    wall = datetime.combine(day, time(minutes // 60, minutes % 60))
    found: set[datetime] = set()
    for fold in (0, 1):  # both occurrences of an hour the autumn change repeats
        instant = wall.replace(tzinfo=BERLIN, fold=fold).astimezone(UTC)
        if instant.astimezone(BERLIN).replace(tzinfo=None) == wall:
            found.add(instant)
    return found or {_jump(wall)}


def _jump(wall: datetime) -> datetime:
    """The instant the clocks jumped over `wall`, a time that does not exist (spring change).

    PEP 495 maps such a time with the offsets before (fold 0) and after (fold 1) the change; the
    change lies between the two instants, found to the second by bisection.
    """
    after = wall.replace(tzinfo=BERLIN, fold=1)
    offset_after = after.utcoffset()
    low = after.astimezone(UTC)
    high_seconds = int((wall.replace(tzinfo=BERLIN, fold=0).astimezone(UTC) - low).total_seconds())
    low_seconds = 0
    while high_seconds - low_seconds > 1:
        mid = (low_seconds + high_seconds) // 2
        if (low + timedelta(seconds=mid)).astimezone(BERLIN).utcoffset() == offset_after:
            high_seconds = mid
        else:
            low_seconds = mid
    return low + timedelta(seconds=high_seconds)


# -- description ------------------------------------------------------------------------------

def describe(windows: Sequence[Window]) -> str:
    """German summary, days with equal hours grouped: "Mo-Sa 09:00-13:00, 14:00-20:00; So ..."."""
    groups: dict[tuple[tuple[int, int], ...], list[int]] = {}
    for day in range(7):
        spans = _merged([(w.start, w.end) for w in windows if day in w.days])
        if spans:
            groups.setdefault(spans, []).append(day)
    if not groups:
        return "keine Zeitfenster"
    return "; ".join(
        f"{days_text(days)} " + ", ".join(f"{_hhmm(a)}{RANGE}{_hhmm(b)}" for a, b in spans)
        for spans, days in groups.items())


def _merged(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    result: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(end, result[-1][1]))
        else:
            result.append((start, end))
    return tuple(result)


def days_text(days: Sequence[int], labels: Sequence[str] = DAY_LABELS,
              daily: str = "täglich") -> str:
    """Weekdays (0 = Monday) as people write them: "Mo–Mi, Fr", "täglich"."""
    if len(days) == 7:
        return daily
    runs: list[list[int]] = []
    for d in days:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{labels[run[0]]}{RANGE}{labels[run[-1]]}")
        else:
            parts += [labels[d] for d in run]
    return ", ".join(parts)
