"""Data-parallel training on Keras's own distribution engines, one per backend.

Each global batch is split evenly across the replicas (devices, on one host or several); each replica runs the
model's own `train_step` on its share, and the gradients, losses and metrics are combined so that they equal
those of one device on the whole batch:

- JAX: `keras.distribution.DataParallel` over every device (several hosts: call
  `jax.distributed.initialize()` in each process first);
- TensorFlow: `tf.distribute.MirroredStrategy` over the local GPUs (or logical CPUs), and
  `MultiWorkerMirroredStrategy` across hosts, whose cluster comes from `TF_CONFIG`;
- PyTorch: Keras has no engine there; only `"auto"` (one device) is accepted.

Build, compile, fit, evaluate and save the model inside `scope`:

    with keras_vae.distribution.scope("auto") as replicas:
        model = keras_vae.zoo.get("conv_vae")
        model.compile(optimizer="adam")
        model.fit(x_train, batch_size=64 * replicas, epochs=10, shuffle=False)

`keras-vae train NAME --distribute MODE` does the same.
"""

import contextlib
import importlib

from keras_vae.arguments import positive_int

#: "auto": every local device (every worker of TF_CONFIG on TensorFlow) when there are several, else one;
#: "data-parallel": JAX's DataParallel, TensorFlow's MirroredStrategy; "mirrored" and "multi-worker": TensorFlow's
MODES = ("auto", "data-parallel", "mirrored", "multi-worker")


def _trainers():
    """The active backend's trainers, imported on first use: `MODES` is read without keras (the CLI's parser)."""
    return importlib.import_module("keras_vae.trainers")


@contextlib.contextmanager
def scope(mode="auto", devices=None):
    """Trains what is built and run inside on the backend's data-parallel engine.

    Args:
        mode: one of `MODES`.
        devices: how many of this host's devices to use (default: all); not for "multi-worker".

    Yields:
        The number of replicas a global batch is split across (1: one device).

    Raises:
        ValueError: for an unknown mode, one the backend lacks (e.g. "mirrored" on JAX), or "multi-worker"
            without a cluster in `TF_CONFIG`.
        NotImplementedError: for any mode but "auto" on PyTorch.

    Example:
        >>> with scope("data-parallel") as replicas:     # JAX, 4 devices: replicas == 4
        ...     model = keras_vae.zoo.get("vae"); model.compile(optimizer="adam")
        ...     model.fit(x_train, batch_size=128, epochs=2)   # 32 images per device and step
    """
    if mode not in MODES:
        raise ValueError(f"unknown distribution mode {mode!r}; choose one of {', '.join(MODES)}")
    if devices is not None:
        devices = positive_int("devices", devices)
    with _trainers().distribution(mode, devices) as replicas:
        yield replicas


def virtual_cpu_devices(count):
    """Splits the CPU into `count` devices, to try data parallelism without accelerators (tests, benchmarks).

    Call it before the backend runs anything: JAX and TensorFlow fix their devices when they start.

    Raises:
        RuntimeError: if the backend has already started.
        NotImplementedError: on PyTorch, which has no engine to use them.

    Example:
        >>> virtual_cpu_devices(4)
        >>> with scope("data-parallel") as replicas:   # replicas == 4 on a machine without accelerators
        ...     ...
    """
    _trainers().virtual_cpu_devices(count)


def replicas():
    """How many replicas share a global batch in the active scope (1 outside one)."""
    return _trainers().replicas()


def worker_index():
    """This process's place among the processes that train one model (0: the one that writes the run's files)."""
    return _trainers().worker_index()


def check_batches(batch_size, count, what="batch_size"):
    """Refuses a batch size, or a last partial batch, that the replicas cannot share evenly.

    An uneven split fails deep inside the backend (and on JAX leaves the model without its variables), or
    gives a mean of unequal shares.

    Args:
        batch_size: the global batch size.
        count: how many images the pass visits.
        what: how to name the batch size in the error.

    Example:
        >>> check_batches(64, 60_000)   # with 4 replicas: 16 images each, the last batch of 32 gives 8 each
    """
    n = replicas()
    if n == 1:
        return
    if batch_size % n:
        raise ValueError(f"{what} {batch_size} does not split across {n} replicas: use a multiple of {n}")
    if count % batch_size % n:
        raise ValueError(f"the last batch holds {count % batch_size} of the {count} images, which do not split across "
                         f"{n} replicas: use a {what} that leaves a multiple of {n} (or none) over")
