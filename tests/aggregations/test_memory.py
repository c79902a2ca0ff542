"""The memory budget of a pass (04 §10): shrink the pages, then stop."""

import pytest

from invenio_stats_dashboard.aggregations.memory import (
    PageBudget,
    memory_budget,
    process_rss,
    total_memory,
)
from invenio_stats_dashboard.aggregations.writer import PassStopped

MIB = 2**20


class Meter:
    """A resident-memory reading the test sets."""

    def __init__(self, value: int):
        self.value = value

    def __call__(self) -> int:
        return self.value


def test_under_budget_the_page_keeps_its_size():
    meter = Meter(100 * MIB)
    pages = PageBudget(200, 50, budget=200 * MIB, measure=meter)
    assert [pages.next_size() for _ in range(3)] == [200, 200, 200]
    assert pages.over_budget() is False


def test_over_budget_pages_halve_to_the_minimum_then_the_pass_stops():
    meter = Meter(300 * MIB)
    pages = PageBudget(200, 50, budget=200 * MIB, measure=meter)
    assert pages.next_size() == 100
    assert pages.next_size() == 50
    with pytest.raises(PassStopped, match="memory budget: resident memory 300 MiB"):
        pages.next_size()
    assert pages.exhausted and pages.over_budget()  # stays stopped
    assert "over 200 MiB at the minimum page size 50" in pages.reason()


def test_back_under_budget_the_smaller_page_stays():
    meter = Meter(300 * MIB)
    pages = PageBudget(200, 50, budget=200 * MIB, measure=meter)
    pages.next_size()
    meter.value = 150 * MIB
    assert pages.next_size() == 100


def test_a_configured_page_shrinks_in_proportion():
    meter = Meter(300 * MIB)
    pages = PageBudget(200, 50, budget=200 * MIB, measure=meter)
    assert pages.next_size(1000) == 500  # 200 -> 100
    meter.value = 0
    assert pages.next_size(1000) == 500
    assert pages.next_size(1) == 1  # never below one


def test_the_budget_comes_from_bytes_or_the_ram_fraction():
    assert memory_budget({"COMMUNITY_STATS_MEM_BUDGET_BYTES": 12345}) == 12345
    config = {
        "COMMUNITY_STATS_MEM_BUDGET_BYTES": None,
        "COMMUNITY_STATS_MEM_HIGH_WATER_PERCENT": 0.5,
    }
    assert memory_budget(config) == total_memory() // 2


def test_from_config_bounds_the_page_by_the_maximum():
    pages = PageBudget.from_config(
        {
            "COMMUNITY_STATS_SCAN_PAGE_SIZE": 800,
            "COMMUNITY_STATS_SCAN_PAGE_SIZE_MIN": 50,
            "COMMUNITY_STATS_SCAN_PAGE_SIZE_MAX": 500,
            "COMMUNITY_STATS_MEM_BUDGET_BYTES": 10**12,
        }
    )
    assert (pages.size, pages.minimum, pages.budget) == (500, 50, 10**12)


def test_process_rss_reads_this_process():
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    expected = int(line.split()[1]) * 1024
    assert abs(process_rss() - expected) < 64 * MIB
