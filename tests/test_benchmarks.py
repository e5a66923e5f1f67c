"""benchmarks/throughput.py: `--quick` on this test run's backend gives every requested cell, sane numbers and
the report files; FLOPs are counted as the layers say."""

import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

import keras
import matplotlib.image
import pytest

from keras_vae import zoo

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import flops  # noqa: E402
from worker import PEERS  # noqa: E402

MEASURES = ("train_fit", "train_loop", "encode", "decode", "reconstruct")


def throughput(*args):
    return subprocess.run([sys.executable, str(BENCHMARKS / "throughput.py"), *args], capture_output=True,
                          text=True, timeout=900)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("benchmark") / "quick"
    done = throughput("--quick", "--backends", keras.config.backend(), "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    return out, json.loads(out.with_suffix(".json").read_text())


def test_quick_run_measures_every_requested_cell(quick):
    _, report = quick
    settings = report["settings"]
    (result,) = report["backends"]
    assert result["backend"] == keras.config.backend() and settings["repeats"] >= 5
    mine = [c for c in result["cells"] if c["kind"] == "keras_vae"]
    assert sorted((c["model"], c["batch_size"], c["measure"]) for c in mine) == sorted(
        (m, b, measure) for m in settings["models"] for b in settings["batch_sizes"] for measure in MEASURES)
    peers = {c["peer"] for c in result["cells"] if c["kind"] == "peer"}
    assert peers == {p for p in settings["peers"] if PEERS[p][1] == keras.config.backend()} != set()
    for cell in result["cells"]:
        rates = [cell["calls_per_repeat"] * cell["samples_per_call"] / s for s in cell["seconds"]]
        assert len(rates) == settings["repeats"] and all(math.isfinite(r) and r > 0 for r in rates)
        assert cell["samples_per_s"] == pytest.approx(statistics.median(rates))
        assert cell["spread"] == pytest.approx((max(rates) - min(rates)) / statistics.median(rates))
        assert cell["warmup_s"] > 0 and cell["flops_per_sample"] > 0
        assert 0 < cell["fraction_of_matmul"] < 1.5, cell
    assert result["matmul_gflops_float32"] > 1 and result["peak_rss_mb"] > 100
    assert result["keras_version"] == keras.__version__ and result["backend_version"]


def test_quick_run_writes_the_table_and_the_plot(quick):
    out, report = quick
    table = out.with_suffix(".md").read_text()
    assert "| conv_vae | " + keras.config.backend() + " | float32 | 32 |" in table
    assert "## keras_vae against the peers" in table and report["command"] in table
    assert matplotlib.image.imread(out.with_suffix(".png")).std() > 0.05


def test_an_unknown_model_is_refused_with_the_known_ones():
    done = throughput("--quick", "--models", "conv_vea", "--out", "unused")
    assert done.returncode != 0 and "Did you mean 'conv_vae'" in done.stderr


def test_flops_are_counted_from_the_layers():
    counted = flops.model_flops(zoo.get("conv_vae"))
    conv = 2 * (14 * 14 * 9 * 1 * 32 + 7 * 7 * 9 * 32 * 64)  # two stride-2 3x3 convolutions
    dense = 2 * (3136 * 16 + 2 * 16 * 2)  # Dense 16 and the z_mean / z_log_var heads
    assert counted["encode"] == conv + dense
    transposed = 2 * (7 * 7 * 9 * 64 * 64 + 14 * 14 * 9 * 64 * 32 + 28 * 28 * 9 * 32 * 1)
    assert counted["decode"] == 2 * 2 * 3136 + transposed
    assert counted["train"] == 3 * (counted["encode"] + counted["decode"])
    assert flops.model_flops(zoo.get("vae"))["encode"] == 2 * (784 * 128 + 128 * 16 + 2 * 16 * 2)


def test_layer_times_time_every_layer_and_the_whole_step(tmp_path):
    out = tmp_path / "layers"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "layer_times.py"), "--quick", "--backends",
                           keras.config.backend(), "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    (result,) = json.loads(out.with_suffix(".json").read_text())["backends"]
    model = zoo.get("conv_vae")
    layers = [layer for network in (model.encoder, model.decoder) for layer in network.layers[1:]]
    *cells, step = result["cells"]
    assert [(c["class"], c["output_shape"]) for c in cells] == [
        (type(layer).__name__, list(layer.output.shape[1:])) for layer in layers]
    assert [c["flops_per_sample"] for c in cells] == [flops.layer_flops(layer) for layer in layers]
    assert step["layer"] == "train_step" and step["flops_per_sample"] == flops.model_flops(model)["train"] // 3
    for timed in [c[m] for c in cells for m in ("forward", "train")] + [step["train"]]:
        assert len(timed["seconds"]) == 5 and all(math.isfinite(s) and s > 0 for s in timed["seconds"])
    assert "| decoder | logits | Conv2DTranspose | 28x28x1 |" in out.with_suffix(".md").read_text()


def test_policy_quality_trains_and_tests_under_each_policy(tmp_path, mnist):
    out = tmp_path / "quality"
    policies = ["float32", "mixed_bfloat16"]
    done = subprocess.run([sys.executable, str(BENCHMARKS / "policy_quality.py"), "--limit", "512", "--epochs", "2",
                           "--policies", ",".join(policies), "--out", str(out)], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["backend"] == keras.config.backend() and report["train_images"] == report["test_images"] == 512
    assert [run["policy"] for run in report["runs"]] == policies
    for run in report["runs"]:
        assert len(run["train_loss"]) == 2 and run["train_loss"][1] < run["train_loss"][0], run
        test = run["test"]
        assert math.isfinite(test["loss"]) and test["loss"] == pytest.approx(
            test["reconstruction_loss"] + test["kl_loss"], rel=1e-4)
        assert run["train_wall_s"] > 0
    assert "| mixed_bfloat16 |" in out.with_suffix(".md").read_text()
