"""`run_demo`: the whole cloud round trip on this machine, with no account anywhere.

A local S3 server (SeaweedFS, in a temporary folder, on free loopback ports, with generated credentials)
stands in for R2 unless a bucket is configured; a sample game (two teams of five and a referee on a
calibrated half court, `sample_game.py`) or the user's video is registered in the user's database,
submitted, processed by one cloud worker in a separate process (as on a GPU machine), imported, split into
teams, measured (court positions, distance, speed: the sample's camera calibration is known) and rendered. Every step is the product's own library call; the demo only strings
them together. Whatever happens (an error, Ctrl-C, SIGTERM) the worker and the server are stopped and the
temporary folder is removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .config import Settings, load_settings
from .detection import DetectionParams
from .exceptions import BballError

SAMPLE_SECONDS = 10.0
SAMPLE_FPS = 15
SAMPLE_SIZE = (960, 540)
SHEET_FRAMES = 12
POLL_SECONDS = 0.5
WORKER_STOP_SECONDS = 15.0


class DemoProgress:
    """Receives the demo's progress as it goes; the CLI prints it. Every method does nothing by default."""

    def stage(self, title: str) -> None:
        """A step begins."""

    def update(self, done: int, total: int | None, unit: str) -> None:
        """How far the current step is (frames, bytes...)."""

    def stage_done(self, seconds: float, note: str = "") -> None:
        """The current step finished after `seconds`."""

    def note(self, text: str) -> None:
        """A line worth showing between steps."""


@dataclass
class DemoResult:
    """What the demo did and made: ids, counts, time per stage, and the files it wrote."""

    video_id: int
    video_path: Path
    job_id: str
    frames: int
    detections: int
    tracks: int
    detect_seconds: float
    storage: str
    database: str
    mp4: Path
    png: Path
    stage_seconds: dict[str, float] = field(default_factory=dict)
    teams: dict[str, tuple[int, str]] = field(default_factory=dict)  # team -> (tracks, colour)
    teams_message: str = ""
    stats: object | None = None  # analytics.stats.StatsReport
    heatmap: Path | None = None
    players: list = field(default_factory=list)  # players.store.PlayerInfo: tracks joined, jersey numbers
    tracks_cut: int = 0  # tracks cut where the tracker handed them to another person (players/switches.py)

    @property
    def fps(self) -> float:
        """Frames the worker processed per second of its own run time."""
        return self.frames / self.detect_seconds if self.detect_seconds > 0 else 0.0


