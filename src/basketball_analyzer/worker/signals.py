"""Two-stage stop: the first SIGINT/SIGTERM asks the worker to hand back its job and stop; the second stops now."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class StopRequested(Exception):
    """Raised inside a job when the worker was asked to stop; the job is handed back."""


class StopFlag:
    """Set by signals (or `request()` in tests); polled by the worker between frames."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signals = 0

    def request(self) -> None:
        """Ask the worker to stop after handing back its current job."""
        self._event.set()

    @property
    def requested(self) -> bool:
        """True once a stop was asked for."""
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking early on a stop request; True if stop was requested."""
        return self._event.wait(seconds)

    def check(self) -> None:
        """Raise `StopRequested` if a stop was asked for."""
        if self._event.is_set():
            raise StopRequested()

    @contextmanager
    def installed(self) -> Iterator["StopFlag"]:
        """Route SIGINT/SIGTERM here while the block runs (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return

        def handler(signum, _frame):
            self.signals += 1
            if self.signals > 1:
                raise KeyboardInterrupt()
            self.request()

        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, h in old.items():
                signal.signal(s, h)
