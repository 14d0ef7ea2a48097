"""The pages under the app's Content-Security-Policy in a real Chromium: they work and the browser reports no
violation (the policy fits what they load: scripts, styles, images and the video from the same origin)."""

from __future__ import annotations

import time

import pytest
from support.browser import CHROMIUM, SKIP_REASON, chromium_page

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)

_RECORD = """document.addEventListener("securitypolicyviolation",
  (e) => (window.__csp = window.__csp || []).push(`${e.violatedDirective} ${e.blockedURI}`));"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_pages_work_under_the_content_security_policy(served, stored, db_url):
    video_id, _ = stored
    url = served()
    with chromium_page() as page:
        page.add_init_script(_RECORD)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
        checks = {
            "/": "tr[data-video] img.thumb",
            f"/videos/{video_id}": "body[data-frame='0'][data-tracks='11']",
            "/jobs": f"#video-select option[value='{video_id}']",
            "/docs": "#routes tbody tr",
        }
        for path, ready in checks.items():
            response = page.goto(url + path)
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            page.wait_for_selector(ready, state="attached", timeout=20_000)
            page.wait_for_load_state("networkidle")
            if path.startswith("/videos/"):  # the video itself (media-src) loaded
                _until(page, "document.querySelector('video').readyState >= 2")
            # Every image the page shows (thumbnails, heatmaps) loaded from this origin.
            _until(page, "[...document.images].filter(i => i.getAttribute('src'))"
                         ".every(i => i.complete && i.naturalWidth > 0)")
            if path == "/docs":  # the stylesheet applied: /static/style.css sets the page's font
                assert page.evaluate("document.styleSheets.length") >= 1
            problems += page.evaluate("window.__csp || []")
        assert problems == [], problems


def _until(page, expression: str, timeout: float = 20.0) -> None:
    # page.wait_for_function evaluates its predicate with eval(), which this very policy forbids; page.evaluate
    # goes through the DevTools protocol, which the policy does not cover.
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"never true: {expression}"
        time.sleep(0.1)
