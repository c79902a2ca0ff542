r"""Benchmark of the aggregators (04 "Beyond the original").

Runs against the real services of ``scripts/services.sh`` under its own index prefix
(``bench-<random>-``), deleted at the end (``--keep`` leaves it). It builds the
chapter's seeded dataset directly with bulk requests:

- ``--versions`` record versions (default 5,000; parents with one to three versions)
  in ``{P}rdmrecords-records``, with files, owners and the metadata of the default
  subcounts, published over ``--years`` years of history (default 2);
- their membership log: every version in ``global`` and half of them in one or two of
  ``--communities`` communities (default 20), some removed or deleted later;
- ``--views`` views and ``--downloads`` downloads (default 500,000 and 200,000),
  enriched as the live indexer writes them, in the migrated monthly indices.

Then it measures, per aggregator in run order, over the 21 scopes:

1. the full catch-up (``aggregate`` semantics: passes repeated until today): wall
   time, OpenSearch requests, requests per scope-day and the process's peak RSS;
2. an hourly steady-state run (the scheduled task: one pass per aggregator and
   scope) after one hour of new activity: wall time and requests;
3. peak RSS of a full catch-up of the same distinct items over 1 and 10 years of
   history (``--memory-scopes`` scopes), to show memory does not grow with history.

Usage::

    bash scripts/services.sh start && eval "$(bash scripts/services.sh env)"
    .venv/bin/python benchmarks/aggregation.py --versions 1000 --views 50000 \\
        --downloads 20000                                      # quick
    .venv/bin/python benchmarks/aggregation.py                 # the chapter's dataset
"""

import argparse
import random
import secrets
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bench_app import build_app  # noqa: E402 - a sibling module of this script
from usage_migration import (  # noqa: E402
    RequestCounter,
    RssSampler,
    cleanup,
    create_indices,
    log,
    malloc_trim,
)

SPEC_REQUESTS_PER_SCOPE_DAY = 1.0
SPEC_STEADY_SECONDS = 60.0
SPEC_MEMORY_GROWTH = 0.10
RESOURCE_TYPES = [
    ("dataset", "Dataset"),
    ("image", "Image"),
    ("software", "Software"),
    ("publication-article", "Journal article"),
    ("poster", "Poster"),
]
LANGUAGES = [
    ("eng", "English"),
    ("fra", "French"),
    ("deu", "German"),
    ("spa", "Spanish"),
]
EXTENSIONS = ["pdf", "csv", "png", "zip", "txt"]
COUNTRIES = ["CH", "DE", "FR", "US", "GB", "IT", "ES", "NL", "SE", "JP"]
STAMP = "%Y-%m-%dT%H:%M:%S"


@dataclass
class Version:
    """One synthetic version and its memberships."""

    record_id: str
    parent_id: str
    owner: str
    published: datetime
    files: list = field(default_factory=list)
    resource_type: tuple = ("dataset", "Dataset")
    languages: list = field(default_factory=list)
    affiliations: list = field(default_factory=list)
    funders: list = field(default_factory=list)
    publisher: str = ""
    public: bool = True
    communities: list = field(default_factory=list)
    """``(community, added, removed or None)``."""
    deleted: datetime | None = None


def at(day, rng):
    """Return a random moment of ``day`` (UTC)."""
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(
        seconds=rng.randrange(86_400)
    )


