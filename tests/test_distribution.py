"""Data parallelism on Keras's own engines: a run split across virtual CPU devices (JAX's DataParallel,
TensorFlow's MirroredStrategy) or across two local worker processes (MultiWorkerMirroredStrategy) logs the
same losses and ends with the same weights as one device; what a backend lacks is refused with a clear error."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from harness import assert_same_weights, finish, write_mnist_npz

from keras_vae import distribution

DRIVER = Path(__file__).with_name("distributed.py")
BACKEND = keras.config.backend()
#: the engine each backend offers on one host, and how many virtual devices the test gives it: as many as the CI
#: machine's cores
LOCAL = {"jax": ("data-parallel", 2), "tensorflow": ("mirrored", 2)}


def train_argv(out, *extra):
    return ["train", "vae", "--epochs", "2", "--batch-size", "64", "--verbose", "0", "--out", str(out), *extra]


def start(devices, argv, data_dir, **env):
    """`keras-vae ARGV` in a subprocess that sees `devices` virtual CPU devices, on the MNIST subset in `data_dir`."""
    return subprocess.Popen([sys.executable, str(DRIVER), str(devices), *argv], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "KERAS_VAE_DATA_DIR": str(data_dir), "KERAS_VAE_ALLOW_VARIANT": "1",
                                 **env})


def assert_same_run(out, reference, replicas):
    """The same losses per epoch and weights as `reference` (float32 sums in another order: not bit for bit)."""
    history, expected = (json.loads((d / "history.json").read_text()) for d in (out, reference))
    assert history.keys() == expected.keys() and len(history["loss"]) == 2
    for key, values in expected.items():
        np.testing.assert_allclose(history[key], values, rtol=1e-5, err_msg=key)
    assert_same_weights(out / "model.weights.h5", reference / "model.weights.h5", atol=1e-6)
    metrics, single = (json.loads((d / "test_metrics.json").read_text()) for d in (out, reference))
    assert (metrics["replicas"], single["replicas"]) == (replicas, 1)
    for term in ("loss", "reconstruction_loss", "kl_loss"):
        assert metrics[term] == pytest.approx(single[term], rel=1e-5), term


@pytest.fixture(scope="module")
def runs(tmp_path_factory, small_mnist):
    """A data directory of 512 + 128 real images, and the reference run on one device."""
    root = tmp_path_factory.mktemp("distribution")
    data_dir = write_mnist_npz(root, small_mnist)
    status, err = finish(start(1, train_argv(root / "single"), data_dir))
    assert status == 0, err
    return root, data_dir


@pytest.mark.skipif(BACKEND == "torch", reason="PyTorch has no engine: test_torch_refuses_every_engine")
def test_one_host_data_parallel_training_matches_one_device(runs):
    root, data_dir = runs
    mode, devices = LOCAL[BACKEND]
    status, err = finish(start(devices, train_argv(root / mode, "--distribute", mode), data_dir))
    assert status == 0, err
    assert_same_run(root / mode, root / "single", replicas=devices)


@pytest.mark.skipif(BACKEND != "jax", reason="XLA:CPU's collectives (JAX); TensorFlow's run in its own runtime")
def test_thousands_of_short_steps_on_four_devices_run_to_the_end(tmp_path):
    """Without waiting for each step, JAX's overlapping steps deadlocked XLA:CPU's all-reduce within about 400 of
    these steps, and XLA aborted the process (SIGABRT) after 40 s (keras_vae/trainers/jax.py: _one_at_a_time)."""
    status, err = finish(start(4, ["steps", "data-parallel", "2000"], tmp_path))
    assert status == 0, err[-3000:]


@pytest.mark.skipif(BACKEND == "torch", reason="PyTorch has no engine: test_torch_refuses_every_engine")
def test_batch_norm_statistics_span_the_replicas(tmp_path):
    """An SGD step of conv_vae_bn's design split across replicas: batch norm normalises with the global batch's statistics
    (on TensorFlow, as a synchronized layer while it trains), so losses and weights are one device's."""
    mode, devices = LOCAL[BACKEND]
    for count, name in ((1, "one"), (devices, "split")):
        status, err = finish(start(count, ["sgd-step", mode if count > 1 else "auto", tmp_path / f"{name}.npz"],
                                   tmp_path))
        assert status == 0, err
    one, split = (np.load(tmp_path / f"{name}.npz") for name in ("one", "split"))
    assert (int(one["replicas"]), int(split["replicas"])) == (1, devices)
    assert not split["synchronized_after"]  # a saved model loads on every backend
    for key in one.files:
        if key.startswith("log/"):
            assert split[key] == pytest.approx(one[key], rel=1e-5), key
        elif key.startswith("weight/"):  # sums in another order: JAX 2e-5 off; unsynchronized TF replicas, 4e-3
            np.testing.assert_allclose(split[key], one[key], atol=1e-4, err_msg=key)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's engine (the others: test_other_engines_refuse)")
