"""The range of a pass and where its bookmark may go (04 §7.4)."""

from datetime import date

from invenio_stats_dashboard.aggregations.ranges import pass_range

START, TODAY = date(2025, 6, 1), date(2025, 6, 30)


def plan(**kwargs):
    """Plan with the scope start, today and a 365-day interval unless given."""
    values = {"scope_start": START, "bookmark": None, "today": TODAY, "interval": 365}
    return pass_range(**{**values, **kwargs})


def test_a_first_pass_runs_from_the_scope_start_to_today():
    """No bookmark: the scope start; the end is today."""
    planned = plan()
    assert (planned.first, planned.last, planned.days) == (START, TODAY, 30)
    assert planned.moves_bookmark


def test_a_continuing_pass_recomputes_the_day_before_the_bookmark():
    """Late events of the previous day are caught."""
    planned = plan(bookmark=date(2025, 6, 10))
    assert (planned.first, planned.last) == (date(2025, 6, 9), TODAY)


def test_an_explicit_start_wins_over_a_stored_bookmark():
    """Must-not-repeat 32: bookmark 06-10, --start-date 06-03 rewrites from 06-03."""
    planned = plan(bookmark=date(2025, 6, 10), start_date=date(2025, 6, 3))
    assert planned.first == date(2025, 6, 3)
    assert planned.moves_bookmark  # the rebuild may move the bookmark back


def test_a_start_after_the_day_after_the_bookmark_leaves_it_alone():
    """Days between the bookmark and the start would stay unprocessed."""
    planned = plan(bookmark=date(2025, 6, 10), start_date=date(2025, 6, 12))
    assert not planned.moves_bookmark
    assert "unprocessed" in planned.reason
    assert plan(bookmark=date(2025, 6, 10), start_date=date(2025, 6, 11)).moves_bookmark


def test_an_explicit_start_later_than_the_scope_start_without_bookmark_stays():
    """Without a bookmark only a pass from the scope start may set one."""
    assert not plan(start_date=date(2025, 6, 5)).moves_bookmark


def test_no_update_bookmark_and_ignore_bookmark():
    """--no-update-bookmark keeps it; --ignore-bookmark starts at the scope start."""
    assert not plan(update_bookmark=False).moves_bookmark
    planned = plan(bookmark=date(2025, 6, 10), ignore_bookmark=True)
    assert planned.first == START


def test_never_before_the_scope_start_nor_after_today_or_the_end_date():
    """Dates outside the scope are clamped; a start after the end does nothing."""
    assert plan(start_date=date(2025, 5, 1)).first == START
    assert plan(end_date=date(2025, 7, 9)).last == TODAY
    assert plan(end_date=date(2025, 6, 5)).last == date(2025, 6, 5)
    assert plan(scope_start=None) is None
    assert plan(start_date=date(2025, 6, 20), end_date=date(2025, 6, 19)) is None


def test_the_interval_counts_new_days():
    """Interval 5 over 12 days: 5, 10, 12 days covered (04 §13 test 9)."""
    today = date(2025, 6, 12)
    first = plan(interval=5, today=today)
    assert (first.first, first.last) == (START, date(2025, 6, 5))
    second = plan(interval=5, today=today, bookmark=first.last)
    assert (second.first, second.last) == (date(2025, 6, 4), date(2025, 6, 10))
    third = plan(interval=5, today=today, bookmark=second.last)
    assert third.last == today
