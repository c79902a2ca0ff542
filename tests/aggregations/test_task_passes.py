"""Where the next ``--no-eager`` pass starts, from a task's JSON report (04 §9)."""

from datetime import date

from invenio_stats_dashboard.aggregations.task_passes import resume_day

TARGET = date(2025, 6, 30)


def report(*passes):
    """A task report with one aggregator holding ``passes`` (status, last day)."""
    return {
        "results": [
            {
                "name": "community-records-delta-added-agg",
                "passes": [
                    {"status": status, "last_day": last} for status, last in passes
                ],
            }
        ]
    }


def test_the_earliest_unfinished_pass_sets_the_next_start():
    found = resume_day(
        report(("completed", "2025-06-01"), ("completed", "2025-05-10")), TARGET
    )
    assert found == date(2025, 5, 11)


def test_caught_up_nothing_to_do_and_failed_passes_need_no_next_pass():
    assert resume_day(report(("completed", "2025-06-30")), TARGET) is None
    assert resume_day(report(("nothing to do", None)), TARGET) is None
    assert resume_day(report(("failed", "2025-01-01")), TARGET) is None
    assert resume_day(report(("completed", None)), TARGET) is None
    assert resume_day({"results": []}, TARGET) is None
