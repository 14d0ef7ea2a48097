"""`Prefetcher`: run an iterator (and optionally a function over its items) on a background thread.

A bounded queue keeps it a few items ahead of the consumer; its exceptions are re-raised in the consumer,
and closing early (break, exception) stops the thread instead of leaving it blocked on a full queue.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterable, Iterator


class Prefetcher:
    """Iterate `items` (mapped through `fn`, if given) on a thread named `name`, up to `depth` items ahead."""

    _END = object()

    def __init__(self, items: Iterable, fn: Callable[[Any], Any] | None = None, depth: int = 4,
                 name: str = "prefetch"):
        self._items, self._fn, self._name = items, fn, name
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        try:
            for item in self._items:
                if not self._put(self._fn(item) if self._fn is not None else item):
                    return
            self._put(self._END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, never swallowed
            self._put(exc)
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:  # a generator: run its clean-up (close the container) on this thread
                close()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        try:
            while True:
                item = self._queue.get()
                if item is self._END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        """Stop the thread and wait for it. Safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
