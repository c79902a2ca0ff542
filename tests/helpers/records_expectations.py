"""Expected records delta and snapshot documents from the oracle, and stored ones."""

from datetime import UTC, datetime, timedelta

from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from helpers.oracle.membership import MembershipEvent
from helpers.oracle.records import Version, records_oracle
from helpers.records_index import expected_label

KEYS = [
    "resource_types",
    "access_statuses",
    "languages",
    "subjects",
    "rights",
    "funders",
    "periodicals",
    "publishers",
    "affiliations",
    "file_types",
]
"""The default records subcounts (07 §3.1)."""


def expected_deltas(versions, events, scope, last):
    """Every day's delta document of the scope, from the oracle."""
    days = records_oracle(versions, events, scope, last, keys=KEYS)
    return {
        f"{scope}-{day.isoformat()}": {
            "community_id": scope,
            "period_start": f"{day.isoformat()}T00:00:00",
            "period_end": f"{day.isoformat()}T23:59:59",
            **{k: v for k, v in result.delta.items() if k != "subcounts"},
            "subcounts": {
                key: [
                    {**item, "label": expected_label(key, item["id"])}
                    for item in result.delta["subcounts"][key]
                ]
                for key in KEYS
            },
        }
        for day, result in days.items()
    }


TOP_KEYS = (
    "languages",
    "subjects",
    "rights",
    "funders",
    "periodicals",
    "publishers",
    "affiliations",
)
"""The records subcounts whose snapshots are "top" lists by default."""


def expected_snapshots(versions, events, scope, last, top_limit):
    """Every day's snapshot document of the scope, from the oracle."""
    days = records_oracle(
        versions,
        events,
        scope,
        last,
        keys=KEYS,
        top=dict.fromkeys(TOP_KEYS, top_limit),
    )
    return {
        f"{scope}-{day.isoformat()}": {
            "community_id": scope,
            "snapshot_date": f"{day.isoformat()}T00:00:00",
            **{k: v for k, v in result.snapshot.items() if k != "subcounts"},
            "subcounts": {
                key: [
                    {**item, "label": expected_label(key, item["id"])}
                    for item in result.snapshot["subcounts"][key]
                ]
                for key in KEYS
            },
        }
        for day, result in days.items()
    }


def stored_count(alias, scope=None):
    """Documents under a prefixed alias, of one scope or all (0 without the index)."""
    index = prefix_index(alias)
    current_search_client.indices.refresh(index=index, ignore_unavailable=True)
    query = {"term": {"community_id": scope}} if scope else {"match_all": {}}
    return current_search_client.count(
        index=index, body={"query": query}, ignore_unavailable=True
    )["count"]


def stored_documents(alias, scope):
    """Every stored document of the scope under ``alias``, by id, no timestamps."""
    index = prefix_index(alias)
    current_search_client.indices.refresh(index=index)
    hits = current_search_client.search(
        index=index,
        body={"query": {"term": {"community_id": scope}}, "size": 1000},
    )["hits"]["hits"]
    found = {}
    for hit in hits:
        source = dict(hit["_source"])
        assert source.pop("timestamp") == source.pop("updated_timestamp")
        found[hit["_id"]] = source
    return found


def random_history(rng, days, scopes, count=60):
    """Versions (some new versions of others) and their membership events."""
    versions, events = {}, []
    for n in range(count):
        parent = f"rp{n // 2}" if n % 3 else f"rp{n}"
        public = rng.random() > 0.15
        files = tuple(
            (f"f{n}-{k}.{rng.choice(['pdf', 'csv'])}", rng.randrange(1, 5000))
            for k in range(rng.choice([0, 0, 1, 2]))
        )
        values = {
            "resource_types": [rng.choice(["dataset", "image", "software"])],
            "access_statuses": [rng.choice(["open", "restricted", "embargoed"])],
            "languages": rng.sample(["eng", "fra"], rng.randrange(3)),
            "affiliations": rng.sample(["o1", "o2", "o3"], rng.randrange(3)),
            "funders": rng.sample(["f1", "f2", "Local Trust"], rng.randrange(3)),
            "publishers": [rng.choice(["Pub X", "Pub Y"])],
            "subjects": rng.sample(["physics", "biology"], rng.randrange(3)),
        }
        record_id = f"rv{n}"
        versions[record_id] = Version(
            record_id,
            parent,
            rng.choice(["u1", "u2", "u3", None]),
            files,
            public=public,
            values=values,
        )
        deleted = None
        if rng.random() < 0.15:
            deleted = datetime.combine(
                rng.choice(days), datetime.min.time(), tzinfo=UTC
            ) + timedelta(seconds=rng.randrange(86_400))
        for scope in rng.sample(scopes, rng.randrange(1, len(scopes) + 1)):
            joined = datetime.combine(
                rng.choice(days), datetime.min.time(), tzinfo=UTC
            ) + timedelta(seconds=rng.randrange(86_400))
            events.append(
                MembershipEvent(
                    record_id,
                    scope,
                    "added",
                    joined,
                    joined,
                    deleted if deleted and deleted > joined else None,
                )
            )
            if scope != "global" and rng.random() < 0.3:
                left = joined + timedelta(seconds=rng.randrange(0, 5 * 86_400))
                events.append(MembershipEvent(record_id, scope, "removed", left, left))
    return versions, events
