"""The usage oracle follows 04 §5 on hand-made events (day edges, robots, scopes)."""

from datetime import date

from helpers.oracle.usage import usage_oracle

A, B = "community-a", "community-b"


def view(ts, recid, visitor, communities=(), robot=False):
    return {
        "timestamp": ts,
        "recid": recid,
        "parent_recid": f"{recid}-parent",
        "visitor_id": visitor,
        "community_ids": list(communities),
        "is_robot": robot,
        "is_machine": False,
    }


def download(ts, recid, visitor, file_id, size, communities=()):
    event = view(ts, recid, visitor, communities)
    event.update(file_id=file_id, size=size)
    return event


VIEWS = [
    view("2025-03-01T23:59:59", "r1", "x", [A, B]),
    view("2025-03-02T00:00:00", "r1", "x", [A]),
    view("2025-03-02T10:00:00", "r2", "y", [A]),
    view("2025-03-02T11:00:00", "r2", "y", [A], robot=True),
]
DOWNLOADS = [download("2025-03-02T12:00:00", "r2", "y", "f1", 700, [B])]


def test_day_edges_scopes_and_robots():
    result = usage_oracle(VIEWS, DOWNLOADS, A, date(2025, 3, 1), date(2025, 3, 3))
    first, second, third = (result[date(2025, 3, d)] for d in (1, 2, 3))
    assert first[0]["view"] == {
        "total_events": 1,
        "unique_visitors": 1,
        "unique_records": 1,
        "unique_parents": 1,
    }
    assert second[0]["view"]["total_events"] == 2  # the robot view is not counted
    assert second[0]["view"]["unique_records"] == 2
    assert second[0]["download"]["total_events"] == 0  # the download is B's only
    assert third[0]["view"]["total_events"] == 0
    assert third[1]["view"] == {  # sums of the daily values
        "total_events": 3,
        "unique_visitors": 3,
        "unique_records": 3,
        "unique_parents": 3,
    }


def test_global_counts_an_event_of_two_communities_once():
    result = usage_oracle(
        VIEWS, DOWNLOADS, "global", date(2025, 3, 1), date(2025, 3, 2)
    )
    assert result[date(2025, 3, 1)][0]["view"]["total_events"] == 1
    in_b = usage_oracle(VIEWS, DOWNLOADS, B, date(2025, 3, 1), date(2025, 3, 2))
    assert in_b[date(2025, 3, 1)][0]["view"]["total_events"] == 1
    assert in_b[date(2025, 3, 2)][0]["download"] == {
        "total_events": 1,
        "unique_visitors": 1,
        "unique_records": 1,
        "unique_parents": 1,
        "unique_files": 1,
        "total_volume": 700,
    }
