"""TensorFlow backend: the gradient step under `tf.GradientTape`, and data parallelism with `tf.distribute`.

Under a `MirroredStrategy` or `MultiWorkerMirroredStrategy`, Keras's trainer runs `train_step` once per
replica on that replica's share of the global batch and sums the gradients across replicas in
`optimizer.apply`; the loss is therefore divided by the number of replicas, as Keras's own losses do.
"""

import contextlib
import functools
import json
import os

import keras
import tensorflow as tf

#: inference records no gradients here unless a GradientTape asks for them
no_grad = contextlib.nullcontext


def train_step(model, data):
    """One optimisation step on a batch (a replica's share under a strategy); returns the logs."""
    with tf.GradientTape() as tape:
        terms = model.batch_loss_terms(data, training=True)
        loss = model.optimizer.scale_loss(terms["loss"] / tf.distribute.get_strategy().num_replicas_in_sync)
    variables = model.trainable_variables
    model.optimizer.apply(tape.gradient(loss, variables), variables)
    return _logs(model.update_metrics(terms))


def test_step(model, data):
    """Evaluates the loss terms on a batch; returns the logs."""
    return _logs(model.update_metrics(model.batch_loss_terms(data, training=False)))


def _logs(logs):
    """The logs as Keras 3.15 can reduce them across workers: it averages them along an axis 0 that a scalar lacks
    (keras-team/keras#20585), so several workers get shape (1,); the test is the one Keras's trainer makes."""
    strategy = tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode():
        return {name: tf.reshape(value, (1,)) for name, value in logs.items()}
    return logs


class ModelMixin:
    """Mixed into keras_vae's models ahead of `keras.Model` on this backend.

    Under a strategy, Keras 3.15's `fit` first averages the first batch across replicas to build the model
    symbolically, with one `strategy.reduce` for the whole batch structure, which a multi-worker strategy
    cannot do for a tuple such as `(images,)` or `(images, labels)`. keras_vae's models are built when they are
    made and compile no loss or metrics, so only the optimizer is left to build: that needs no batch.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None or not all(layer.built for layer in self._flatten_layers()):
            return super()._maybe_symbolic_build(iterator, data_batch)
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=())


def _workers():
    return json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {}).get("worker", [])


def _local_devices():
    """The GPUs, else the logical CPUs (one unless the process configured several)."""
    return [device.name for device in tf.config.list_logical_devices("GPU")] or \
        [device.name for device in tf.config.list_logical_devices("CPU")]


@functools.cache
def _strategy(kind, *args):
    """One strategy of each kind and device set per process: a second one over the same devices reuses the first
    one's collective keys, and its all-reduces then fail on shapes of the other model."""
    return kind(*args)


@contextlib.contextmanager
def distribution(mode, devices=None):
    """Enters the `tf.distribute` strategy that `mode` names (see `keras_vae.distribution.scope`)."""
    if mode == "multi-worker" or (mode == "auto" and len(_workers()) > 1 and devices is None):
        if not _workers():
            raise ValueError("multi-worker training reads its cluster from the TF_CONFIG environment variable, "
                             "which names no workers: set it in every worker (see README, 'Training on several "
                             "devices')")
        strategy = _strategy(tf.distribute.MultiWorkerMirroredStrategy)  # before TensorFlow's runtime starts
    else:
        local = _local_devices()[:devices]
        if devices is not None and len(local) < devices:
            raise ValueError(f"asked for {devices} devices; this host has {len(local)}: {', '.join(local)}")
        if mode == "auto" and len(local) == 1:
            yield 1
            return
        strategy = _strategy(tf.distribute.MirroredStrategy, tuple(local))
    with strategy.scope():
        yield strategy.num_replicas_in_sync


def replicas():
    """How many replicas share a global batch in the active strategy (1 outside one)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def replica():
    """`(index, count)` of the replica running now; inside a step, each replica sees only its share."""
    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica code: the whole batch
        return 0, 1
    return context.replica_id_in_sync_group, context.num_replicas_in_sync


def worker_index():
    """This process's index among the workers of a multi-worker strategy (0 for the only process)."""
    resolver = getattr(tf.distribute.get_strategy(), "cluster_resolver", None)
    return resolver.task_id if resolver is not None and resolver.task_type == "worker" else 0


def virtual_cpu_devices(count):
    """Splits the CPU into `count` logical devices (before TensorFlow runs anything)."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


@contextlib.contextmanager
def synchronized_batch_norm(model):
    """Batch norm computes its batch statistics over all replicas while `model` trains under a strategy, so they
    are the single-device ones; the flag is put back after, since other backends cannot load a layer with it."""
    layers = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    if replicas() == 1 or not layers:
        yield
        return
    before = [layer.synchronized for layer in layers]
    for layer in layers:
        layer.synchronized = True
    try:
        yield
    finally:
        for layer, value in zip(layers, before):
            layer.synchronized = value


def device_type():
    """The kind of device TensorFlow places operations on by default: "gpu" if it sees one, else "cpu"."""
    return "gpu" if tf.config.list_logical_devices("GPU") else "cpu"
