"""Parsing and German formatting of points in time (Europe/Berlin for people, UTC on chain)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from govchain.errors import InputError

BERLIN = ZoneInfo("Europe/Berlin")


def parse_time(text: str) -> datetime:
    """ISO 8601 date or date-time; a date or a naive time is read as Europe/Berlin local time."""
    s = text.strip()
    try:
        if len(s) == 10:
            return datetime.combine(date.fromisoformat(s), time(0), BERLIN)
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError as err:
        raise InputError(f"Ungültige Zeitangabe {text!r}: erwartet z. B. 2026-05-01 oder "
                         "2026-05-01T10:30:00+02:00") from err
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
