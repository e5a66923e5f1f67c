"""benchmarks/safe_fit.py: `--quick` on this test run's backend times every way's epochs, derives the overhead from
them and writes the report files."""

import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

import keras
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.backend_independent
def test_quick_run_times_each_way_and_reports_the_overhead(tmp_path):
    out = tmp_path / "safe_fit"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "safe_fit.py"), "--quick", "--backends",
                           keras.config.backend(), "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.with_suffix(".json").read_text())
    settings, (result,) = report["settings"], report["backends"]
    assert result["backend"] == keras.config.backend() and result["keras_version"] == keras.__version__
    ways = result["ways"]
    assert sorted(ways) == ["arrays", "epoch_batches", "train_command"]
    for clock in ("wall", "cpu"):
        for way in ways.values():
            seconds = way[clock]["seconds"]
            assert len(seconds) == settings["rounds"] * settings["epochs"] and all(math.isfinite(s) for s in seconds)
            assert min(seconds) > 0 and way[clock]["median_s"] == pytest.approx(statistics.median(seconds))
        overhead = result["overhead"][clock]
        assert overhead["overhead"] == pytest.approx(
            ways["train_command"][clock]["median_s"] / ways["arrays"][clock]["median_s"] - 1)
        assert len(overhead["per_round"]) == settings["rounds"]
        assert overhead["median_per_round"] == pytest.approx(statistics.median(overhead["per_round"]))
    assert all(way["warmup_s"] > 0 for way in ways.values())
    table = out.with_suffix(".md").read_text()
    assert f"| {keras.config.backend()} | " in table and report["command"] in table
