"""Atomic writes: a file is at its name complete or not at all."""

from __future__ import annotations

import pytest

from basketball_analyzer.atomic import atomic_path


def test_the_file_appears_only_when_complete(tmp_path):
    dest = tmp_path / "out.csv"
    dest.write_text("old")
    with atomic_path(dest) as tmp:
        tmp.write_text("new")
        assert dest.read_text() == "old" and tmp.parent == tmp_path and tmp.name.startswith(".")
    assert dest.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_an_error_leaves_the_old_file_and_no_temporary(tmp_path):
    dest = tmp_path / "out.png"
    dest.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(dest, suffix=".png") as tmp:
        assert tmp.suffix == ".png"
        tmp.write_text("half")
        raise RuntimeError("stopped")
    assert dest.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_a_block_that_drops_its_temporary_keeps_the_file(tmp_path):
    dest = tmp_path / "clip.mp4"
    dest.write_text("same")
    with atomic_path(dest) as tmp:
        tmp.write_text("same")
        tmp.unlink()
    assert dest.read_text() == "same"
