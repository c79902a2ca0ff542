"""Progress of a long command: on stderr for people, in the status file for jobs.

On a TTY the bar is redrawn in place (done/total, rate, ETA). Anywhere else, such as
a background log, it prints one plain line at most every ``plain_interval`` seconds,
without carriage returns. Independently of what is shown, a command running as a
background job writes ``progress``, ``current_task`` and ``counters`` into its status
file at most once per ``status_interval`` seconds, and once more at the end (06 §1,
§8.2 step 3).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from .status import report_status, status_file_from_env

PLAIN_INTERVAL = 10.0
STATUS_INTERVAL = 1.0
TTY_INTERVAL = 0.1
BAR_CELLS = 30


def format_duration(seconds: float) -> str:
    """Return ``HH:MM:SS`` (hours may exceed 24)."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ProgressBar:
    """Report how far a long loop has got.

    Use as a context manager and call :meth:`update` after each unit of work::

        with ProgressBar(len(items), "Backfilling", show=show_progress) as bar:
            for item in items:
                ...
                bar.update(current_task=f"record {item}")
    """

    def __init__(
        self,
        total: int | None,
        label: str,
        show: bool = True,
        *,
        stream: IO[str] | None = None,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        plain_interval: float = PLAIN_INTERVAL,
        status_interval: float = STATUS_INTERVAL,
        status_file: Path | None = None,
    ) -> None:
        self.total = total
        self.label = label
        self.show = show
        self.done = 0
        self.current_task = label
        self.counters: dict[str, Any] = {}
        self._stream = stream
        self._tty = tty
        self._clock = clock
        self._plain_interval = plain_interval
        self._status_interval = status_interval
        self._status_file = status_file
        self._started = 0.0
        self._last_shown: float | None = None
        self._last_reported: float | None = None
        self._drawn_width = 0

    # -- context manager -------------------------------------------------------

    def __enter__(self) -> ProgressBar:
        """Start the clock and report the starting point."""
        if self._stream is None:
            self._stream = sys.stderr
        if self._tty is None:
            isatty = getattr(self._stream, "isatty", None)
            self._tty = bool(isatty and isatty())
        if self._status_file is None:
            self._status_file = status_file_from_env()
        self._started = self._clock()
        self._report(force=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Show and report the final state, whatever ended the loop."""
        self._show(final=True)
        self._report(force=True)

    # -- public API ------------------------------------------------------------

    def update(
        self,
        n: int = 1,
        current_task: str | None = None,
        counters: Mapping[str, Any] | None = None,
    ) -> None:
        """Count ``n`` more units done; optionally name the task and set counters."""
        self.done += n
        if current_task is not None:
            self.current_task = current_task
        if counters:
            self.counters.update(counters)
        self._show()
        self._report()

    def set_total(self, total: int | None) -> None:
        """Change the total, e.g. once a count becomes known."""
        self.total = total
        self._show()
        self._report()

    @property
    def percent(self) -> float | None:
        """Progress 0–100, or None while the total is unknown."""
        if self.total is None:
            return None
        if self.total <= 0:
            return 100.0
        return round(min(100.0, 100.0 * self.done / self.total), 1)

    # -- rendering -------------------------------------------------------------

    def _rate(self, now: float) -> float:
        elapsed = now - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def _eta(self, rate: float) -> str:
        if self.total is None or rate <= 0:
            return "--:--:--"
        return format_duration(max(0, self.total - self.done) / rate)

    def _tty_line(self, now: float) -> str:
        rate = self._rate(now)
        if self.total is None:
            return f"{self.label}: {self.done:,} done, {rate:,.1f}/s"
        filled = int(BAR_CELLS * (self.percent or 0) / 100)
        bar = "#" * filled + "-" * (BAR_CELLS - filled)
        return (
            f"{self.label}: [{bar}] {self.done:,}/{self.total:,} "
            f"{self.percent:5.1f}% {rate:,.1f}/s ETA {self._eta(rate)}"
        )

    def _plain_line(self, now: float) -> str:
        rate = self._rate(now)
        if self.total is None:
            return f"{self.label}: {self.done:,} done, {rate:,.1f}/s"
        return (
            f"{self.label}: {self.done:,}/{self.total:,} ({self.percent:.1f}%), "
            f"{rate:,.1f}/s, ETA {self._eta(rate)}"
        )

    def _show(self, final: bool = False) -> None:
        if not self.show or self._stream is None:
            return
        now = self._clock()
        interval = TTY_INTERVAL if self._tty else self._plain_interval
        last = self._last_shown if self._last_shown is not None else self._started
        if not final and now - last < interval:
            return
        self._last_shown = now
        if self._tty:
            line = self._tty_line(now)
            padding = " " * max(0, self._drawn_width - len(line))
            self._drawn_width = len(line)
            self._stream.write(f"\r{line}{padding}" + ("\n" if final else ""))
        else:
            self._stream.write(self._plain_line(now) + "\n")
        self._stream.flush()

    # -- status file -----------------------------------------------------------

    def _report(self, force: bool = False) -> None:
        if self._status_file is None:
            return
        now = self._clock()
        last = self._last_reported
        if not force and last is not None and now - last < self._status_interval:
            return
        self._last_reported = now
        report_status(
            {
                "progress": self.percent,
                "current_task": self.current_task,
                "counters": {**self.counters, "done": self.done, "total": self.total},
            },
            self._status_file,
        )