def run_demo(*, video: str | os.PathLike | None = None, output_dir: str | os.PathLike = "bball-output",
             params: DetectionParams | None = None, settings: Settings | None = None,
             local_storage: bool = False, sample_seconds: float = SAMPLE_SECONDS,
             progress: DemoProgress | None = None) -> DemoResult:
    """Run the demo end to end; see the module docstring. Raises `BballError` with one clear line on failure.

    `local_storage` starts the local server even when a bucket is configured.
    """
    from .db.engine import make_safe

    progress = progress or DemoProgress()
    settings = settings or load_settings()
    params = params or DetectionParams(detector=settings.detector.value)
    output_dir = Path(output_dir).expanduser()
    if video is not None:
        from .video import probe

        probe(video)  # a bad path fails before anything starts
    if output_dir.exists() and not output_dir.is_dir():
        raise BballError(f"--output-dir is a file: {output_dir}")
    output_dir.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}

    with _sigterm_as_interrupt(), _cleanup_stack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="bball-demo-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)

        # 1. storage
        started = time.perf_counter()
        use_local = local_storage or not settings.cloud_configured
        if use_local:
            from .cloud.server import LocalS3Server

            progress.stage("Starting a local S3 server (SeaweedFS)")
            server = LocalS3Server(directory=tmp / "s3")
            stack.callback(server.stop)  # runs before the folder is removed: weed hangs without its folder
            server.start()
            env = server.env()
            settings = load_settings(database_url=settings.database_url,
                                     **{k.lower(): v for k, v in env.items()})
            storage_label = f"local SeaweedFS at {server.endpoint_url} (stopped at the end)"
        else:
            storage_label = f"bucket {settings.r2_bucket_name!r} at {settings.r2_endpoint}"
            progress.stage(f"Using the configured {storage_label}")
            env = {}
        queue = _queue(settings)
        if not use_local:
            _check_queue_empty(queue)
        times["storage"] = _done(progress, started)

        # 2. clip
        started = time.perf_counter()
        video_path, truth = _clip(video, output_dir, sample_seconds, progress)
        times["clip"] = _done(progress, started)

        # 3. register
        started = time.perf_counter()
        progress.stage(f"Registering {video_path.name} in {make_safe(settings.database_url)}")
        video_id = _register(settings.database_url, video_path)
        times["register"] = _done(progress, started, f"video {video_id}")

        # 4. submit
        started = time.perf_counter()
        progress.stage("Submitting the job (uploading the video)")
        from .cloud.submit import submit_job

        manifest = submit_job(queue, video_id=video_id, video_path=video_path, params=params,
                              on_upload=lambda done, total: progress.update(done, total, "bytes"))
        job_id, frames_total = manifest.job_id, manifest.frames_total or 0
        if not use_local:
            stack.callback(_withdraw, queue, job_id)  # leave nothing in a real bucket if we stop early
        times["submit"] = _done(progress, started, f"job {job_id}")

        # 5. worker
        started = time.perf_counter()
        progress.stage("Running one cloud worker (a separate process, as on a GPU machine)")
        done = _run_worker(queue, job_id, env, tmp, frames_total, progress, stack)
        times["worker"] = _done(progress, started, f"{done.frames_processed} frames")

        # 6. import
        started = time.perf_counter()
        progress.stage("Importing the results into the database")
        from .cloud.importer import import_job

        import_job(queue.storage, settings.database_url, job_id, cleanup=True)
        detections = _stored(settings.database_url, video_id)
        times["import"] = _done(progress, started, f"{len(detections)} detections")

        # 7. analytics
        started = time.perf_counter()
        progress.stage("Teams by jersey colour, court positions, jersey numbers and players, distance and speed")
        analytics = _analytics(settings.database_url, video_id, truth, video_path, output_dir, detections)
        times["analytics"] = _done(progress, started, analytics["message"])

        # 8. render
        started = time.perf_counter()
        mp4, png = _render(settings.database_url, video_id, video_path, detections, output_dir, progress)
        times["render"] = _done(progress, started)

    from .cloud.manifest import parse_time

    detect_seconds = (parse_time(done.completed_at) or 0.0) - (parse_time(done.started_at) or 0.0)
    return DemoResult(video_id=video_id, video_path=video_path, job_id=job_id, frames=done.frames_processed,
                      detections=len(detections), tracks=len(detections.track_ids()),
                      detect_seconds=max(detect_seconds, 0.0), storage=storage_label,
                      database=make_safe(settings.database_url), mp4=mp4, png=png, stage_seconds=times,
                      teams=analytics["teams"], teams_message=analytics["message"], stats=analytics["stats"],
                      heatmap=analytics["heatmap"], players=analytics["players"],
                      tracks_cut=analytics["tracks_cut"])


def _done(progress: DemoProgress, started: float, note: str = "") -> float:
    seconds = time.perf_counter() - started
    progress.stage_done(seconds, note)
    return seconds


def _queue(settings: Settings):
    from .cloud.queue import CloudQueue

    return CloudQueue.from_settings(settings)


def _check_queue_empty(queue) -> None:
    """With a real bucket, the demo's worker must not take someone else's job first."""
    waiting = queue.candidates()
    if waiting:
        raise BballError(f"bucket {queue.storage.bucket!r} already has {len(waiting)} job(s) waiting, which "
                         "the demo's worker would take first: run `bball demo --local-storage` instead")


def _clip(video: str | os.PathLike | None, output_dir: Path, seconds: float, progress: DemoProgress):
    """(the user's video, None), or (the sample game in the output folder, its ground truth)."""
    if video is not None:
        path = Path(video).expanduser()
        progress.stage(f"Using your video {path}")
        return path, None
    from .sample_game import make_game_clip

    frames = max(1, round(seconds * SAMPLE_FPS))
    path = output_dir / f"sample-game-{frames}f.mp4"
    progress.stage(f"Making a {frames / SAMPLE_FPS:g} s sample game (two teams of five and a referee)")
    from .atomic import atomic_path

    with atomic_path(path, suffix=".mp4") as partial:  # the encoder reads the container off the name
        # Rendered every time (about a second): the truth, with its camera calibration, comes with it.
        truth = make_game_clip(partial, frames=frames, width=SAMPLE_SIZE[0], height=SAMPLE_SIZE[1], fps=SAMPLE_FPS)
        if path.is_file() and path.read_bytes() == partial.read_bytes():
            partial.unlink()  # the same bytes: keep the registered file as it is
    return path, truth


