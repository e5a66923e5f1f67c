"""Keras callbacks that make a long training run safe to interrupt, resume and leave unattended.

`keras-vae train` uses all four; from Python they go to `fit` like any Keras callback:

    batches = keras_vae.data.EpochBatches(x_train, batch_size=64, seed=0)
    model.fit(batches, epochs=30, shuffle=False, callbacks=[           # the batches shuffle, by epoch
        StopOnNonFiniteLoss(),                                # NaN or Inf stops with the epoch and batch: first
        HistoryWriter("run/history.json", resume=True),      # before the backup: see its docstring
        BackupAndRestore("run/backup"),                       # a crash at any moment loses one epoch at most
        DataEpoch(batches),                                   # a resumed epoch sees the same batches
    ])

None of them makes the training loop wait for the device at each step: on JAX and PyTorch, Keras reads a batch's
logs back on a worker thread unless some callback's `on_train_batch_end` must run on the loop's own thread, and
these mark theirs `async_safe` (TensorFlow's loop reads the logs back after every step, whatever the callbacks).
"""

import json
import math
import threading
from pathlib import Path

import keras
import numpy as np

from keras_vae.files import atomic_directory, recover_directory, write_json


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or Inf."""


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras's `BackupAndRestore` with a backup that a crash at any moment cannot tear.

    Keras writes `latest.weights.h5` (the weights with the optimizer's state) and `training_metadata.json`
    (the epoch) in place, one after the other: a process killed mid-write leaves a half-written weights file,
    or one epoch's weights beside the previous epoch's number. Here both are written to a temporary
    directory that replaces `backup_dir` in one rename (`keras_vae.files.atomic_directory`); a swap cut
    short by a crash is undone before the backup loads, so a resumed run starts from the last completed
    epoch and never from a half-written file. The metadata also keeps the states of the model's random
    generators, which `save_weights` leaves out, so that the resumed run draws the same noise.

    Args:
        backup_dir: the directory of the backup; nothing else may be kept in it.
        delete_checkpoint: remove the backup when `fit` ends. `keras-vae train` keeps it until the trained
            model is saved, so that a crash in between loses nothing.

    Raises:
        OSError: from `fit`, when a backup cannot be written (disk full, directory not writable); the
            previous backup is left as it was.
        ValueError: from `fit`, when the backup does not fit the model (another architecture or optimizer).

    Example:
        >>> model.fit(x_train, epochs=30, callbacks=[BackupAndRestore("runs/vae/backup")])
        >>> # killed at epoch 12; the same call again goes on from the end of epoch 11
    """

    #: saving by epoch, Keras's `on_train_batch_end` does nothing: it may run on Keras's callback thread
    async_safe = True

    def __init__(self, backup_dir, delete_checkpoint=True):
        super().__init__(str(backup_dir), save_freq="epoch", delete_checkpoint=delete_checkpoint)

    def on_train_begin(self, logs=None):
        recover_directory(Path(self.backup_dir))
        try:
            super().on_train_begin(logs)
            if Path(self._training_metadata_path).exists():
                states = json.loads(Path(self._training_metadata_path).read_text())["random_states"]
                for variable, state in zip(_random_states(self.model), states, strict=True):
                    variable.assign(np.asarray(state, dtype=variable.dtype))
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(f"the backup in {self.backup_dir} does not fit this model and optimizer ({error}); "
                             "resume with the settings that wrote it, or remove it to start over") from None

    def on_epoch_end(self, epoch, logs=None):
        target, epochs_done = Path(self.backup_dir), epoch + 1  # also the (0-based) epoch a resumed run starts at
        try:
            with atomic_directory(target) as tmp:
                self.model.save_weights(str(tmp / Path(self._weights_path).name))
                write_json(tmp / Path(self._training_metadata_path).name, {
                    "epoch": epochs_done,
                    "random_states": [keras.ops.convert_to_numpy(v).tolist() for v in _random_states(self.model)]})
        except (OSError, RuntimeError) as error:  # h5py reports a failed write as either
            raise OSError(f"could not write the backup of epoch {epochs_done} to {target} ({error}); "
                          "the previous backup is unchanged: free some space and resume") from error


def _random_states(model):
    """The states of the model's `keras.random.SeedGenerator`s (the sampler's noise), which `save_weights`
    leaves out: a resumed run needs them to draw the noise an uninterrupted one would."""
    return [v for v in model.non_trainable_variables if v.name == "seed_generator_state"]


