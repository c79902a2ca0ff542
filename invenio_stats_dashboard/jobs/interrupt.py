"""Stop long commands cleanly on SIGINT or SIGTERM (06 §1 "Interruption").

A signal only sets a flag; the loop calls :meth:`Interruption.check` between chunks,
batches, scopes or items, where stopping leaves consistent data behind. ``check``
then raises :class:`Interrupted`, whose ``exit_code`` is 130 for SIGINT and 143 for
SIGTERM. The command catches it, saves its bookmarks, releases its lock (the lock's
context manager does that on the way out), prints what was done and exits with it.

A second SIGINT (Ctrl-C pressed again) raises at once, for a person who does not want
to wait for the safe point; SIGTERM never does, because ``processes cancel`` signals
the whole process group and must leave the command its safe point.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """A stop was requested by a signal; ``exit_code`` is what the command exits with."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


class Interruption:
    """Context manager turning SIGINT/SIGTERM into a flag checked at safe points.

    Outside the main thread no handler can be installed; the object then never
    reports a stop, and the default signal behaviour stays.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        """True once a stop signal arrived."""
        return self.signum is not None

    def check(self) -> None:
        """Raise :class:`Interrupted` when a stop was requested."""
        if self.signum is not None:
            raise Interrupted(self.signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        repeated = self.signum == signal.SIGINT and signum == signal.SIGINT
        if self.signum is None or signum == signal.SIGTERM:
            self.signum = signum
        if repeated:
            raise Interrupted(signum)

    def __enter__(self) -> Interruption:
        """Install the handlers (main thread only)."""
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Restore the handlers that were there before."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
