"""A real browser for page tests: Debian's Chromium driven by Playwright, and a web app served on a free port."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from contextlib import contextmanager
from typing import Iterator

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SKIP_REASON = ("Chromium not installed here (scripts/ensure-chromium installs Debian's package); the API tests "
               "still ran")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app) -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


_shared: dict = {}  # the running Playwright and Browser, and how many `chromium()` blocks hold them


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium (a Playwright Browser), shared by nested blocks: the first starts it, the last one out
    closes it. Playwright's driver and the browser take seconds to start, a page in a new context a fraction.

    Hold it no longer than the tests that need it: while Playwright runs, this thread counts as inside an event
    loop, so `asyncio.run` (and a second `sync_playwright`) fail here."""
    from playwright.sync_api import sync_playwright

    if not _shared:
        playwright = sync_playwright().start()
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except BaseException:
            playwright.stop()
            raise
        _shared.update(playwright=playwright, browser=browser, holders=0)
    _shared["holders"] += 1
    try:
        yield _shared["browser"]
    finally:
        _shared["holders"] -= 1
        if not _shared["holders"]:
            state = dict(_shared)
            _shared.clear()
            try:
                state["browser"].close()
            finally:
                state["playwright"].stop()


@contextmanager
def chromium_page():
    """A fresh headless Chromium page (1400 x 900) in a context of its own: no cookies, storage or cache from
    another page. The browser is the enclosing `chromium()` block's, or one started for this page."""
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        try:
            yield context.new_page()
        finally:
            context.close()


def wait_until(page, expression: str, timeout: float = 20.0, every: float = 0.05) -> None:
    """Wait until the JavaScript `expression` is true in the page.

    Playwright's `wait_for_function` evaluates its predicate with eval(), which the app's Content-Security-Policy
    forbids; `page.evaluate` goes through the DevTools protocol, which the policy does not cover.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"never true within {timeout:g} s: {expression}")
        time.sleep(every)
