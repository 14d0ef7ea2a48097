"""Store 1,000,000 detections with `insert_detections` (bulk) and one ORM object per row; print rows/s.

    uv run python benchmarks/db_bulk_insert.py [--rows N] [--naive-rows N] [--database-url URL]

The naive side stores a sample and is extrapolated; both run in the same process on the same database.
A third run stores the same boxes with three labels interleaved (player, referee, ball: what SAM 3 with
several prompts gives) and prints its cost relative to the unlabelled bulk run.
"""

from __future__ import annotations

import sys

import numpy as np

from _common import (
    add_video,
    clear_detections,
    frames_of,
    naive_insert,
    parser,
    report,
    scratch_database,
    synthetic_game,
    timed,
)

TARGET = 20.0


def main(argv: list[str] | None = None) -> int:
    """Run both sides and print the comparison; exit 1 when the target ratio is missed."""
    args = parser(__doc__.splitlines()[0], rows=1_000_000, naive_rows=50_000).parse_args(argv)
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import count_detections, insert_detections

    detections = synthetic_game(args.rows)
    sample = detections[slice(0, min(args.naive_rows, args.rows))]
    with scratch_database(args.database_url) as url:
        video_id = add_video(url, frames_of(args.rows))
        clear_detections(url)
        with timed(len(sample)) as naive:
            naive_insert(url, video_id, sample)
        clear_detections(url)
        with timed(len(detections)) as bulk, transaction(url) as s:
            insert_detections(s, video_id, detections)
        with transaction(url) as s:
            stored = count_detections(s, video_id)
        clear_detections(url)
        names = np.array(["player", "referee", "ball"], dtype=object)
        labelled = detections.with_labels(names[np.arange(len(detections)) % 3])
        with timed(len(labelled)) as with_labels, transaction(url) as s:
            insert_detections(s, video_id, labelled)
        clear_detections(url)
    if stored != len(detections):
        print(f"error: stored {stored:,} rows, expected {len(detections):,}", file=sys.stderr)
        return 1
    met = report(f"Storing detections in player_detections ({url.split(':')[0]})", "rows", bulk, naive,
                 TARGET, len(detections))
    print(f"  labelled (3 labels): {with_labels.rate:,.0f} rows/s = {with_labels.rate / bulk.rate:.2f}x the "
          "unlabelled bulk rate")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
