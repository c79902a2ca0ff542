"""UTC time helpers shared by every writer and reader (01 §1).

The extension stores dates without an offset and reads offset-less values as UTC, so
every conversion goes through these few functions.
"""

from datetime import UTC, date, datetime, time, timedelta


def utc_now() -> datetime:
    """Return the current time, aware UTC (the one clock writers use)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as aware UTC; a naive value is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_utc(value: str | datetime | None) -> datetime | None:
    """Parse an ISO 8601 string (offset optional, ``Z`` accepted) to aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return as_utc(datetime.fromisoformat(text))


def format_utc(value: datetime, millis: bool = True) -> str:
    """Format as ``YYYY-MM-DDTHH:MM:SS[.mmm]`` in UTC, without an offset."""
    value = as_utc(value)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += f".{value.microsecond // 1000:03d}"
    return text


def start_of_day(day: date) -> datetime:
    """``day`` at 00:00:00 UTC."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def end_of_day(day: date) -> datetime:
    """Return the last millisecond of ``day`` (inclusive end of a day filter)."""
    return start_of_day(day) + timedelta(days=1) - timedelta(milliseconds=1)
