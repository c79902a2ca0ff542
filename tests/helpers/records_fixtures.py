"""The worked fixture F of 04 §13: four versions, one community, six days."""

from datetime import UTC, date, datetime, timedelta

from helpers.oracle.membership import MembershipEvent
from helpers.oracle.records import Version

C = "c0ffee00-0000-4000-8000-00000000000c"
D = [date(2025, 3, 1) + timedelta(days=n) for n in range(6)]  # D1..D6 = D[0]..D[5]


def at(day, hour=10):
    """``day`` at ``hour`` o'clock UTC."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


VERSIONS = {
    "v1": Version("v1", "p1", "u1", (("a.pdf", 1000), ("b.csv", 500))),
    "v2": Version("v2", "p2", "u1"),
    "v3": Version("v3", "p3", "u2", (("c.pdf", 2000),)),
    "v4": Version("v4", "p3", "u2", (("c.pdf", 2000),)),
}


def fixture_f_events():
    """Joins on D1 (v1, v2), D2 (v3), D3 (v4); v2 leaves C on D4; v1 deleted on D5."""
    joins = {"v1": D[0], "v2": D[0], "v3": D[1], "v4": D[2]}
    events = []
    for record_id, day in joins.items():
        deleted = at(D[4]) if record_id == "v1" else None
        for scope in (C, "global"):
            events.append(
                MembershipEvent(record_id, scope, "added", at(day), at(day), deleted)
            )
    events.append(MembershipEvent("v2", C, "removed", at(D[3]), at(D[3])))
    return events
