"""Faults during training: runs really killed with SIGKILL resume to the uninterrupted result; a NaN loss or a
full disk stops with a clear error and leaves the earlier files as they were."""

import json
import random
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from harness import assert_same_weights, finish

import keras_vae
from keras_vae import callbacks, cli, data, training, zoo

CRASH = Path(__file__).with_name("crash.py")
EPOCHS = 5  # crash.py's


def run_in_process(out, *resume, crash=("none", 0), **popen):
    """Starts `keras_vae.train("vae", epochs=5, out=out)` in a subprocess, killed at the moment `crash` names (see
    tests/crash.py); `run_in_process(out, "--resume")` resumes."""
    return subprocess.Popen([sys.executable, str(CRASH), *map(str, crash), str(out), *resume],
                            stderr=subprocess.PIPE, text=True, **popen)


def epochs_in(out):
    path = out / "history.json"
    return len(json.loads(path.read_text())["loss"]) if path.exists() else 0


def backup_epoch(out):
    return json.loads((out / "backup" / "training_metadata.json").read_text())["epoch"]


def test_runs_killed_at_any_moment_resume_to_the_uninterrupted_result(small_data_dir, tmp_path):
    reference, out = tmp_path / "reference", tmp_path / "run"
    assert finish(run_in_process(reference))[0] == 0

    # killed with the first backup's weights half written: there is nothing to resume from yet
    assert finish(run_in_process(out, crash=("torn", 1)))[0] == -signal.SIGKILL
    assert not (out / "backup").exists() and epochs_in(out) == 1

    # resumed (from the start), then killed between the renames that put the third backup in place
    assert finish(run_in_process(out, "--resume", crash=("swap", 3)))[0] == -signal.SIGKILL
    assert not (out / "backup").exists() and epochs_in(out) == 3

    # resumed from the second epoch's backup, then killed from outside at a random moment after epoch 4's end:
    # in epoch 5, in a backup's swap or while the outputs are written (the backup goes last, renamed away first)
    run = run_in_process(out, "--resume")
    while epochs_in(out) < 4 and run.poll() is None:
        time.sleep(0.01)
    time.sleep(random.uniform(0, 0.5))
    run.kill()
    assert finish(run)[0] == -signal.SIGKILL, "the run ended before it was killed"

    status, err = finish(run_in_process(out, "--resume"))
    assert status == 0 or "already holds a trained model.keras" in err, err  # killed once it had removed its backup
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in reference.iterdir())
    history, expected = (json.loads((d / "history.json").read_text()) for d in (out, reference))
    assert len(history["loss"]) == EPOCHS and history.keys() == expected.keys()
    # The weights must match bit for bit. The logged means may differ in the last bits: TensorFlow runs a
    # graph's independent ops in parallel, and 40 evaluations of the same weights in one process gave 3
    # different val_loss values (1 with inter-op parallelism off).
    for key, values in expected.items():
        np.testing.assert_allclose(history[key], values, rtol=1e-6, err_msg=key)
    assert_same_weights(out / "model.weights.h5", reference / "model.weights.h5")


def files_of_at_most_50_kb():
    """A full disk, as the process sees it: writing past 50 kB fails with EFBIG (SIGXFSZ ignored)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))


def test_a_full_disk_fails_cleanly_and_the_previous_backup_survives(small_data_dir, tmp_path):
    out = tmp_path / "run"
    assert finish(run_in_process(out, crash=("swap", 3)))[0] == -signal.SIGKILL
    status, err = finish(run_in_process(out, "--resume", preexec_fn=files_of_at_most_50_kb))
    assert status == 1 and "could not write the backup of epoch 3" in err and "previous backup is unchanged" in err
    assert backup_epoch(out) == 2 and not list(out.glob(".backup*"))
    model = zoo.get("vae")
    model.compile(optimizer="adam")
    model.optimizer.build(model.trainable_variables)
    model.load_weights(out / "backup" / "latest.weights.h5")  # whole and loadable


def test_the_disk_space_a_run_needs_is_checked_before_training(small_data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(training.shutil, "disk_usage", lambda path: type("usage", (), {"free": 100_000})())
    out = tmp_path / "run"
    with pytest.raises(OSError, match="has 0.1 MB free; this run writes about"):
        keras_vae.train("vae", out=out, verbose=0)
    assert list(out.iterdir()) == []


class NaNBatch(data.EpochBatches):
    """Real MNIST batches, with NaN in batch `batch` of epoch `epoch` (1-based), past `fit`'s array checks."""

    def __init__(self, images, epoch, batch):
        super().__init__(images, batch_size=64)
        self.poisoned = (epoch - 1, batch - 1)

    def _images_of(self, rows, index):
        images = super()._images_of(rows, index)
        return images * np.nan if (self.epoch, index) == self.poisoned else images