def _analytics(url: str, video_id: int, truth, video_path: Path, output_dir: Path, detections) -> dict:
    """Teams, the court calibration (known for the sample game), players (jersey numbers read, tracks joined),
    stats and a heatmap, as `bball` would."""
    from .analytics.calibration import set_calibration
    from .analytics.pictures import render_heatmap
    from .analytics.stats import video_stats
    from .analytics.tracks import assign_teams
    from .db import transaction
    from .players.store import identify_players

    out: dict = {"teams": {}, "message": "no detections to analyse", "stats": None, "heatmap": None, "players": [],
                 "tracks_cut": 0}
    if not len(detections):
        return out
    if truth is not None:
        with transaction(url) as s:
            set_calibration(s, video_id, truth.calibration_pairs(), "fiba", fixed_camera=True)  # a tripod
    with transaction(url) as s:
        players = identify_players(s, video_id)  # assigns the teams (again after a cut)
        out["players"], out["tracks_cut"] = players.players, players.tracks_cut
        report = players.teams or assign_teams(s, video_id)
    colours = {t.team: t.color for t in report.tracks if t.team in ("A", "B")}
    out["teams"] = {team: (n, colours.get(team, "")) for team, n in sorted(report.sizes().items())}
    out["message"] = report.split.message
    with transaction(url) as s:
        out["stats"] = video_stats(s, video_id)
        if truth is not None:
            out["heatmap"] = render_heatmap(s, video_id, output_dir / f"{video_path.stem}-heatmap.png")[0]
    return out


def _register(url: str, path: Path) -> int:
    """Register the video (or find it registered, by content); returns its id."""
    from .db import transaction
    from .videos import register_video

    with transaction(url) as s:
        return register_video(s, path).video.id


def _run_worker(queue, job_id: str, env: dict[str, str], tmp: Path, frames_total: int,
                progress: DemoProgress, stack: ExitStack):
    """Run `python -m basketball_analyzer.worker --cloud` for one job, showing its progress; its manifest."""
    from .cloud.manifest import CloudJobStatus

    log_path = tmp / "worker.log"
    worker_env = {**os.environ, **env, "SINGLE_JOB": "1", "CLOUD_WORKER_POLL_INTERVAL": "1",
                  "PYTHONUNBUFFERED": "1", "WORKER_ID": f"demo-worker-{os.getpid()}"}
    with open(log_path, "wb") as log:
        # Its own session: Ctrl-C reaches the demo only, which then stops the worker before the server.
        proc = subprocess.Popen([sys.executable, "-m", "basketball_analyzer.worker", "--cloud"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=worker_env, start_new_session=True)
    stack.callback(stop_process, proc)
    progress.update(0, frames_total, "frames")
    while proc.poll() is None:
        time.sleep(POLL_SECONDS)
        report = queue.files.get_progress(job_id)
        if report:
            total = report.get("frames_total") or frames_total
            progress.update(int(report.get("frames_processed") or 0), total, "frames")
    manifest, _ = queue.get(job_id)
    if manifest.status is CloudJobStatus.completed:
        progress.update(manifest.frames_processed, manifest.frames_processed, "frames")
        return manifest
    tail = _tail(log_path)
    if manifest.status is CloudJobStatus.failed:
        raise BballError(f"the worker failed job {job_id}: {manifest.error}")
    raise BballError(f"the worker exited (code {proc.returncode}) leaving job {job_id} "
                     f"{manifest.status.value}" + (f": {tail}" if tail else ""))


def stop_process(proc: subprocess.Popen, timeout: float = WORKER_STOP_SECONDS) -> None:
    """SIGTERM a child (its own session), wait, then SIGKILL; a no-op when it already exited."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def _tail(path: Path, lines: int = 1) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])[-300:]


def _withdraw(queue, job_id: str) -> None:
    """Cancel and delete an unfinished demo job in a real bucket (best effort, on the way out)."""
    from .lifecycle import ACTIVE

    try:
        manifest, _ = queue.get(job_id)
        if manifest.status in ACTIVE:
            queue.cancel(job_id)
            queue.files.delete_job_files(job_id)
    except BballError:
        pass


def _stored(url: str, video_id: int):
    from .db import transaction
    from .db.detections import load_detections

    with transaction(url) as s:
        return load_detections(s, video_id)


def _render(url: str, video_id: int, video_path: Path, detections, output_dir: Path,
            progress: DemoProgress) -> tuple[Path, Path]:
    from .analytics.pictures import team_colours
    from .db import transaction
    from .render import render_contact_sheet, render_video

    progress.stage("Rendering the annotated video and a contact sheet")
    with transaction(url) as s:
        teams = team_colours(s, video_id)
    stem = video_path.stem
    mp4 = render_video(video_path, detections, output_dir / f"{stem}-annotated.mp4", teams=teams,
                       on_progress=lambda d, t: progress.update(d, t, "frames")).path
    png = render_contact_sheet(video_path, detections, output_dir / f"{stem}-sheet.png",
                               frames=SHEET_FRAMES, teams=teams).path
    return mp4, png


@contextmanager
def _cleanup_stack() -> Iterator[ExitStack]:
    """An ExitStack whose clean-up runs to the end even if Ctrl-C is pressed again meanwhile."""
    stack = ExitStack()
    try:
        yield stack
    finally:
        with _signals_ignored():
            stack.close()


@contextmanager
def _signals_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C, so `kill` also runs the clean-up (Python's default would skip it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt()

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
