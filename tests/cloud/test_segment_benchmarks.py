"""The segments benchmarks run at a tiny size and report what they measure (the numbers need full size).

They are scripts, not tests of speed: this keeps them working as the code under them changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def bench(script: str, *args: str, timeout: float = 240) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("R2_", "AWS_", "DATABASE_URL"))}
    proc = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=BENCHMARKS, env=env)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    assert proc.returncode in (0, 1), out  # 1: a target missed, which a tiny run may
    return proc.stdout


@pytest.mark.timeout(300)
def test_speedup_benchmark_times_each_worker_count_against_one():
    out = bench("segments_speedup.py", "--frames", "240", "--frame-ms", "1", "--workers", "2")
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()[:1] in (["1"], ["2"])}
    assert rows["1"][2] == "1.00x" and float(rows["2"][2].rstrip("x")) > 0
    assert "extra requests" in out


@pytest.mark.timeout(300)
def test_preempt_benchmark_measures_the_frames_a_takeover_redoes():
    out = bench("segments_preempt.py", "--frames", "200", "--frame-ms", "2", "--parts", "0,60", "--lease", "1.5")
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["0"], ["60"])]
    assert [r[0] for r in rows] == ["0", "60"]
    restart, parts = rows
    assert int(restart[4]) == int(restart[1])  # without parts the takeover redoes everything done
    assert int(parts[4]) <= 60 + 60  # with parts: at most one part and the resume overlap
    assert rows[1][-2:] != ["NOT", "met"] and rows[1][-1] == "met" and "problem" not in out


@pytest.mark.timeout(300)
def test_accuracy_benchmark_scores_one_run_and_segments_against_the_truth():
    out = bench("segments_accuracy.py", "--frames", "150", "--size", "256x144", "--segments", "2",
                "--no-hota", "--detector", "hog", "--workers", "1")
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["hog"], ["oracle"])]
    assert [(r[0], r[1]) for r in rows] == [("hog", "1"), ("hog", "2"), ("oracle", "1"), ("oracle", "2")]
    oracle_one, oracle_split = rows[2], rows[3]
    assert float(oracle_one[5]) > 90 and oracle_split[3:6] == oracle_one[3:6]  # tracks, MOTA, IDF1
