"""Durations as operators write them (`90m`, `25h`, `3d`) and as people read them.

One grammar for every setting and flag that takes a duration (RESTORE_MAX_BACKUP_AGE, `status
--max-age`, ...), and one wording for every message that reports one, so a threshold typed as
`25h` comes back as "25 hours", not as 90000 seconds or "1.0 days".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": MINUTE, "h": HOUR, "d": DAY}


def as_utc(moment: datetime) -> datetime:
    """`moment` with a time zone: a naive time (an ISO string written without one) is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_duration(raw: str) -> float:
    """Seconds, or a number with a unit: `3600`, `90s`, `15m`, `25h`, `3d`; never zero or negative."""
    match = _DURATION.match(raw.strip())
    if match is None:
        raise ValueError(f"must be seconds or a number with s/m/h/d, got {raw!r}")
    value = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if value <= 0:
        raise ValueError(f"must be positive, got {raw}")
    return value


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}" if number == 1 else f"{number} {unit}s"


def in_words(seconds: float) -> str:
    """At most two units, rounded down: `45 seconds`, `3 hours 12 minutes`, `25 hours`, `3 days 12 hours`.

    Hours stay hours up to two days, because the thresholds operators set are written that way
    (an alarm after 25 hours reads badly as "1 day 1 hour").
    """
    whole = int(max(seconds, 0.0))
    if whole < MINUTE:
        return _count(whole, "second")
    if whole < HOUR:
        parts = [(whole // 60, "minute"), (whole % 60, "second")]
    elif whole < 2 * DAY:
        parts = [(whole // 3600, "hour"), (whole % 3600 // 60, "minute")]
    else:
        parts = [(whole // 86400, "day"), (whole % 86400 // 3600, "hour")]
    return " ".join(_count(number, unit) for number, unit in parts if number)
