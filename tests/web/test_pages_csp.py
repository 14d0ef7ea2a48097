"""The pages under the app's Content-Security-Policy in a real Chromium: they work and the browser reports no
violation (the policy fits what they load: scripts, styles, images and the video from the same origin)."""

from __future__ import annotations

import pytest
from support.browser import CHROMIUM, SKIP_REASON, wait_until

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)

_RECORD = """document.addEventListener("securitypolicyviolation",
  (e) => (window.__csp = window.__csp || []).push(`${e.violatedDirective} ${e.blockedURI}`));"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_pages_work_under_the_content_security_policy(served, stored, db_url, page):
    video_id, _ = stored
    url = served()
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
            wait_until(page, "document.querySelector('video').readyState >= 2")
        # Every image the page shows (thumbnails, heatmaps) loaded from this origin.
        wait_until(page, "[...document.images].filter(i => i.getAttribute('src'))"
                     ".every(i => i.complete && i.naturalWidth > 0)")
        if path == "/docs":  # the stylesheet applied: /static/style.css sets the page's font
            assert page.evaluate("document.styleSheets.length") >= 1
        problems += page.evaluate("window.__csp || []")
    assert problems == [], problems

