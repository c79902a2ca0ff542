"""Benchmark of the community-events backfill (02 §5, "Beyond the original").

Runs against the real OpenSearch of ``scripts/services.sh`` under its own index prefix
(``bench-<random>-``), which it deletes at the end. For each size it synthesises
published record versions directly in ``{P}rdmrecords-records`` (only the fields the
backfill reads: ``id``, ``created``, ``parent.id``, ``parent.communities.ids``,
``metadata.publication_date``, ``deletion_status``) and communities in
``{P}communities``, both created from InvenioRDM's own mappings, then times:

- ``CommunityEventsBackfill(...).run(write=True)`` on an empty log (the backfill);
- the same again (a no-op re-run: every membership is already present);
- ``run(write=False)`` (the counting pass behind ``community-events status``).

It checks that the log then holds exactly one document per membership (no 10,000
cap) and prints a table. Usage::

    bash scripts/services.sh start && eval "$(bash scripts/services.sh env)"
    .venv/bin/python benchmarks/community_events_backfill.py --sizes 5000x1,50000x1

A size ``NxC`` is N versions, each of whose parent is in C communities, so it has
N × (1 + C) memberships (``global`` plus C).
"""

import argparse
import secrets
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from bench_app import build_app  # noqa: E402 - a sibling module of this script

SPEC_TARGET_VERSIONS_PER_SECOND = 500


def parse_sizes(text):
    """Parse ``NxC,NxC``: versions and communities per parent."""
    sizes = []
    for part in text.split(","):
        versions, _, communities = part.strip().lower().partition("x")
        sizes.append((int(versions), int(communities or 1)))
    return sizes


def create_indices():
    """Create the records, communities, requests and request-events indices."""
    from invenio_communities.communities.records.api import Community
    from invenio_rdm_records.records.api import RDMRecord
    from invenio_requests.records.api import Request, RequestEvent
    from invenio_search import current_search

    names = [cls.index._name for cls in (RDMRecord, Community, Request, RequestEvent)]
    list(current_search.create(index_list=names))


def index_communities(client, count):
    """``count`` communities created on 2020-01-01 plus one day each."""
    from invenio_communities.communities.records.api import Community
    from invenio_search.utils import prefix_index
    from opensearchpy.helpers import bulk

    start = datetime(2020, 1, 1, tzinfo=UTC)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    actions = [
        {
            "_index": prefix_index(Community.index._name),
            "_id": community_id,
            "_source": {
                "id": community_id,
                "uuid": community_id,
                "slug": f"bench-{number}",
                "created": (start + timedelta(days=number)).isoformat(),
                "updated": (start + timedelta(days=number)).isoformat(),
            },
        }
        for number, community_id in enumerate(ids)
    ]
    bulk(client, actions, refresh=True)
    return ids


def version_actions(versions, community_ids, per_community, versions_per_parent):
    """Bulk actions of ``versions`` published versions (sorted ``created``)."""
    from invenio_rdm_records.records.api import RDMRecord
    from invenio_search.utils import prefix_index

    index = prefix_index(RDMRecord.index._name)
    start = datetime(2021, 1, 1, tzinfo=UTC)
    for number in range(versions):
        parent = number // versions_per_parent
        scopes = [
            community_ids[(parent + k) % len(community_ids)]
            for k in range(per_community)
        ]
        record_uuid = str(uuid.uuid4())
        yield {
            "_index": index,
            "_id": record_uuid,
            "_source": {
                "id": f"bench-{number:07d}",
                "uuid": record_uuid,
                "created": (start + timedelta(seconds=30 * number)).isoformat(),
                "parent": {
                    "id": f"parent-{parent:07d}",
                    "communities": {"ids": scopes},
                },
                "metadata": {
                    "publication_date": ["2020", "2020-05", "2020/2021"][number % 3]
                },
                "deletion_status": "P",
                "is_deleted": False,
            },
        }


def log_count(client):
    """Documents in the log after a refresh."""
    from invenio_stats_dashboard.community_events.documents import alias_name

    client.indices.refresh(index=alias_name())
    return client.count(index=alias_name())["count"]


def delete_log(client):
    """Delete the yearly log indices (the template stays)."""
    from invenio_search.utils import prefix_index

    client.indices.delete(
        index=prefix_index("stats-community-events-*"), allow_no_indices=True
    )


def timed(function):
    """Run ``function``; return its result and the seconds it took."""
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def counting_requests(client, function):
    """Run ``function``; return its result and the requests sent to the cluster."""
    transport = client.transport
    original = transport.perform_request
    calls = []

    def perform_request(method, url, *args, **kwargs):
        calls.append((method, url))
        return original(method, url, *args, **kwargs)

    transport.perform_request = perform_request
    try:
        return function(), calls
    finally:
        transport.perform_request = original


