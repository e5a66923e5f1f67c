"""What the benchmark must do differently on each Keras backend, one class per backend.

Each class knows how to put data on the device, wait for the device, measure the device's float32 matmul rate,
run a keras_vae model's own `train_step` in a tight compiled loop, and read the device's peak memory.
`current()` returns the one for `keras.config.backend()`.
"""

import keras
import numpy as np

MATMUL_SIZE = 2048


def _matmul_rate(matmul, sync, a, b, repeats=5):
    """float32 GFLOP/s of `matmul(a, b)`: the best of `repeats` timed calls after a warm-up."""
    import time

    sync(matmul(a, b))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        sync(matmul(a, b))
        best = min(best, time.perf_counter() - start)
    return 2 * MATMUL_SIZE ** 3 / best / 1e9


def _random(shape):
    return np.random.default_rng(0).standard_normal(shape).astype("float32")


class TensorFlow:
    name = "tensorflow"

    def __init__(self):
        import tensorflow as tf

        self.tf = tf
        gpus = tf.config.list_physical_devices("GPU")
        self.device = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else "cpu"
        self.version = tf.__version__

    def to_device(self, array):
        return self.tf.constant(array)

    def sync(self, value):
        return np.asarray(value)  # reading a value back waits for the device

    def matmul_rate(self):
        matmul = self.tf.function(self.tf.matmul, jit_compile=True)
        a, b = (self.to_device(_random((MATMUL_SIZE, MATMUL_SIZE))) for _ in range(2))
        return _matmul_rate(matmul, self.sync, a, b)

    def train_loop(self, model, batch, steps, jit_compile):
        """A function running `steps` of `model.train_step` on the device-resident `batch`."""
        step = self.tf.function(model.train_step, jit_compile=jit_compile)

        def run():
            for _ in range(steps):
                logs = step(batch)
            self.sync(logs["loss"])

        return run

    def peak_memory_mb(self):
        if self.device == "cpu":
            return None
        return self.tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20


class Jax:
    name = "jax"

    def __init__(self):
        import jax

        self.jax = jax
        self.device = jax.devices()[0].device_kind if jax.devices()[0].platform != "cpu" else "cpu"
        self.version = jax.__version__

    def to_device(self, array):
        return self.jax.device_put(array)

    def sync(self, value):
        return self.jax.block_until_ready(value)

    def matmul_rate(self):
        import jax.numpy as jnp

        a, b = (self.to_device(_random((MATMUL_SIZE, MATMUL_SIZE))) for _ in range(2))
        return _matmul_rate(self.jax.jit(jnp.matmul), self.sync, a, b)

    def train_loop(self, model, batch, steps, jit_compile):
        """`steps` of the stateless `model.train_step(state, data)`, jitted (the state stays on the device)."""
        model.optimizer.build(model.trainable_variables)
        state = tuple([v.value for v in variables] for variables in (
            model.trainable_variables, model.non_trainable_variables, model.optimizer.variables,
            model.metrics_variables))
        step = self.jax.jit(model.train_step, donate_argnums=0) if jit_compile else model.train_step
        holder = [state]

        def run():
            for _ in range(steps):
                logs, holder[0] = step(holder[0], batch)
            self.sync(logs["loss"])

        return run

    def peak_memory_mb(self):
        stats = self.jax.devices()[0].memory_stats() if self.device != "cpu" else None
        return stats["peak_bytes_in_use"] / 2**20 if stats else None


class Torch:
    name = "torch"

    def __init__(self):
        import torch

        self.torch = torch
        self.cuda = torch.cuda.is_available()
        self.device = torch.cuda.get_device_name(0) if self.cuda else "cpu"
        self.version = torch.__version__

    def to_device(self, array):
        return keras.ops.convert_to_tensor(array)  # Keras puts it on the GPU when there is one

    def sync(self, value):
        if self.cuda:
            self.torch.cuda.synchronize()
        return value

    def matmul_rate(self):
        a, b = (self.to_device(_random((MATMUL_SIZE, MATMUL_SIZE))) for _ in range(2))
        return _matmul_rate(self.torch.matmul, self.sync, a, b)

    def train_loop(self, model, batch, steps, jit_compile):
        """`steps` of `model.train_step` called eagerly (Keras's own torch trainer does the same)."""

        def run():
            for _ in range(steps):
                logs = model.train_step(batch)
            self.sync(logs["loss"])
            float(logs["loss"])

        return run

    def peak_memory_mb(self):
        return self.torch.cuda.max_memory_allocated() / 2**20 if self.cuda else None


def current():
    """The helper for the running Keras backend."""
    return {"tensorflow": TensorFlow, "jax": Jax, "torch": Torch}[keras.config.backend()]()
