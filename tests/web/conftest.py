"""A stored game for the web tests: the synthetic clip registered with its true boxes, teams and court."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def web_clip(tmp_path_factory):
    """(path, GameTruth) of a 4-second 640x360 game clip."""
    from basketball_analyzer.sample_game import make_game_clip

    path = tmp_path_factory.mktemp("webclip") / "game.mp4"
    return path, make_game_clip(path, frames=120, width=640, height=360)


def _store_game(url, web_clip):
    from basketball_analyzer.analytics.calibration import set_calibration
    from basketball_analyzer.analytics.tracks import assign_teams
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import replace_detections
    from basketball_analyzer.videos import register_video

    path, truth = web_clip
    with transaction(url) as s:
        video_id = register_video(s, path).video.id
        replace_detections(s, video_id, truth.boxes)
    with transaction(url) as s:
        assign_teams(s, video_id)
        set_calibration(s, video_id, truth.calibration_pairs(), "fiba")
    return video_id, truth


@pytest.fixture
def stored(db_url, web_clip, db_snapshots):
    """(video id, truth) with boxes, teams and a court calibration stored in `db_url`.

    Made once per backend and copied into each test's database: teams and the calibration cost seconds."""
    return db_snapshots.restore("web-game", db_url, lambda url: _store_game(url, web_clip))


@pytest.fixture
def client(db_url, tmp_path):
    """An HTTP client on the app (no token: loopback)."""
    from fastapi.testclient import TestClient

    from basketball_analyzer.config import load_settings
    from basketball_analyzer.web.app import create_app

    app = create_app(load_settings(database_url=db_url, web_upload_dir=str(tmp_path / "uploads")))
    with TestClient(app) as c:
        yield c


@pytest.fixture
def served(db_url, tmp_path):
    """serve(token=None, **settings) -> base URL: the app on 127.0.0.1 by uvicorn, over real sockets.

    Settings default to `db_url` and an upload folder under tmp_path; every server stops at the test's end."""
    from contextlib import ExitStack

    from support.browser import serving

    from basketball_analyzer.config import load_settings
    from basketball_analyzer.web.app import create_app

    with ExitStack() as stack:
        def serve(token: str | None = None, **overrides) -> str:
            settings = load_settings(**{"database_url": db_url, "web_upload_dir": str(tmp_path / "uploads"),
                                        **overrides})
            return stack.enter_context(serving(create_app(settings, token=token)))
        yield serve


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for a module's page tests (support/browser.py); not for longer: see `chromium`."""
    from support.browser import chromium

    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    """A fresh page (1400 x 900, a context of its own) in the module's Chromium."""
    from support.browser import chromium_page

    with chromium_page() as p:
        yield p
