"""The synthetic game clip (two teams of five and a referee on a calibrated court), made once per run."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def game_clip(tmp_path_factory):
    """(path, GameTruth) of an 8-second 960x540 game clip."""
    from basketball_analyzer.sample_game import make_game_clip

    path = tmp_path_factory.mktemp("game") / "game.mp4"
    return path, make_game_clip(path, frames=240, width=960, height=540)