def bench_size(client, versions, per_community, args):
    """Build one data set, time the three passes, check the counts; return a row."""
    from invenio_search.utils import prefix_index
    from opensearchpy.helpers import bulk

    from invenio_stats_dashboard.community_events.backfill import (
        BackfillFilters,
        CommunityEventsBackfill,
    )

    communities = index_communities(client, max(args.communities, per_community))
    actions = version_actions(
        versions, communities, per_community, args.versions_per_parent
    )
    (_, index_seconds) = timed(
        lambda: bulk(client, actions, chunk_size=5000, request_timeout=120)
    )
    client.indices.refresh(index=prefix_index("rdmrecords-records"))
    memberships = versions * (1 + per_community)

    def backfill(write):
        return CommunityEventsBackfill(client, BackfillFilters()).run(write=write)

    (report, first), write_calls = counting_requests(
        client, lambda: timed(lambda: backfill(True))
    )
    stored = log_count(client)
    again, second = timed(lambda: backfill(True))
    (counted, status), status_calls = counting_requests(
        client, lambda: timed(lambda: backfill(False))
    )
    problems = []
    if report.records_processed != versions:
        problems.append(f"processed {report.records_processed} != {versions}")
    if report.added_written != memberships or stored != memberships:
        problems.append(
            f"written {report.added_written}, stored {stored} != {memberships}"
        )
    if again.new_events_created or again.old_events_found != memberships:
        problems.append(f"re-run wrote {again.new_events_created}")
    if counted.total_events_needed or counted.total_records != versions:
        problems.append(f"status found {counted.total_events_needed} missing")
    if report.failures:
        problems.append(f"{len(report.failures)} failures: {report.failures[:3]}")
    # next size starts from an empty log and records index
    delete_log(client)
    client.delete_by_query(
        index=prefix_index("rdmrecords-records"),
        body={"query": {"match_all": {}}},
        refresh=True,
        conflicts="proceed",
    )
    client.delete_by_query(
        index=prefix_index("communities"),
        body={"query": {"match_all": {}}},
        refresh=True,
        conflicts="proceed",
    )
    return {
        "versions": versions,
        "communities": per_community,
        "memberships": memberships,
        "stored": stored,
        "index_seconds": index_seconds,
        "seconds": first,
        "rerun_seconds": second,
        "status_seconds": status,
        "write_requests": len(write_calls),
        "refreshes": sum("/_refresh" in url for _, url in write_calls),
        "status_requests": len(status_calls),
        "problems": problems,
    }


def print_table(rows):
    """Print one line per size."""
    header = (
        f"{'memberships':>11} {'versions':>8} {'x comm':>6} {'stored':>8} "
        f"{'seconds':>8} {'memb/s':>8} {'vers/s':>8} "
        f"{'re-run s':>8} {'status s':>8} {'req gen':>7} {'refresh':>7} "
        f"{'req st':>6}  result"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['memberships']:>11,} {row['versions']:>8,} "
            f"{row['communities']:>6} {row['stored']:>8,} "
            f"{row['seconds']:>8.2f} {row['memberships'] / row['seconds']:>8,.0f} "
            f"{row['versions'] / row['seconds']:>8,.0f} "
            f"{row['rerun_seconds']:>8.2f} {row['status_seconds']:>8.2f} "
            f"{row['write_requests']:>7,} {row['refreshes']:>7} "
            f"{row['status_requests']:>6,}  "
            + ("ok" if not row["problems"] else "; ".join(row["problems"]))
        )


def cleanup(client, prefix):
    """Delete every index and template of the benchmark's prefix."""
    client.indices.delete(
        index=f"{prefix}*", expand_wildcards="all", allow_no_indices=True
    )
    client.indices.delete_index_template(name=f"{prefix}*", ignore=404)
    client.indices.delete_template(name=f"{prefix}*", ignore=404)


def main(argv=None):
    """Run every size; exit 1 when a count is wrong."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="5000x1,50000x1",
        help="comma-separated NxC: N versions, each parent in C communities "
        "(default: 5000x1,50000x1, i.e. 10,000 and 100,000 memberships)",
    )
    parser.add_argument(
        "--communities",
        type=int,
        default=20,
        help="communities in the index (default 20)",
    )
    parser.add_argument(
        "--versions-per-parent",
        type=int,
        default=2,
        help="published versions sharing one parent (default 2)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the indices")
    args = parser.parse_args(argv)

    prefix = f"bench-{secrets.token_hex(4)}-"
    app = build_app(prefix)
    rows = []
    with app.app_context():
        from invenio_search import current_search_client as client

        from invenio_stats_dashboard.proxies import current_community_stats

        try:
            create_indices()
            current_community_stats.ensure_search_setup(force=True)
            for versions, per_community in parse_sizes(args.sizes):
                print(
                    f"... {versions:,} versions x (global + {per_community})",
                    file=sys.stderr,
                )
                rows.append(bench_size(client, versions, per_community, args))
        finally:
            if not args.keep:
                cleanup(client, prefix)
    print(f"prefix {prefix} (removed: {not args.keep})")
    print_table(rows)
    for row in rows:
        if row["versions"] >= 50_000 and row["communities"] >= 2:
            rate = row["versions"] / row["seconds"]
            verdict = "met" if rate >= SPEC_TARGET_VERSIONS_PER_SECOND else "MISSED"
            print(
                f"spec target >= {SPEC_TARGET_VERSIONS_PER_SECOND} versions/s for "
                f"{row['versions']:,} versions x {row['communities']} communities: "
                f"{rate:,.0f} versions/s ({verdict})"
            )
    return 1 if any(row["problems"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
