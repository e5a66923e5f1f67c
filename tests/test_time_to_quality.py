"""benchmarks/time_to_quality.py: `--quick` trains the peer and a keras_vae configuration until the test loss first
reaches the threshold, on the clock it reports; the test loss is the negative ELBO a hand computation gives."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import time_to_quality  # noqa: E402


@pytest.mark.backend_independent
def test_quick_run_stops_each_contestant_at_the_first_evaluation_under_the_threshold(tmp_path, mnist):
    out = tmp_path / "time_to_quality"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "time_to_quality.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.with_suffix(".json").read_text())
    settings, (peer, mine) = report["settings"], report["contestants"]
    threshold, every, quick = settings["threshold"], settings["eval_every"], time_to_quality.QUICK
    assert (peer["kind"], mine["kind"]) == ("peer", "keras_vae") and mine["config"]["backend"] == "tensorflow"
    assert peer["config"] == {"backend": "tensorflow", "policy": "float32", "batch_size": 128, "learning_rate": 1e-3,
                              "schedule": "constant", "schedule_epochs": None, "steps_per_execution": 1,
                              "jit_compile": "auto", "data": "arrays"}
    for contestant in (peer, mine):
        (run,) = contestant["runs"]
        curve = run["curve"]
        assert run["reached"] and (run["train_images"], run["test_images"]) == (quick["train_images"],
                                                                                quick["test_images"])
        # evaluated every 1,024 images (a whole number of batches and a quarter of the epoch), until the first loss
        # under the threshold; an untrained conv VAE scores about 784 log 2 = 543 nats
        assert [point["images"] for point in curve] == [every * (i + 1) for i in range(len(curve))]
        assert curve[-1]["loss"] <= threshold < min(point["loss"] for point in curve[:-1])
        assert curve[0]["loss"] > 400 and len(curve) >= 3
        seconds = [point["train_s"] for point in curve]
        assert 0 < run["warmup_s"] < seconds[0] and seconds == sorted(seconds)
        assert run["fit_wall_s"] > seconds[-1] + run["eval_s"] - 0.01
        assert run["seconds"] == seconds[-1] and run["images"] == curve[-1]["images"]
        assert run["final_loss"] == curve[-1]["loss"] and run["samples_per_s"] > 0
        assert contestant["summary"]["seconds"] == run["seconds"]
    speedup = peer["runs"][0]["seconds"] / mine["runs"][0]["seconds"]
    assert mine["summary"]["speedup"] == pytest.approx(speedup)
    assert mine["summary"]["passes"] == (speedup >= settings["target"])
    check = mine["runs"][0]["check"]  # the same final weights, each with its own posterior sample
    assert check["negative_elbo"] == pytest.approx(check["keras_vae_evaluate"], rel=0.03)
    table = out.with_suffix(".md").read_text()
    assert report["command"] in table
    assert "| keras_tutorial (peer) | tensorflow, float32, batch 128, Adam 0.001 constant, steps/exec 1" in table
    assert f"| keras_vae 1 | {time_to_quality.describe(mine['config'])} | {mine['runs'][0]['seconds']:.1f} |" in table
    assert f"| {speedup:.2f}x: {'pass' if speedup >= settings['target'] else 'fail'} |" in table


@pytest.mark.parametrize("losses, settings, epochs, images, epochs_run", [
    # batches of 4, 4 and 2 images: the step boundaries fall at 4, 8, 10 (the epoch's end), 14, 18, 20, ...
    ([300, 200, 100, 50], {"eval_every": 6, "threshold": 150, "max_seconds": 1e9}, 5, [8, 14, 18], 2),
    ([300] * 4, {"eval_every": 7, "threshold": 150, "max_seconds": 1e9}, 2, [8, 14, 20], 2),  # the last: at the end
    ([300] * 4, {"eval_every": 6, "threshold": 150, "max_seconds": 0}, 5, [8], 1),  # out of time at once
])
def test_the_clock_evaluates_at_the_cadence_and_stops_at_the_threshold_or_the_budget(losses, settings, epochs,
                                                                                      images, epochs_run):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    given = iter(losses)
    clock = time_to_quality._clock(lambda: {"loss": next(given)}, 10, 4, settings)
    clock.start()
    model.fit(np.ones((10, 3)), np.zeros((10, 1)), batch_size=4, epochs=epochs, shuffle=False, verbose=0,
              callbacks=[clock])
    assert [point["images"] for point in clock.curve] == images
    assert [point["loss"] for point in clock.curve] == losses[:len(images)]
    seconds = [point["train_s"] for point in clock.curve]
    assert clock.warmup["images"] == 4 and 0 < clock.warmup["seconds"] <= seconds[0] and seconds == sorted(seconds)
    assert len(model.history.epoch) == epochs_run


@pytest.mark.backend_independent
def test_the_test_loss_is_the_negative_elbo_a_hand_computation_gives():
    images = np.random.default_rng(1).random((6, 28, 28, 1))
    # the prior as posterior and a decoder of probability 1/2 everywhere: KL 0, ln 2 per pixel whatever the noise
    prior = time_to_quality.negative_elbo(lambda x: (np.zeros((len(x), 2)), np.zeros((len(x), 2))),
                                          lambda z: np.full((len(z), 784), 0.5), images)
    assert prior == pytest.approx({"loss": 784 * math.log(2), "reconstruction_loss": 784 * math.log(2),
                                   "kl_loss": 0.0})
    # a posterior so narrow (variance e^-40) that its sample is its mean, and a decoder of that mean
    means = np.stack([images.mean(axis=(1, 2, 3)), -images.mean(axis=(1, 2, 3))], axis=1)
    narrow = time_to_quality.negative_elbo(
        lambda x: (means, np.full((len(x), 2), -40.0)),
        lambda z: np.repeat(1 / (1 + np.exp(-z[:, :1])), 784, axis=1), images)
    p = 1 / (1 + np.exp(-means[:, :1]))
    x = images.reshape(6, 784)
    reconstruction = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=1)
    kl = 0.5 * (means ** 2 + math.exp(-40) - 1 + 40).sum(axis=1)
    assert narrow == pytest.approx({"loss": np.mean(reconstruction + kl),
                                    "reconstruction_loss": np.mean(reconstruction), "kl_loss": np.mean(kl)}, rel=1e-6)


@pytest.mark.backend_independent
def test_configurations_take_the_options_values_for_the_keys_they_leave_out():
    parser = time_to_quality._parser()
    args = parser.parse_args(["--learning-rate", "2e-3", "--max-epochs", "20", "--config", "batch_size=64",
                              "--config", "backend=jax,schedule=cosine,steps_per_execution=8,jit_compile=false"])
    assert time_to_quality.configs_of(args) == [
        {"backend": "tensorflow", "policy": "float32", "batch_size": 64, "learning_rate": 2e-3,
         "schedule": "constant", "schedule_epochs": None, "steps_per_execution": 1, "jit_compile": "auto",
         "data": "batches"},
        {"backend": "jax", "policy": "float32", "batch_size": 128, "learning_rate": 2e-3, "schedule": "cosine",
         "schedule_epochs": 20, "steps_per_execution": 8, "jit_compile": False, "data": "batches"}]
    for bad in ("batch_sise=64", "backend=theano", "backend=torch,steps_per_execution=4", "learning_rate=fast"):
        with pytest.raises(SystemExit, match="time_to_quality.py: bad"):
            time_to_quality.configs_of(parser.parse_args(["--config", bad]))
