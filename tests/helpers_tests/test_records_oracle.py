"""The records oracle reproduces the worked fixture F of 04 §13, number for number.

The expected values are the chapter's own, written out by hand here; the oracle that
later checks the aggregators must first agree with them.
"""

from copy import deepcopy

from helpers.oracle.membership import MembershipEvent, intervals
from helpers.oracle.records import Version, records_oracle
from helpers.records_fixtures import VERSIONS, C, D, at, fixture_f_events


def zero_delta():
    pair = {"added": {"metadata_only": 0, "with_files": 0}}
    pair["removed"] = {"metadata_only": 0, "with_files": 0}
    files = {"file_count": 0, "data_volume": 0}
    return {
        "records": deepcopy(pair),
        "parents": deepcopy(pair),
        "files": {"added": dict(files), "removed": dict(files)},
        "uploaders": 0,
    }


def expected_community_deltas():
    d = [zero_delta() for _ in D]
    d[0]["records"]["added"] = {"metadata_only": 1, "with_files": 1}
    d[0]["parents"]["added"] = {"metadata_only": 1, "with_files": 1}
    d[0]["files"]["added"] = {"file_count": 2, "data_volume": 1500}
    d[0]["uploaders"] = 1
    d[1]["records"]["added"]["with_files"] = 1
    d[1]["parents"]["added"]["with_files"] = 1
    d[1]["files"]["added"] = {"file_count": 1, "data_volume": 2000}
    d[1]["uploaders"] = 1
    d[2]["records"]["added"]["with_files"] = 1
    d[2]["files"]["added"] = {"file_count": 1, "data_volume": 2000}
    d[2]["uploaders"] = 1
    d[3]["records"]["removed"]["metadata_only"] = 1
    d[3]["parents"]["removed"]["metadata_only"] = 1
    d[4]["records"]["removed"]["with_files"] = 1
    d[4]["parents"]["removed"]["with_files"] = 1
    d[4]["files"]["removed"] = {"file_count": 2, "data_volume": 1500}
    return d


def test_fixture_f_community_deltas_and_last_snapshot():
    result = records_oracle(VERSIONS, fixture_f_events(), C, D[5])
    assert sorted(result) == D
    assert [result[day].delta for day in D] == expected_community_deltas()
    assert result[D[5]].snapshot == {
        "total_records": {"metadata_only": 0, "with_files": 2},
        "total_parents": {"metadata_only": 0, "with_files": 1},
        "total_files": {"file_count": 2, "data_volume": 4000},
        "total_uploaders": 1,
    }


def test_fixture_f_global_keeps_the_removed_version():
    result = records_oracle(VERSIONS, fixture_f_events(), "global", D[5])
    expected = expected_community_deltas()
    expected[3] = zero_delta()  # v2 never leaves global
    assert [result[day].delta for day in D] == expected
    assert result[D[5]].snapshot == {
        "total_records": {"metadata_only": 1, "with_files": 2},
        "total_parents": {"metadata_only": 1, "with_files": 1},
        "total_files": {"file_count": 2, "data_volume": 4000},
        "total_uploaders": 2,
    }


def test_same_instant_order_and_restore():
    """Added, deletion, removed at one instant (04 §11.1); a restore re-admits."""
    t = at(D[0])
    same_instant = [
        MembershipEvent("v", C, "added", t, t, deleted_date=t),
        MembershipEvent("v", C, "removed", t, t),
    ]
    assert intervals(same_instant) == [(t, t)]
    restored = [
        MembershipEvent("v", C, "added", t, t, deleted_date=at(D[4])),
        MembershipEvent("v", C, "added", at(D[5]), at(D[5])),
    ]
    assert intervals(restored) == [(t, at(D[4])), (at(D[5]), None)]
    removed_then_deleted = [
        MembershipEvent("v", C, "added", t, t, deleted_date=at(D[4])),
        MembershipEvent("v", C, "removed", at(D[3]), at(D[3])),
    ]
    assert intervals(removed_then_deleted) == [(t, at(D[3]))]


def test_fixture_f_file_types_count_only_their_own_files():
    """04 §13 fixture F and must-not-repeat 11: ``pdf`` 2 / 4000 at D6, no ``csv``."""
    result = records_oracle(VERSIONS, fixture_f_events(), C, D[5], keys=["file_types"])
    first = {i["id"]: i for i in result[D[0]].delta["subcounts"]["file_types"]}
    assert first["pdf"]["files"]["added"] == {"file_count": 1, "data_volume": 1000}
    assert first["csv"]["files"]["added"] == {"file_count": 1, "data_volume": 500}
    assert first["pdf"]["records"]["added"]["with_files"] == 1
    assert result[D[5]].snapshot["subcounts"]["file_types"] == [
        {
            "id": "pdf",
            "records": {"metadata_only": 0, "with_files": 2},
            "parents": {"metadata_only": 0, "with_files": 1},
            "files": {"file_count": 2, "data_volume": 4000},
        }
    ]
    assert result[D[5]].delta["subcounts"]["file_types"] == []


def test_restricted_metadata_counts_in_totals_and_access_statuses_only():
    """04 §13 test 26: a restricted version adds to no metadata item."""
    versions = dict(VERSIONS)
    versions["v2"] = Version(
        "v2",
        "p2",
        "u1",
        public=False,
        values={"subjects": ["physics"], "access_statuses": ["restricted"]},
    )
    result = records_oracle(
        versions,
        fixture_f_events(),
        "global",
        D[5],
        keys=["subjects", "access_statuses"],
    )
    last = result[D[5]].snapshot
    assert last["total_records"]["metadata_only"] == 1
    assert last["subcounts"]["subjects"] == []
    assert [i["id"] for i in last["subcounts"]["access_statuses"]] == ["restricted"]


def test_top_snapshot_ranks_member_records_and_cuts_at_the_limit():
    """04 §4.4 ``top``: by cumulative records, ties by id, zero items left out."""
    versions = {
        "v1": Version("v1", "p1", "u1", values={"subjects": ["b", "a"]}),
        "v2": Version("v2", "p2", "u1", values={"subjects": ["b", "c"]}),
        "v3": Version("v3", "p3", "u2", values={"subjects": ["a", "d"]}),
    }
    events = [
        MembershipEvent(r, C, "added", at(D[0]), at(D[0])) for r in ("v1", "v2", "v3")
    ]
    events.append(MembershipEvent("v3", C, "removed", at(D[1]), at(D[1])))
    result = records_oracle(
        versions, events, C, D[1], keys=["subjects"], top={"subjects": 2}
    )
    first = result[D[0]].snapshot["subcounts"]["subjects"]
    assert [i["id"] for i in first] == ["a", "b"]  # a 2, b 2 (tie by id), c 1, d 1
    second = result[D[1]].snapshot["subcounts"]["subjects"]
    assert [i["id"] for i in second] == ["b", "a"]  # b 2, a 1, c 1; d left with v3
    assert second[0]["records"] == {"metadata_only": 2, "with_files": 0}