def make_versions(count, communities, first, last, rng):
    """Versions published between ``first`` and ``last``, with their memberships."""
    span = (last - first).days + 1
    versions = []
    for n in range(count):
        parent = (
            versions[-1].parent_id if n and rng.random() < 0.3 else uuid.uuid4().hex
        )
        published = at(first + timedelta(days=rng.randrange(span)), rng)
        files = [
            (f"file{n}-{k}.{ext}", ext, rng.randrange(1_000, 50_000_000))
            for k, ext in enumerate(rng.sample(EXTENSIONS, rng.choice((0, 1, 1, 2, 3))))
        ]
        version = Version(
            record_id=uuid.uuid4().hex,
            parent_id=parent,
            owner=f"u{rng.randrange(800)}",
            published=published,
            files=files,
            resource_type=rng.choice(RESOURCE_TYPES),
            languages=rng.sample(LANGUAGES, rng.choice((0, 1, 1, 2))),
            affiliations=[
                f"org{rng.randrange(300)}" for _ in range(rng.choice((0, 1, 2, 3)))
            ],
            funders=[
                f"fund{rng.randrange(50)}" for _ in range(rng.choice((0, 0, 1, 2)))
            ],
            publisher=f"Publisher {rng.randrange(30)}",
            public=rng.random() > 0.05,
        )
        if rng.random() < 0.5:
            for community in rng.sample(
                communities, min(len(communities), rng.choice((1, 1, 2)))
            ):
                added = published + timedelta(
                    days=rng.choice((0, 0, 0, rng.randrange(60)))
                )
                removed = None
                if rng.random() < 0.05:
                    removed = added + timedelta(days=rng.randrange(1, 200))
                version.communities.append((community, added, removed))
        if rng.random() < 0.03:
            version.deleted = published + timedelta(days=rng.randrange(1, 300))
        versions.append(version)
    return versions


def record_source(v):
    """Return the ``_source`` of a version in the records index (what aggregation reads)."""
    return {
        "id": v.record_id,
        "uuid": str(uuid.uuid4()),
        "created": v.published.strftime(STAMP),
        "updated": v.published.strftime(STAMP),
        "is_published": True,
        "parent": {"id": v.parent_id, "access": {"owned_by": {"user": v.owner}}},
        "files": {
            "enabled": bool(v.files),
            "entries": [{"key": k, "ext": e, "size": s} for k, e, s in v.files],
        },
        "access": {
            "record": "public" if v.public else "restricted",
            "files": "public",
            "status": "open" if v.public else "restricted",
        },
        "metadata": {
            "resource_type": {
                "id": v.resource_type[0],
                "title": {"en": v.resource_type[1]},
            },
            "languages": [{"id": i, "title": {"en": t}} for i, t in v.languages],
            "creators": [
                {
                    "person_or_org": {"type": "personal", "name": "Bench, A"},
                    "affiliations": [
                        {"id": a, "name": a.upper()} for a in v.affiliations
                    ],
                }
            ],
            "funding": [{"funder": {"id": f, "name": f.upper()}} for f in v.funders],
            "publisher": v.publisher,
        },
    }


def membership_events(v):
    """Yield the log documents of a version (``global`` and its communities)."""
    from invenio_stats_dashboard.timeutils import format_utc

    def event(scope, kind, moment, deleted=None):
        document = {
            "record_id": v.record_id,
            "community_id": scope,
            "event_type": kind,
            "event_date": format_utc(moment),
            "is_deleted": deleted is not None,
            "timestamp": format_utc(moment),
            "updated_timestamp": format_utc(moment),
        }
        if deleted is not None:
            document["deleted_date"] = format_utc(deleted)
        return moment, f"{scope}_{v.record_id}_{kind}_{moment:%Y%m%dT%H%M%S}", document

    yield event("global", "added", v.published, v.deleted)
    for community, added, removed in v.communities:
        deleted = v.deleted if v.deleted and v.deleted > added else None
        yield event(community, "added", added, deleted)
        if removed is not None:
            yield event(community, "removed", removed)


def usage_event(v, moment, rng, download, member_of):
    """One enriched view or download of version ``v``."""
    event = {
        "timestamp": moment.strftime(STAMP),
        "recid": v.record_id,
        "parent_recid": v.parent_id,
        "visitor_id": f"vis{rng.randrange(20_000)}",
        "unique_session_id": uuid.uuid4().hex,
        "unique_id": f"ui_{v.record_id}",
        "is_robot": rng.random() < 0.02,
        "is_machine": rng.random() < 0.03,
        "country": rng.choice(COUNTRIES),
        "community_ids": member_of,
        "access_status": "open" if v.public else "restricted",
    }
    if v.public:
        event.update(
            resource_type={
                "id": v.resource_type[0],
                "title": {"en": v.resource_type[1]},
            },
            languages=[{"id": i, "title": {"en": t}} for i, t in v.languages],
            affiliations=[{"id": a, "name": a.upper()} for a in v.affiliations],
            funders=[{"id": f, "name": f.upper()} for f in v.funders],
            publisher=v.publisher,
            file_types=sorted({e for _, e, _ in v.files}),
        )
    if download:
        key, ext, size = rng.choice(v.files)
        event.update(file_id=f"{v.record_id}-{key}", file_key=key, size=size)
    return event


