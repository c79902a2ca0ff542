"""Rules for the test suite itself (09 §9 #14, #16)."""

import re
from pathlib import Path

TESTS = Path(__file__).parent
SKIP = re.compile(r"pytest\.(skip|xfail)\(|mark\.(skip|skipif|xfail)\b")
ISSUE_REFERENCE = re.compile(r"issue #?\d+", re.IGNORECASE)


def test_no_skip_or_xfail_without_an_issue_reference():
    """A skipped or expected-to-fail test must name the issue that will fix it."""
    offenders = []
    for path in TESTS.rglob("*.py"):
        if path == Path(__file__):
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if SKIP.search(line) and not ISSUE_REFERENCE.search(line):
                offenders.append(f"{path.relative_to(TESTS)}:{number}: {line.strip()}")
    assert offenders == []


def test_pytest_config_is_strict():
    """09 §9 #16: strict markers and config, and no bogus keys in the ini options."""
    pyproject = (TESTS.parent / "pyproject.toml").read_text()
    assert "--strict-markers" in pyproject
    assert "--strict-config" in pyproject


def test_no_skipped_aggregation_tests_at_all():
    """04 §12 row 28: nothing in ``tests/aggregations`` is skipped, issue or not."""
    offenders = [
        f"{path.relative_to(TESTS)}:{number}"
        for path in (TESTS / "aggregations").rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if SKIP.search(line)
    ]
    assert offenders == []
