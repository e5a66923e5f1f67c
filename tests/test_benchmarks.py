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
    """`--quick` on the dense VAE: the cells and the report of the conv default, without XLA's slow CPU gradients
    of transposed convolutions."""
    out = tmp_path_factory.mktemp("benchmark") / "quick"
    done = throughput("--quick", "--models", "vae", "--peer-architectures", "dense", "--backends",
                      keras.config.backend(), "--out", str(out))
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
    assert "| vae | " + keras.config.backend() + " | float32 | 32 |" in table
    assert "## keras_vae against the peers" in table and report["command"] in table
    assert matplotlib.image.imread(out.with_suffix(".png")).std() > 0.05


@pytest.mark.backend_independent
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


#: the dense VAE's layers after their inputs: (class, output shape, FLOPs per image: 2 per multiply-add)
VAE_LAYERS = [
    ("Flatten", [784], 0), ("Dense", [128], 2 * 784 * 128), ("Dense", [16], 2 * 128 * 16),
    ("Dense", [2], 2 * 16 * 2), ("Dense", [2], 2 * 16 * 2),  # z_mean, z_log_var
    ("Dense", [16], 2 * 2 * 16), ("Dense", [128], 2 * 16 * 128), ("Dense", [784], 2 * 128 * 784),  # logits
    ("Reshape", [28, 28, 1], 0),
]


@pytest.mark.backend_independent
def test_layer_times_time_every_layer_and_the_whole_step(tmp_path):
    """The dense VAE at `--quick`'s settings (`--quick` itself times the conv VAE, whose gradients XLA's CPU
    compiles slowly)."""
    out = tmp_path / "layers"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "layer_times.py"), "--models", "vae", "--batch-size", "32",
                           "--repeats", "5", "--min-seconds", "0", "--backends", keras.config.backend(),
                           "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    (result,) = json.loads(out.with_suffix(".json").read_text())["backends"]
    *cells, step = result["cells"]
    assert [(c["class"], c["output_shape"], c["flops_per_sample"]) for c in cells] == VAE_LAYERS
    assert step["layer"] == "train_step" and step["flops_per_sample"] == sum(flops for *_, flops in VAE_LAYERS)
    for timed in [c[m] for c in cells for m in ("forward", "train")] + [step["train"]]:
        assert len(timed["seconds"]) == 5 and all(math.isfinite(s) and s > 0 for s in timed["seconds"])
    assert "| decoder | logits | Dense | 784 |" in out.with_suffix(".md").read_text()


@pytest.mark.backend_independent
def test_policy_quality_trains_and_tests_under_each_policy(tmp_path, mnist):
    out = tmp_path / "quality"
    policies = ["float32", "mixed_bfloat16"]
    done = subprocess.run([sys.executable, str(BENCHMARKS / "policy_quality.py"), "--model", "vae", "--limit", "512",
                           "--epochs", "2", "--batch-size", "32", "--policies", ",".join(policies), "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["backend"] == keras.config.backend() and report["train_images"] == report["test_images"] == 512
    assert [run["policy"] for run in report["runs"]] == policies
    for run in report["runs"]:
        assert len(run["train_loss"]) == 2 and run["train_loss"][1] < run["train_loss"][0], run
        # an untrained dense VAE scores about 784 log 2 = 543 nats; these 32 steps reached 246 on JAX
        assert run["test"]["loss"] < 400, run
        assert run["train_wall_s"] > 0
    float32, bfloat16 = (run["test"]["loss"] for run in report["runs"])
    assert abs(bfloat16 - float32) < 0.02 * float32  # what bfloat16 costs in quality: 0.1 to 0.5% here
    assert "| mixed_bfloat16 |" in out.with_suffix(".md").read_text()


@pytest.mark.backend_independent
def test_export_formats_sizes_and_times_every_endpoint_of_every_format(tmp_path):
    out = tmp_path / "export"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "export_formats.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    (result,) = json.loads(out.with_suffix(".json").read_text())["backends"]
    formats = result["models"]["vae"]
    assert list(formats) == ["saved_model", "onnx", "litert"]
    weights = sum(math.prod(w.shape) for w in zoo.get("vae").weights) * 4  # float32 bytes
    for format, cell in formats.items():
        # each holds the weights (ONNX once per file: encode's, decode's, and both in reconstruct's)
        assert weights < cell["bytes"] < (2.5 if format == "onnx" else 1.5) * weights + 2e6, (format, cell["bytes"])
        for endpoint in ("encode", "decode", "reconstruct"):
            seconds = cell[endpoint]["seconds"]
            assert len(seconds) == 2 and all(math.isfinite(s) and s > 0 for s in seconds)
    assert "| vae | litert |" in out.with_suffix(".md").read_text()
