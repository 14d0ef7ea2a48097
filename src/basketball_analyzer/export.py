"""Exporting stored detections: MOTChallenge rows (TrackEval, `trackers eval`) or CSV with a header."""

from __future__ import annotations

import csv
from typing import TextIO

from .detections import Detections

CSV_HEADER = ["frame_number", "tracking_id", "bbox_x", "bbox_y", "bbox_width", "bbox_height", "confidence_score",
              "label"]


def write_mot(det: Detections, out: TextIO) -> int:
    """`frame,id,left,top,width,height,conf,-1,-1,-1`, frame and id 1-based; returns rows written."""
    n = 0
    for f, t, x, y, w, h, c in det.rows():
        out.write(f"{f + 1},{t + 1},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{c:.4f},-1,-1,-1\n")
        n += 1
    return n


def write_csv(det: Detections, out: TextIO) -> int:
    """The `player_detections` columns with a header row, each box's label last; returns data rows written."""
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    rows = det.rows()
    writer.writerows((f, t, round(x, 2), round(y, 2), round(w, 2), round(h, 2), round(c, 4), label)
                     for (f, t, x, y, w, h, c), label in zip(rows, det.labels.tolist()))
    return len(rows)