class HistoryWriter(keras.callbacks.Callback):
    """Writes the per-epoch logs to a JSON file after every epoch, keeping a resumed run's earlier epochs.

    Put it before `BackupAndRestore` in the callback list: the history is then never behind the backup,
    and a resumed run rewrites from its first epoch on.

    Args:
        path: the JSON file, written atomically; on a resumed run its epochs before the resumed one are kept.
        resume: whether to continue the history already in `path`.

    Example:
        >>> model.fit(x_train, epochs=3, callbacks=[HistoryWriter("runs/vae/history.json")])
        >>> json.load(open("runs/vae/history.json"))["loss"]        # three numbers
    """

    def __init__(self, path, resume=False):
        super().__init__()
        self.path = Path(path)
        self.history = json.loads(self.path.read_text()) if resume and self.path.exists() else {}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history[key] = self.history.get(key, [])[:epoch] + [float(value)]
        write_json(self.path, self.history)


class DataEpoch(keras.callbacks.Callback):
    """Tells a `keras_vae.data.EpochBatches` which epoch `fit` is in.

    A resumed `fit` starts at the backup's epoch; the batches then follow it, so the resumed epochs see the
    same order (and binarization draws) as an uninterrupted run.

    Args:
        batches: the `EpochBatches` (or `DynamicBinarization`) that `fit` trains on.

    Example:
        >>> batches = EpochBatches(x_train, batch_size=64)
        >>> model.fit(batches, epochs=10, shuffle=False, callbacks=[BackupAndRestore("backup"), DataEpoch(batches)])
    """

    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.set_epoch(epoch)


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops `fit` when a batch's loss is NaN or Inf, with an error naming the epoch and the batch.

    Keras's `TerminateOnNaN` stops quietly and leaves the broken weights in the model. This one puts back
    the weights and optimizer state the model had when the failing epoch began (a copy kept in host memory
    at each epoch's start), then raises `NonFiniteLossError` with the usual fixes.

    The check makes no step wait for the device. A batch's logs reach `on_train_batch_end` already read back;
    on JAX and PyTorch, Keras does that on a worker thread when every callback is `async_safe`, so this method
    only records what it sees. The logged loss is the epoch's running mean, which becomes non-finite at
    the first non-finite batch loss and stays so: the first batch whose logged loss is non-finite is the one
    that failed (barring a sum past float32's largest value, which only losses near 1e38 reach). The training
    loop's thread stops at the start of a later batch, as soon as every batch before the failed one has been
    checked, or else in `on_epoch_end` (when the epoch's last batches failed, or with `steps_per_execution` > 1):
    put this callback first in the list, so that the others' `on_epoch_end` (a backup, a history file) never
    see the failed epoch.

    Raises:
        NonFiniteLossError: from `fit`, naming the epoch and batch (1-based) of the first non-finite loss.

    Example:
        >>> model.fit(x_train, epochs=10, callbacks=[StopOnNonFiniteLoss(), HistoryWriter("history.json")])
        NonFiniteLossError: the training loss became nan at epoch 3, batch 117; ...
    """

    #: `on_train_batch_end` only records, under a lock: it may run on Keras's callback thread
    async_safe = True

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._saved = [np.array(keras.ops.convert_to_numpy(v)) for v in self._variables()]
        self._finite = 0  # the epoch's batches checked so far whose loss was finite
        self._failed = None  # (batch, loss) of the earliest non-finite loss checked so far

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", 0.0))
        with self._lock:
            if math.isfinite(loss):
                self._finite += 1
            elif self._failed is None or batch < self._failed[0]:
                self._failed = (batch, loss)

    def on_train_batch_begin(self, batch, logs=None):
        with self._lock:  # the batches before the failed one are all finite: when all are checked, it is the first
            failed = self._failed if self._failed is not None and self._finite == self._failed[0] else None
        if failed is not None:
            self._stop(*failed)

    def on_epoch_end(self, epoch, logs=None):
        if self._failed is not None:  # Keras has run every batch's check before `on_epoch_end`
            self._stop(*self._failed)

    def _stop(self, batch, loss):
        for variable, value in zip(self._variables(), self._saved):
            variable.assign(value)
        raise NonFiniteLossError(
            f"the training loss became {loss} at epoch {self._epoch + 1}, batch {batch + 1}; the model's weights "
            f"and optimizer state were put back to those at the start of epoch {self._epoch + 1}. Usual fixes: a "
            "lower learning rate, gradient clipping (keras.optimizers.Adam(clipnorm=1.0)), the float32 dtype "
            "policy instead of mixed_float16, and images that are finite and in [0, 1]")

    def _variables(self):
        return [*self.model.weights, *self.model.optimizer.variables]
