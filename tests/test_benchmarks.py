"""benchmarks/throughput.py: `--quick` on this test run's backend gives every requested cell, sane numbers and
the report files; FLOPs are counted as the layers say. benchmarks/gpu.py: its dry run measures every cell on both
backends and judges the targets from them; its plan, budget and batch caps (memory.py's probe stops at the cap
too); a worker killed keeps its cells."""

import json
import math
import os
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
import gpu  # noqa: E402
import memory  # noqa: E402
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
def test_convolutions_times_every_convolution_and_the_step_on_both_paths(tmp_path):
    """conv_vae on JAX, whose CPU is where the phase path runs, at `--quick`'s settings."""
    out = tmp_path / "convolutions"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "convolutions.py"), "--quick", "--backends", "jax",
                           "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    (result,) = json.loads(out.with_suffix(".json").read_text())["backends"]
    for path in ("keras", "phases"):
        cells = [c for c in result["cells"] if c["path"] == path]
        assert [(c["layer"], c.get("strides"), c.get("output_shape")) for c in cells] == [
            ("conv2d", [2, 2], [14, 14, 32]), ("conv2d_1", [2, 2], [7, 7, 64]),
            ("conv2d_transpose", [2, 2], [14, 14, 64]), ("conv2d_transpose_1", [2, 2], [28, 28, 32]),
            ("logits", [1, 1], [28, 28, 1]), ("train_step", None, None)]
        for timed in [c[m] for c in cells for m in ("forward", "train") if m in c]:
            assert len(timed["seconds"]) == 2 and all(math.isfinite(s) and s > 0 for s in timed["seconds"])
    table = out.with_suffix(".md").read_text()
    assert "| conv2d_transpose_1 | Conv2DTranspose | 2x2 | 28x28x32 |" in table and "whole `train_step`" in table


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


@pytest.fixture(scope="module")
def gpu_dry_run(tmp_path_factory):
    """`gpu.py --dry-run`: the GPU run's pipeline on the CPU, both backends. One thread per backend: the run checks
    the pipeline, not speed, and torch's two threads crawl when another process holds one of the two cores."""
    out = tmp_path_factory.mktemp("gpu") / "dry-run"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "gpu.py"), "--dry-run", "--out", str(out)],
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, json.loads(out.with_suffix(".json").read_text())


@pytest.mark.backend_independent
def test_gpu_dry_run_measures_every_cell_on_both_backends(gpu_dry_run):
    _, report = gpu_dry_run
    settings = report["settings"]
    assert settings["backends"] == ["jax", "torch"] and settings["models"] == ["vae", "cvae"]
    assert [result["backend"] for result in report["backends"]] == ["jax", "torch"]
    cells = [cell for result in report["backends"] for cell in result["cells"]]
    assert all("failed" not in result for result in report["backends"])
    measured = [(c["backend"], c["model"], c["measure"], c["batch_size"]) for c in cells if c["kind"] == "keras_vae"]
    assert sorted(measured) == sorted((backend, model, measure, 16 if measure.startswith("train") else 64)
                                      for backend in ("jax", "torch") for model in ("vae", "cvae")
                                      for measure in ("train_fit", "train_loop", "decode", "decode_device"))
    peers = [(c["backend"], c["peer"], c["model"], c["batch_size"]) for c in cells if c["kind"] == "peer"]
    assert sorted(peers) == [("jax", "jax_jit", "vae", 16), ("torch", "torch_eager", "vae", 16)]
    for cell in cells:  # one repeat each
        (seconds,) = cell["seconds"]
        assert cell["samples_per_s"] == pytest.approx(cell["calls_per_repeat"] * cell["samples_per_call"] / seconds)
        assert math.isfinite(cell["samples_per_s"]) and cell["samples_per_s"] > 0 and cell["warmup_s"] > 0
        assert cell["device_peak_mb"] is None  # a CPU has no device memory to report
    for result in report["backends"]:
        assert result["caps"]["vae"] == {"batch_cap": (2**31 - 1) // 784, "elements_per_image": 784,
                                         "largest_layer": "encoder/images"}
        # the encoder's input: 784 pixels and the 10 one-hot labels, concatenated
        assert result["caps"]["cvae"]["elements_per_image"] == 794


@pytest.mark.backend_independent
def test_gpu_dry_run_judges_the_targets_from_its_cells(gpu_dry_run):
    out, report = gpu_dry_run
    cells = [cell for result in report["backends"] for cell in result["cells"]]
    training = [c for c in cells if c["kind"] == "keras_vae" and c["measure"] in ("train_fit", "train_loop")]
    goals = {"torch_eager": 2.0, "jax_jit": 1.0}
    rows = report["targets"]["peers"]
    assert sorted(row["peer"] for row in rows) == ["jax_jit", "torch_eager"]
    for row in rows:
        (peer,) = [c for c in cells if c["kind"] == "peer" and c["peer"] == row["peer"]]
        best = max(c["samples_per_s"] for c in training if c["model"] == "vae" and c["batch_size"] == 16)
        assert row["ratio"] == pytest.approx(best / peer["samples_per_s"])
        assert row["passed"] == (best / peer["samples_per_s"] >= goals[row["peer"]])
    decode = [c for c in cells if c["measure"] == "decode_device"]
    judged = [(row["backend"], row["model"], row["samples_per_s"], row["passed"])
              for row in report["targets"]["decode"]]
    assert sorted(judged) == sorted((c["backend"], c["model"], c["samples_per_s"], c["samples_per_s"] >= 1e6)
                                    for c in decode)
    table = out.with_suffix(".md").read_text()
    assert report["command"] in table and "## Targets" in table and "## Not measured" not in table
    assert "| torch_eager | vae | 16 |" in table and "| cvae | torch | 64 |" in table


