"""What the benchmark must do differently on each Keras backend, one class per backend.

Each class knows how to put data on the device, wait for the device, measure the device's float32 matmul rate,
run a keras_vae model's own `train_step` in a tight compiled loop, compile one layer's forward and backward pass
(`layer_calls`, for `layer_times.py`), read the device's peak memory and the memory in use now, and tell its
out-of-memory error from other errors (for `memory.py`). `current()` returns the one for `keras.config.backend()`.
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


def _sum_of_squares(values):
    return keras.ops.sum(keras.ops.square(values))


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

    def layer_calls(self, layer):
        """`layer`'s forward pass, and its gradients with respect to its input and weights, as `tf.function`s."""
        tf = self.tf

        def backward(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = _sum_of_squares(layer(x, training=True))
            return tape.gradient(loss, [x, *layer.trainable_variables])

        return tf.function(lambda x: layer(x, training=True)), tf.function(backward)

    def peak_memory_mb(self):
        if self.device == "cpu":
            return None
        return self.tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20

    def memory_in_use_mb(self):
        if self.device == "cpu":
            return None
        return self.tf.config.experimental.get_memory_info("GPU:0")["current"] / 2**20

    def is_out_of_memory(self, error):
        return isinstance(error, self.tf.errors.ResourceExhaustedError)


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

    def layer_calls(self, layer):
        """`layer`'s forward pass, and its gradients with respect to its input and weights, jitted."""
        weights = [v.value for v in layer.trainable_variables]

        def forward(weights, x):
            with keras.StatelessScope(state_mapping=list(zip(layer.trainable_variables, weights))):
                return layer(x, training=True)

        forward_jit = self.jax.jit(forward)
        gradients = self.jax.jit(self.jax.grad(lambda w, x: _sum_of_squares(forward(w, x)), argnums=(0, 1)))
        return (lambda x: forward_jit(weights, x)), (lambda x: gradients(weights, x))

    def _memory_stats(self):
        return self.jax.devices()[0].memory_stats() if self.device != "cpu" else None

    def peak_memory_mb(self):
        stats = self._memory_stats()
        return stats["peak_bytes_in_use"] / 2**20 if stats else None

    def memory_in_use_mb(self):
        stats = self._memory_stats()
        return stats["bytes_in_use"] / 2**20 if stats else None

    def is_out_of_memory(self, error):
        return isinstance(error, self.jax.errors.JaxRuntimeError) and "RESOURCE_EXHAUSTED" in str(error)


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

    def layer_calls(self, layer):
        """`layer`'s forward pass without autograd, and its gradients with respect to its input and weights."""
        torch = self.torch

        def forward(x):
            with torch.no_grad():
                return layer(x, training=True)

        def backward(x):
            x = x.detach().requires_grad_(True)
            _sum_of_squares(layer(x, training=True)).backward()
            return x.grad

        return forward, backward

    def peak_memory_mb(self):
        return self.torch.cuda.max_memory_allocated() / 2**20 if self.cuda else None

    def memory_in_use_mb(self):
        return self.torch.cuda.memory_allocated() / 2**20 if self.cuda else None

    def is_out_of_memory(self, error):
        return isinstance(error, self.torch.OutOfMemoryError)


def training_batch(device, model, batch):
    """A device-resident batch of `batch` random images for `model` (with labels for a conditional one)."""
    images = device.to_device(np.random.default_rng(0).random((batch, *model.image_shape), dtype=np.float32))
    if not model.num_classes:
        return images
    return images, device.to_device(np.arange(batch, dtype="int32") % model.num_classes)


def current():
    """The helper for the running Keras backend."""
    return {"tensorflow": TensorFlow, "jax": Jax, "torch": Torch}[keras.config.backend()]()
