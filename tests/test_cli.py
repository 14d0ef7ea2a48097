"""The `bball` commands as users type them: output, exit codes, and bad input that changes nothing."""

import sqlite3
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from basketball_analyzer.cli import cli


def _run(*args, ok=True):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def _db_path(monkeypatch_env_url: str) -> str:
    return monkeypatch_env_url.split("sqlite:///", 1)[1]


def _commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))


def test_every_command_has_help_text():
    missing = [" ".join(path) for path, cmd in _commands(cli) if not (cmd.help or "").strip()]
    assert not missing, f"commands without help: {missing}"
    for path, _ in _commands(cli):
        assert _run(*path, "--help").output.startswith("Usage:")


def test_version_and_module_entry_point():
    from basketball_analyzer import __version__

    assert _run("--version").output.strip() == f"bball, version {__version__}"
    out = subprocess.run([sys.executable, "-m", "basketball_analyzer", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert __version__ in out


def test_video_add_twice_is_reported_not_duplicated(sample_clip, tmp_path):
    path = str(sample_clip[0])
    assert _run("video", "add", path).output.strip() == "Registered video 1: court.mp4"
    assert _run("video", "add", path).output.strip() == "Already registered as video 1: court.mp4"
    listing = _run("video", "list").output
    assert "court.mp4" in listing and "640x360" in listing
    assert "sha256" in _run("video", "show", "1").output


@pytest.mark.parametrize("make_bad,expected", [
    (lambda p: None, "video not found"),
    (lambda p: p.write_text("not a video at all"), "not a readable video"),
    (lambda p: p.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100), "not a readable video"),
])
def test_bad_video_one_line_nonzero_nothing_written(tmp_path, make_bad, expected):
    bad = tmp_path / "bad.mp4"
    make_bad(bad)
    for args in (["video", "add", str(bad)], ["analyze", str(bad)], ["jobs", "create", str(bad)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and expected in lines[0], result.output
        assert "Traceback" not in result.output
    db = tmp_path / "test.db"
    if db.exists():
        con = sqlite3.connect(db)
        assert con.execute("SELECT COUNT(*) FROM videos").fetchone()[0] == 0
        assert con.execute("SELECT COUNT(*) FROM detection_jobs").fetchone()[0] == 0


def test_unknown_ids_are_one_line_errors():
    for args, text in ((["video", "show", "42"], "no video with id 42"),
                       (["export", "42"], "no video with id 42"),
                       (["jobs", "cancel", "42"], "no job with id 42"),
                       (["analyze", "42"], "no video with id 42")):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and result.output.strip() == f"Error: {text} " \
            f"(see `bball {'jobs' if 'job' in text else 'video'} list`)", result.output


@pytest.fixture
def analyzed(sample_clip, db_snapshots):
    """The output of `bball analyze` on the sample clip, whose database DATABASE_URL now holds (one analysis per
    run, copied into each test's database: the detector takes seconds)."""
    import os

    from basketball_analyzer.config import get_settings

    def analyze(url: str) -> str:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("DATABASE_URL", url)
            get_settings.cache_clear()
            try:
                return _run("analyze", str(sample_clip[0])).output
            finally:
                get_settings.cache_clear()

    return db_snapshots.restore("cli-analyzed", os.environ["DATABASE_URL"], analyze)


def test_analyze_stores_detections_and_prints_summary(analyzed, tmp_path):
    out = analyzed
    assert "Video 1: court.mp4 (newly registered)" in out
    con = sqlite3.connect(tmp_path / "test.db")
    stored = con.execute("SELECT COUNT(*) FROM player_detections WHERE video_id=1").fetchone()[0]
    tracks = con.execute("SELECT COUNT(DISTINCT tracking_id) FROM player_detections WHERE video_id=1").fetchone()[0]
    assert stored >= 3 * 38 and tracks == 3
    assert f"│     40 │ {stored:>10} │      3 │" in out
    # analyzing again replaces, never duplicates
    _run("analyze", "1")
    assert con.execute("SELECT COUNT(*) FROM player_detections WHERE video_id=1").fetchone()[0] == stored
    assert con.execute("SELECT COUNT(*) FROM detection_jobs WHERE status='completed'").fetchone()[0] == 2


def test_export_mot_is_evaluated_by_trackers_eval_against_ground_truth(analyzed, sample_clip, tmp_path):
    from trackers.eval import evaluate_mot_sequence

    path, truth = sample_clip
    mot = tmp_path / "pred.txt"
    _run("export", "1", "--format", "mot", "-o", str(mot))
    first = mot.read_text().splitlines()[0].split(",")
    assert len(first) == 10 and first[7:] == ["-1", "-1", "-1"] and int(first[0]) >= 1 and int(first[1]) >= 1
    gt = tmp_path / "gt.txt"  # MOTChallenge ground truth: consider=1, class=1 (pedestrian), visibility=1
    gt.write_text("".join(f"{f + 1},{t + 1},{x},{y},{w},{h},1,1,1\n" for f, t, x, y, w, h, _ in truth.rows()))
    result = evaluate_mot_sequence(gt, mot, metrics=["CLEAR"], threshold=0.3)
    assert result.CLEAR.MOTA > 0.9
    assert result.CLEAR.IDSW == 0


def test_export_csv_has_header_and_rows(analyzed):
    out = _run("export", "1", "--format", "csv").output.splitlines()
    assert out[0] == "frame_number,tracking_id,bbox_x,bbox_y,bbox_width,bbox_height,confidence_score,label"
    assert out[1].endswith(",player")
    assert len(out) > 100


def test_jobs_create_then_worker_once(sample_clip, tmp_path):
    out = _run("jobs", "create", str(sample_clip[0]), "--sample-interval", "4", "--confidence", "0.6").output
    assert "Created job 1 for video 1" in out
    assert "pending" in _run("jobs", "list").output
    _run("worker", "--once")
    con = sqlite3.connect(tmp_path / "test.db")
    status, frames, params = con.execute(
        "SELECT status, frames_processed, parameters FROM detection_jobs WHERE id=1").fetchone()
    assert status == "completed" and frames == 10
    assert '"sample_interval": 4' in params and '"confidence_threshold": 0.6' in params
    frames_seen = {r[0] for r in con.execute("SELECT DISTINCT frame_number FROM player_detections")}
    assert frames_seen and all(f % 4 == 0 for f in frames_seen)


def test_invalid_option_values_are_rejected_by_the_parser(sample_clip):
    result = CliRunner().invoke(cli, ["analyze", str(sample_clip[0]), "--confidence", "1.5"])
    assert result.exit_code == 2 and "1.5 is not in the range" in result.output


def test_bad_database_url_is_one_line(monkeypatch, sample_clip):
    monkeypatch.setenv("DATABASE_URL", "sqlite:////nonexistent-dir/x.db")
    from basketball_analyzer.config import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["video", "list"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: database directory does not exist: /nonexistent-dir"


def test_use_external_worker_queues_instead_of_running(sample_clip, tmp_path, monkeypatch):
    from basketball_analyzer.config import get_settings

    monkeypatch.setenv("USE_EXTERNAL_WORKER", "true")
    get_settings.cache_clear()
    out = _run("analyze", str(sample_clip[0])).output
    assert "queued job 1 for video 1" in out
    con = sqlite3.connect(tmp_path / "test.db")
    assert con.execute("SELECT status FROM detection_jobs").fetchall() == [("pending",)]
    assert con.execute("SELECT COUNT(*) FROM player_detections").fetchone()[0] == 0
