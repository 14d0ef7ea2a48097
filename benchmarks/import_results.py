"""Import a 2,000,000-detection results file (2 h x 30 fps x ~10 players): bulk vs one ORM object per row.

    uv run python benchmarks/import_results.py [--rows N] [--naive-rows N] [--database-url URL]

Both sides read the same Parquet file. The bulk side is the real `import_results_file` (checksum, every row
validated, streamed into `player_detections`, ledger row); the naive side reads the same batches and adds
one `PlayerDetection` per box, on a sample that is extrapolated.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import (
    PLAYERS,
    Timing,
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

TARGET = 25.0


def write_results_file(path: Path, rows: int) -> tuple[str, float]:
    """A results file as a worker writes it, one frame per `write`; returns its sha256 and write seconds."""
    from basketball_analyzer.results.format import ResultsWriter

    game = synthetic_game(rows)
    with timed(rows) as t, ResultsWriter(path, job_id="bench", video_id=1, detector="sam3") as writer:
        # Whole seconds of frames per call keep the benchmark quick; the writer buffers the same way.
        step = 30 * PLAYERS
        for start in range(0, rows, step):
            writer.write(game[slice(start, start + step)])
    return writer.sha256, t.seconds


def main(argv: list[str] | None = None) -> int:
    """Run both sides and print the comparison; exit 1 when the target ratio is missed."""
    args = parser(__doc__.splitlines()[0], rows=2_000_000, naive_rows=50_000).parse_args(argv)
    from basketball_analyzer.results.ingest import import_results_file
    from basketball_analyzer.results.format import read_results
    from basketball_analyzer.config import get_settings
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import count_detections
    from basketball_analyzer.detections import Detections

    with tempfile.TemporaryDirectory(prefix="bball-bench-results-") as tmp, \
            scratch_database(args.database_url) as url:
        path = Path(tmp) / "results.parquet"
        sha256, write_seconds = write_results_file(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        frame_count = frames_of(args.rows)
        video_id = add_video(url, frame_count)
        clear_detections(url)

        sample_rows = min(args.naive_rows, args.rows)
        with timed(sample_rows) as naive:
            parts, have = [], 0
            for batch in read_results(path, expected_sha256=sha256, frame_count=frame_count,
                                      batch_rows=sample_rows):
                parts.append(batch[slice(0, sample_rows - have)])
                have += len(parts[-1])
                if have >= sample_rows:
                    break
            naive_insert(url, video_id, Detections.merge(parts), cloud_job_id="naive")
        clear_detections(url)

        get_settings()  # the import reads its caps from the settings: load them (once per process) untimed
        with timed(args.rows) as bulk, transaction(url) as s:
            outcome = import_results_file(s, cloud_job_id="bench", video_id=video_id, results_path=path,
                                          expected_sha256=sha256, frame_count=frame_count,
                                          results_key="results/bench.parquet")
        with transaction(url) as s:
            stored = count_detections(s, video_id, cloud_job_id="bench")
        clear_detections(url)
    if stored != args.rows or outcome.rows != args.rows:
        print(f"error: stored {stored:,} rows, expected {args.rows:,}", file=sys.stderr)
        return 1
    print(f"results file: {args.rows:,} detections, {frame_count:,} frames, {size_mb:.1f} MB Parquet "
          f"(zstd), written in {write_seconds:.2f} s = {Timing(args.rows, write_seconds).rate:,.0f} rows/s")
    met = report(f"Importing a results file into player_detections ({url.split(':')[0]})", "detections",
                 bulk, naive, TARGET, args.rows)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