def members_at(v, moment):
    """Communities whose member ``v`` is at ``moment`` (what enrichment writes)."""
    if v.deleted is not None and v.deleted <= moment:
        return []
    return [
        c
        for c, added, removed in v.communities
        if added <= moment and (removed is None or removed > moment)
    ]


def build_dataset(client, args, first, last, rng, communities):
    """Index versions, memberships and usage events; return the versions."""
    from invenio_rdm_records.records.api import RDMRecord
    from invenio_search.utils import prefix_index
    from opensearchpy.helpers import bulk

    from invenio_stats_dashboard.community_events.documents import alias_name
    from invenio_stats_dashboard.community_events.marker import write_marker
    from invenio_stats_dashboard.timeutils import utc_now
    from invenio_stats_dashboard.usage_events.names import read_alias, target_index

    versions = make_versions(args.versions, communities, first, last, rng)
    records_index = prefix_index(RDMRecord.index._name)
    bulk(
        client,
        (
            {"_index": records_index, "_id": v.record_id, "_source": record_source(v)}
            for v in versions
        ),
        chunk_size=2000,
        request_timeout=300,
    )
    client.indices.refresh(index=prefix_index("rdmrecords-records"))

    def log_actions():
        for v in versions:
            for moment, doc_id, document in membership_events(v):
                yield {
                    "_index": prefix_index(f"stats-community-events-{moment.year}"),
                    "_id": doc_id,
                    "_source": document,
                }

    bulk(client, log_actions(), chunk_size=5000, request_timeout=300)
    client.indices.refresh(index=alias_name())
    write_marker(client, utc_now())

    with_files = [v for v in versions if v.files]
    for event_type, total, pool in (
        ("view", args.views, versions),
        ("download", args.downloads, with_files),
    ):

        def actions(event_type=event_type, total=total, pool=pool):
            for n in range(total):
                v = rng.choice(pool)
                start = max(
                    v.published,
                    datetime.combine(first, datetime.min.time(), tzinfo=UTC),
                )
                end = datetime.combine(
                    last + timedelta(days=1), datetime.min.time(), tzinfo=UTC
                )
                if start >= end:
                    continue
                moment = start + timedelta(
                    seconds=rng.randrange(int((end - start).total_seconds()))
                )
                event = usage_event(
                    v, moment, rng, event_type == "download", members_at(v, moment)
                )
                yield {
                    "_index": target_index(event_type, moment.strftime("%Y-%m")),
                    "_id": f"{event_type}-{n}",
                    "_source": event,
                }

        bulk(client, actions(), chunk_size=5000, request_timeout=600)
        client.indices.refresh(index=read_alias(event_type))
    return versions


@dataclass
class Row:
    """One line of the table."""

    what: str
    scopes: int = 0
    scope_days: int = 0
    seconds: float = 0.0
    requests: int = 0
    searches: int = 0
    rss_mb: float = 0.0
    peak_mb: float = 0.0


