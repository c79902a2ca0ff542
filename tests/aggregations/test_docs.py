"""The docs describe this version's aggregation (04 §12 row 27)."""

import re
from pathlib import Path

from invenio_stats_dashboard.aggregations.names import RUN_ORDER

DOCS = Path(__file__).resolve().parents[2] / "docs"
AGGREGATOR_NAME = re.compile(r"community-[a-z-]+-agg\b")


def docs_text():
    """Every Markdown page of the docs, joined."""
    return "\n".join(path.read_text() for path in sorted(DOCS.glob("*.md")))


def test_the_docs_name_exactly_the_registered_aggregators():
    named = set(AGGREGATOR_NAME.findall(docs_text()))
    assert named == {*RUN_ORDER, "community-events-agg"}


def test_the_docs_use_the_real_interval_variable_and_no_wrong_claims():
    text = docs_text()
    assert "COMMUNITY_STATS_CATCHUP_INTERVAL" in text
    assert "STATS_DASHBOARD_CATCHUP_INTERVAL" not in text
    assert not re.search(r"\beight aggregators\b", text, re.IGNORECASE)