def test_two_worker_processes_train_like_one_device(runs):
    root, data_dir = runs
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = [start(1, train_argv(root / "workers", "--distribute", "multi-worker"), data_dir,
                     TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
               for index in range(2)]
    try:
        for worker in workers:
            status, err = finish(worker)
            assert status == 0, err
    finally:
        for worker in workers:
            worker.kill()
    assert_same_run(root / "workers", root / "single", replicas=2)
    assert not (root / "workers" / ".worker-1").exists()  # the second worker's scratch files are gone


@pytest.mark.skipif(BACKEND == "torch", reason="PyTorch has no engine: test_torch_refuses_every_engine")
def test_batches_the_devices_cannot_share_are_refused_before_anything_is_written(runs):
    root, data_dir = runs
    mode, devices = LOCAL[BACKEND]
    argv = train_argv(root / "uneven", "--distribute", mode)
    argv[argv.index("--batch-size") + 1] = str(8 * devices + 1)
    status, err = finish(start(devices, argv, data_dir))
    assert status == 2 and f"batch_size {8 * devices + 1} does not split across {devices} replicas" in err, err
    assert not (root / "uneven").exists()


def test_check_batches_names_the_batch_that_does_not_split(monkeypatch):
    distribution.check_batches(7, 100)  # one device: anything goes
    monkeypatch.setattr(distribution, "replicas", lambda: 4)
    distribution.check_batches(64, 60_000)  # 16 images each; the last batch of 32 gives 8 each
    with pytest.raises(ValueError, match="batch_size 30 does not split across 4 replicas: use a multiple of 4"):
        distribution.check_batches(30, 60_000)
    with pytest.raises(ValueError, match="the last batch holds 6 of the 70 images, which do not split across 4"):
        distribution.check_batches(64, 70)


def test_auto_on_one_device_is_one_replica():
    with distribution.scope("auto") as replicas:
        assert replicas == distribution.replicas() == 1
    with pytest.raises(ValueError, match="unknown distribution mode 'mirror'; choose one of auto, data-parallel"):
        with distribution.scope("mirror"):
            pass


@pytest.mark.skipif(BACKEND == "tensorflow", reason="TensorFlow has every engine")
def test_other_engines_refuse(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    error = NotImplementedError if BACKEND == "torch" else ValueError
    message = "not available on the PyTorch backend" if BACKEND == "torch" else "TensorFlow's tf.distribute"
    for mode in ("mirrored", "multi-worker"):
        with pytest.raises(error, match=message):
            with distribution.scope(mode):
                pass


@pytest.mark.skipif(BACKEND != "torch", reason="the PyTorch backend only")
def test_torch_refuses_every_engine(small_data_dir, tmp_path, capsys):
    from keras_vae import cli

    with pytest.raises(NotImplementedError, match="Use KERAS_BACKEND=jax with 'data-parallel'"):
        with distribution.scope("data-parallel"):
            pass
    assert cli.main(train_argv(tmp_path / "run", "--distribute", "data-parallel")) == 2
    assert "not available on the PyTorch backend" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's engine")
def test_multi_worker_without_a_cluster_is_refused(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG environment variable, which names no workers"):
        with distribution.scope("multi-worker"):
            pass