def run_aggregators(names, scopes, today, catch_up, counter):
    """Run ``names`` (each on its own) and return a Row per aggregator."""
    from invenio_stats_dashboard.aggregations.base import RunOptions
    from invenio_stats_dashboard.aggregations.run import (
        AggregationRequest,
        AggregationRun,
    )

    rows = []
    for name in names:
        malloc_trim()
        before = counter.snapshot()
        request = AggregationRequest(
            aggregations=(name,),
            community_ids=tuple(scopes),
            options=RunOptions(today=today),
            catch_up=catch_up,
        )
        with RssSampler() as rss:
            started = time.perf_counter()
            result = AggregationRun(migration_state=lambda: "complete").run(request)
            seconds = time.perf_counter() - started
        if result.status != "completed":
            raise SystemExit(
                f"{name}: {result.status}\n{result.as_dict()['formatted_report']}"
            )
        used = counter.snapshot() - before
        passes = result.results[0].passes
        rows.append(
            Row(
                what=name,
                scopes=len({p.scope for p in passes}),
                scope_days=sum(p.days for p in passes),
                seconds=seconds,
                requests=sum(used.values()),
                searches=used["search"] + used["count"],
                rss_mb=(rss.peak - rss.baseline) / 2**20,
                peak_mb=rss.peak / 2**20,
            )
        )
    return rows


def add_one_hour(client, versions, communities, today, rng):
    """Add one hour of activity: 20 versions joining scopes and 2,000 events."""
    from invenio_search.utils import prefix_index
    from opensearchpy.helpers import bulk

    from invenio_stats_dashboard.usage_events.names import read_alias, target_index

    now = datetime.now(UTC).replace(microsecond=0)
    fresh = make_versions(20, communities, today, today, rng)
    for v in fresh:
        v.published = now - timedelta(minutes=rng.randrange(60))
        v.communities = [(c, v.published, None) for c, _, _ in v.communities]
    from invenio_rdm_records.records.api import RDMRecord

    bulk(
        client,
        (
            {
                "_index": prefix_index(RDMRecord.index._name),
                "_id": v.record_id,
                "_source": record_source(v),
            }
            for v in fresh
        ),
        request_timeout=300,
    )
    actions = [
        {
            "_index": prefix_index(f"stats-community-events-{m.year}"),
            "_id": i,
            "_source": d,
        }
        for v in fresh
        for m, i, d in membership_events(v)
    ]
    for n in range(2_000):
        v = rng.choice(versions)
        moment = now - timedelta(seconds=rng.randrange(3600))
        download = bool(v.files) and n % 3 == 0
        event_type = "download" if download else "view"
        actions.append(
            {
                "_index": target_index(event_type, moment.strftime("%Y-%m")),
                "_id": f"hour-{n}",
                "_source": usage_event(v, moment, rng, download, members_at(v, moment)),
            }
        )
    bulk(client, actions, request_timeout=300)
    for alias in (
        prefix_index("rdmrecords-records"),
        prefix_index("stats-community-events"),
        read_alias("view"),
        read_alias("download"),
    ):
        client.indices.refresh(index=alias)