@pytest.mark.parametrize("batch", [3, 8])  # mid-epoch, and the last of the epoch's 8 batches
def test_a_nan_loss_stops_with_the_epoch_and_batch_and_keeps_the_last_good_weights(small_mnist, batch):
    (x, _), _ = small_mnist
    model = zoo.get("vae")
    model.compile(optimizer="adam")
    epoch_ends = []  # the weights that a callback after the stop sees at each epoch's end
    keep = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epoch_ends.append(
        [np.array(keras.ops.convert_to_numpy(w)) for w in model.weights]))
    nan_data = NaNBatch(x[:512], epoch=2, batch=batch)
    with pytest.raises(callbacks.NonFiniteLossError,
                       match=f"became nan at epoch 2, batch {batch};.*lower learning rate"):
        model.fit(nan_data, epochs=3, verbose=0, shuffle=False,
                  callbacks=[callbacks.StopOnNonFiniteLoss(), callbacks.DataEpoch(nan_data), keep])
    assert len(epoch_ends) == 1  # the failed epoch reached no later callback
    for weight, good in zip(model.weights, epoch_ends[0]):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(weight), good)


@pytest.mark.skipif(keras.config.backend() == "tensorflow",
                    reason="Keras (3.7 and later) runs TensorFlow's batch callbacks on the training thread")
def test_the_training_callbacks_leave_batch_callbacks_off_the_training_thread(small_mnist, tmp_path):
    """Keras reads a batch's logs back on a worker thread only when every callback allows it: the four of
    `keras-vae train` must, or each training step waits for the device."""
    (x, _), _ = small_mnist
    model = zoo.get("vae")
    model.compile(optimizer="adam")
    batches = data.EpochBatches(x[:256], batch_size=64)
    threads = set()
    probe = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: threads.add(threading.get_ident()))
    probe.async_safe = True
    model.fit(batches, epochs=1, verbose=0, shuffle=False, callbacks=[
        callbacks.StopOnNonFiniteLoss(), callbacks.HistoryWriter(tmp_path / "history.json"),
        callbacks.BackupAndRestore(tmp_path / "backup"), callbacks.DataEpoch(batches), probe])
    assert threads and threading.get_ident() not in threads


def test_a_diverging_cli_run_exits_2_naming_the_epoch_and_batch(small_data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "vae", "--epochs", "2", "--batch-size", "64", "--learning-rate", "1e12", "--verbose",
                     "0", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"^keras-vae: error: the training loss became (nan|inf) at epoch \d, batch \d+;", err), err
    assert "start a new out folder" in err and not (out / "model.keras").exists()


def test_the_log_variance_is_clipped_so_exp_cannot_overflow():
    from keras_vae.layers import Sampling
    from keras_vae.losses import kl_divergence

    z_mean, z_log_var = np.zeros((2, 2), "float32"), np.full((2, 2), 1e4, "float32")
    assert np.isfinite(keras.ops.convert_to_numpy(kl_divergence(z_mean, z_log_var))).all()
    assert np.isfinite(keras.ops.convert_to_numpy(Sampling(seed=0)([z_mean, z_log_var]))).all()
