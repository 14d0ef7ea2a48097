"""The synthetic broadcast (sample_broadcast.py) made once per test module and stored with its true boxes, so the
camera and the pages, not a detector, are under test."""

from __future__ import annotations


def make_broadcast(tmp_path_factory, **options):
    """(path, truth) of a 640 x 360 broadcast clip made with `make_broadcast_clip(**options)`."""
    from basketball_analyzer.sample_broadcast import make_broadcast_clip

    path = tmp_path_factory.mktemp("broadcast") / "broadcast.mp4"
    return path, make_broadcast_clip(path, width=640, height=360, **options)


def store_broadcast(db_url: str, broadcast) -> tuple[int, object]:
    """(video id, truth): the clip registered in `db_url` with its true boxes as the stored detections."""
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import replace_detections
    from basketball_analyzer.videos import register_video

    path, truth = broadcast
    with transaction(db_url) as s:
        video_id = register_video(s, path).video.id
        replace_detections(s, video_id, truth.boxes)
    return video_id, truth