def print_table(title, rows):
    """Print one table."""
    print(f"\n{title}")
    print(
        "| aggregator | scopes | scope-days | s | requests | requests / scope-day "
        "| searches | RSS growth MB | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        per = row.requests / row.scope_days if row.scope_days else 0.0
        print(
            f"| {row.what} | {row.scopes} | {row.scope_days:,} | {row.seconds:.1f} | "
            f"{row.requests:,} | {per:.2f} | {row.searches:,} | {row.rss_mb:.0f} | "
            f"{row.peak_mb:.0f} |"
        )


def memory_history(client, args, counter, rng, today):
    """Peak RSS of a full catch-up with the same items over 1 and 10 years."""
    from invenio_search.utils import prefix_index

    results = {}
    for years in (1, 10):
        from invenio_stats_dashboard.proxies import current_community_stats

        for pattern in (
            "stats-community-*",
            "stats-bookmarks-*",
            "events-stats-*",
            "rdmrecords-records*",
        ):
            client.indices.delete(
                index=prefix_index(pattern),
                allow_no_indices=True,
                expand_wildcards="all",
                request_timeout=300,
            )
        from invenio_rdm_records.records.api import RDMRecord
        from invenio_search import current_search

        list(current_search.create(index_list=[RDMRecord.index._name]))
        current_community_stats.ensure_search_setup(force=True)
        local = random.Random(args.seed + 1)  # the same versions and events each time
        first = today - timedelta(days=365 * years - 1)
        small = argparse.Namespace(
            versions=args.versions // 5,
            views=args.views // 10,
            downloads=args.downloads // 10,
        )
        communities = [f"mem-c{n}" for n in range(args.memory_scopes - 1)]
        build_dataset(
            client, small, first, today - timedelta(days=1), local, communities
        )
        rows = run_aggregators(ORDER, [*communities, "global"], today, True, counter)
        results[years] = rows
    return results


def print_memory(memory):
    """Print the 1- and 10-year peak RSS table."""
    print("\nPeak RSS of a full catch-up, same distinct items")
    print("| aggregator | 1 year MB | 10 years MB | growth |")
    print("|---|---|---|---|")
    for one, ten in zip(memory[1], memory[10], strict=True):
        growth = (ten.peak_mb - one.peak_mb) / one.peak_mb
        print(f"| {one.what} | {one.peak_mb:.0f} | {ten.peak_mb:.0f} | {growth:+.1%} |")


ORDER = (
    "community-usage-delta-agg",
    "community-records-delta-added-agg",
    "community-records-snapshot-added-agg",
    "community-usage-snapshot-agg",
)


def parse_args(argv):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=5_000)
    parser.add_argument("--communities", type=int, default=20)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--views", type=int, default=500_000)
    parser.add_argument("--downloads", type=int, default=200_000)
    parser.add_argument("--memory-scopes", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="only the 1- and 10-year memory table",
    )
    parser.add_argument("--seed", type=int, default=20251205)
    parser.add_argument("--keep", action="store_true")
    return parser.parse_args(argv)


def main(argv=None):
    """Build the dataset, run every measurement and print the tables."""
    args = parse_args(argv)
    prefix = f"bench-{secrets.token_hex(4)}-"
    app = build_app(prefix)
    rng = random.Random(args.seed)
    with app.app_context():
        from invenio_search import current_search_client

        from invenio_stats_dashboard.proxies import current_community_stats

        client = current_search_client._get_current_object()
        counter = RequestCounter(client)
        try:
            create_indices()
            current_community_stats.ensure_search_setup(force=True)
            today = datetime.now(UTC).date()
            first = today - timedelta(days=365 * args.years)
            communities = [f"bench-c{n}" for n in range(args.communities)]
            scopes = [*communities, "global"]
            if args.memory_only:
                print_memory(memory_history(client, args, counter, rng, today))
                return 0
            log("building the dataset")
            versions = build_dataset(
                client, args, first, today - timedelta(days=1), rng, communities
            )
            log("full catch-up")
            catch_up = run_aggregators(ORDER, scopes, today, True, counter)
            print_table(
                f"Full catch-up: {len(scopes)} scopes, {args.years} years, "
                f"{args.versions:,} versions, {args.views:,} views, "
                f"{args.downloads:,} downloads",
                catch_up,
            )
            total_requests = sum(r.requests for r in catch_up)
            scope_days = max(r.scope_days for r in catch_up)
            print(
                f"\nAll four together: {total_requests:,} requests over {scope_days:,} "
                f"scope-days = {total_requests / scope_days:.2f} per scope-day "
                f"(target ≤ {SPEC_REQUESTS_PER_SCOPE_DAY})"
            )
            log("hourly steady state")
            add_one_hour(client, versions, communities, today, rng)
            steady = run_aggregators(ORDER, scopes, today, False, counter)
            print_table(
                "Hourly steady state (one pass per aggregator and scope)", steady
            )
            seconds = sum(r.seconds for r in steady)
            print(
                f"\nSteady-state run, all four: {seconds:.1f} s "
                f"(target < {SPEC_STEADY_SECONDS:.0f} s)"
            )
            if not args.skip_memory:
                log("memory over 1 and 10 years")
                print_memory(memory_history(client, args, counter, rng, today))
        finally:
            counter.close()
            if not args.keep:
                cleanup(client, prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
