"""The usage oracle follows 04 §5–6 on hand-made events (days, robots, scopes, items)."""

from datetime import date

from helpers.oracle.usage import UsageKey, usage_oracle, usage_subcounts_oracle

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


KEYS = {
    "resource_types": UsageKey("resource_type.id", "title", object_label=True),
    "funders": UsageKey(
        "funders.id", "name", snapshot="top", name_fallback="funders.name"
    ),
    "countries": UsageKey("country"),
}


def described(event, resource_type=None, funders=(), country=None):
    event = dict(event)
    if resource_type:
        event["resource_type"] = resource_type
    event["funders"] = list(funders)
    if country:
        event["country"] = country
    return event


EC = {"id": "ec", "name": "European Commission"}
SNF = {"id": "snf", "name": "SNF"}
LOCAL = {"name": "Local Trust"}
DATASET = {"id": "dataset", "title": {"en": "Dataset"}}


def test_subcount_items_labels_and_name_only_funders():
    views = [
        described(view("2025-03-01T08:00:00", "r1", "x"), DATASET, [EC, LOCAL], "CH"),
        described(view("2025-03-01T09:00:00", "r2", "y"), {"id": "image"}, [LOCAL]),
        described(view("2025-03-01T10:00:00", "r2", "y", robot=True), DATASET),
    ]
    downloads = [
        described(
            download("2025-03-01T09:30:00", "r1", "z", "f1", 50),
            {"id": "dataset", "title": {"en": "Data set"}},
            [EC],
        )
    ]
    result = usage_subcounts_oracle(
        views, downloads, "global", date(2025, 3, 1), date(2025, 3, 1), KEYS, 20
    )
    delta, snapshot = result[date(2025, 3, 1)]
    dataset = delta["resource_types"]["dataset"]
    # the newest counted event is the 09:30 download (the 10:00 view is a robot's)
    assert dataset["label"] == {"en": "Data set"}
    assert dataset["view"]["total_events"] == 1
    assert dataset["download"] == {
        "total_events": 1,
        "unique_visitors": 1,
        "unique_records": 1,
        "unique_parents": 1,
        "unique_files": 1,
        "total_volume": 50,
    }
    assert delta["resource_types"]["image"]["label"] == {"en": "image"}
    # a name-only funder counts only in events without any funder id
    assert set(delta["funders"]) == {"ec", "Local Trust"}
    assert delta["funders"]["Local Trust"]["view"]["total_events"] == 1
    assert delta["funders"]["ec"]["label"] == "European Commission"
    assert delta["countries"] == {
        "CH": {
            "label": "CH",
            "view": {
                "total_events": 1,
                "unique_visitors": 1,
                "unique_records": 1,
                "unique_parents": 1,
            },
            "download": dict.fromkeys(
                (
                    "total_events",
                    "unique_visitors",
                    "unique_records",
                    "unique_parents",
                    "unique_files",
                    "total_volume",
                ),
                0,
            ),
        }
    }
    assert snapshot["resource_types"]["dataset"]["download"]["total_volume"] == 50


def test_top_snapshots_rank_cumulative_totals_and_drop_zero_items():
    views, downloads = [], []
    for day, funders in ((1, [EC]), (1, [SNF]), (2, [SNF]), (2, [SNF, EC])):
        views.append(
            described(view(f"2025-03-0{day}T08:00:00", "r1", "x"), None, funders)
        )
    downloads.append(
        described(download("2025-03-02T08:00:00", "r1", "x", "f", 1), None, [EC])
    )
    result = usage_subcounts_oracle(
        views, downloads, "global", date(2025, 3, 1), date(2025, 3, 3), KEYS, 1
    )
    first = result[date(2025, 3, 1)][1]["funders"]
    assert [i["id"] for i in first["by_view"]] == ["ec"]  # tie 1:1, by id
    assert first["by_download"] == []  # no downloads yet: zero items left out
    third = result[date(2025, 3, 3)][1]["funders"]
    assert [i["id"] for i in third["by_view"]] == ["snf"]  # 3 views against 2
    assert third["by_view"][0]["view"]["total_events"] == 3
    assert third["by_view"][0]["download"]["total_events"] == 0
    assert [i["id"] for i in third["by_download"]] == ["ec"]
