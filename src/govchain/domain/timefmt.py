"""Parsing and German formatting of points in time (Europe/Berlin for people, UTC on chain)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from govchain.errors import InputError

BERLIN = ZoneInfo("Europe/Berlin")


# Years a parsed time may have: far enough from Python's 1 and 9999 that converting it to UTC or
# Berlin time, or adding a day or a century to it, can never overflow. Which dates are plausible
# is the use case's matter (usecases.ValidityLimits).
FIRST_YEAR, LAST_YEAR = 1000, 8999


def parse_time(text: str) -> datetime:
    """ISO 8601 date or date-time; a date or a naive time is read as Europe/Berlin local time."""
    s = text.strip()
    try:
        if len(s) == 10:
            dt = datetime.combine(date.fromisoformat(s), time(0), BERLIN)
        else:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError as err:
        raise InputError(f"Ungültige Zeitangabe {text!r}: erwartet z. B. 2026-05-01 oder "
                         "2026-05-01T10:30:00+02:00") from err
    if not FIRST_YEAR <= dt.year <= LAST_YEAR:
        raise InputError(f"Ungültige Zeitangabe {text!r}: das Jahr muss zwischen {FIRST_YEAR} "
                         f"und {LAST_YEAR} liegen")
    return dt if dt.tzinfo else dt.replace(tzinfo=BERLIN)


def from_unix(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def de(dt: datetime) -> str:
    """'27.11.2026, 14:03 Uhr' in Berlin time."""
    return dt.astimezone(BERLIN).strftime("%d.%m.%Y, %H:%M Uhr")


def de_unix(ts: int) -> str:
    return de(from_unix(ts))


def now() -> datetime:
    return datetime.now(UTC)