@pytest.mark.backend_independent
def test_the_batch_cap_keeps_every_tensor_under_2_to_the_31_elements():
    """conv_vae's largest activation is the 28 x 28 x 32 output of its second transposed convolution."""
    cap = memory.batch_cap(zoo.get("conv_vae"))
    assert (cap["elements_per_image"], cap["batch_cap"]) == (28 * 28 * 32, 85598)
    assert 85598 * 28 * 28 * 32 <= 2**31 - 1 < 85599 * 28 * 28 * 32
    assert cap["largest_layer"].startswith("decoder/conv2d_transpose")


@pytest.mark.backend_independent
@pytest.mark.parametrize("backend, largest", [("jax", 2**16), ("torch", 2**19)])
def test_the_memory_probe_stops_below_the_cap_but_on_torch(monkeypatch, backend, largest):
    """memory.py's doubling on a GPU: JAX's stops before the batch at which conv_vae's step would hold a tensor past
    2**31 - 1 elements, without running it; torch, which splits such a convolution, goes on."""
    tried = []
    monkeypatch.setattr(memory, "fits", lambda device, name, batch: tried.append(batch) or True)
    monkeypatch.setattr(keras.backend, "clear_session", lambda: None)
    gpu_device = type("Device", (), {"name": backend, "device": "NVIDIA H100 80GB HBM3"})()
    batch, probes = memory.largest_batch(gpu_device, "conv_vae", {"start_batch": 2**14, "max_batch": 2**19})
    assert batch == largest and tried == [2**k for k in range(14, 20) if 2**k <= largest]
    if backend == "jax":
        assert probes[-1] == {"batch": 2**17, "fits": None}
        assert memory._chosen_by({"probes": probes}) == "131072 would hold a tensor of more than 2**31 - 1 elements"


@pytest.mark.backend_independent
def test_the_gpu_plan_puts_the_targets_first_and_skips_batches_past_the_cap():
    settings = {"models": ["ae", "conv_vae"], "batch_sizes": [512, 131072], "decode_batch": 65536,
                "peers": ["torch_eager", "torch_compile", "jax_jit"], "peer_architectures": ["conv"],
                "ignore_cap": False}
    caps = {name: {"batch_cap": cap, "elements_per_image": (2**31 - 1) // cap, "largest_layer": "x"}
            for name, cap in (("ae", 2739137), ("conv_vae", 85598))}
    tasks = gpu.plan(settings, "torch", caps)
    assert [(t["task"], t.get("peer"), t["model"], t["batch_size"], "skipped" in t) for t in tasks] == [
        ("peer", "torch_eager", "conv_vae", 512, False), ("train", None, "conv_vae", 512, False),
        ("peer", "torch_eager", "conv_vae", 131072, True), ("train", None, "conv_vae", 131072, True),
        ("decode", None, "conv_vae", 65536, False), ("decode", None, "ae", 65536, False),
        ("peer", "torch_compile", "conv_vae", 512, False), ("peer", "torch_compile", "conv_vae", 131072, True),
        ("train", None, "ae", 512, False), ("train", None, "ae", 131072, False)]
    assert "more than 2**31 - 1" in tasks[2]["skipped"]
    assert not any("skipped" in task for task in gpu.plan({**settings, "ignore_cap": True}, "torch", caps))


@pytest.mark.backend_independent
def test_the_budget_starts_a_task_only_if_the_longest_of_its_kind_fits():
    now = [0.0]
    budget = gpu.Budget(100.0, clock=lambda: now[0])
    conv, dense = ({"task": "train", "model": name, "batch_size": 512} for name in ("conv_vae", "vae"))
    compiled = {"task": "peer", "peer": "torch_compile", "architecture": "conv", "model": "conv_vae",
                "batch_size": 512}
    first, compiling = gpu.FIRST_GUESS_S["train"], gpu.FIRST_GUESS_S["torch_compile"]
    assert budget.refusal(conv) is None and budget.refusal(compiled) is None
    now[0] = 100.0 - first + 1
    assert budget.refusal(conv) and budget.refusal(compiled)
    budget.spent(conv, 5.0)
    budget.spent(conv, 3.0)  # the longest is kept
    assert budget.refusal(conv) is None and budget.estimate(conv) == 5.0
    assert budget.estimate(dense) == first and budget.estimate(compiled) == compiling
    now[0] = 96.0
    assert "4 s of the backend's share left, the task needs about 5 s" in budget.refusal(conv)


@pytest.mark.backend_independent
def test_a_gpu_worker_killed_past_its_time_keeps_the_cells_it_wrote(tmp_path):
    """Killed while it imports (1 s): what it had written (here, a cell) and why it stopped come back."""
    partial = tmp_path / "jax.json"
    written = {"backend": "jax", "device": "cpu", "cells": [{"task": "train", "model": "vae", "samples_per_s": 1.0}]}
    partial.write_text(json.dumps(written))
    result = gpu.run_worker("jax", {"partial": str(partial)}, timeout=1)
    assert result["cells"] == written["cells"] and "the jax worker ran past 1 s and was killed" in result["failed"]
