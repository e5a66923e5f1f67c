"""JAX backend: stateless steps that Keras's JAX trainer jit-compiles.

The state is `(trainable, non_trainable, optimizer, metrics)` variable values. The loss terms run inside a
`keras.StatelessScope` mapping each variable to its value, so the same `keras.ops` code as on the other
backends runs here; the values it assigns (batch-norm moving statistics, the sampler's seed state, the
metrics) are read back from the scope and returned as the new state.

Data parallelism is Keras's `keras.distribution.DataParallel`: the variables are replicated on a mesh of the
devices, each global batch is sharded along it, and the same step, jit-compiled over sharded arrays, computes
the global means and gradients; the step needs no change. On CPU devices the steps run one at a time (an
XLA:CPU deadlock otherwise aborts the run: `_one_at_a_time`).
"""

import contextlib
import functools

import jax
import keras

#: JAX differentiates only what `jax.grad` traces: inference needs no context
no_grad = contextlib.nullcontext


def _current(scope, variables, values):
    """The values of `variables` after the scope ran: the assigned ones, else the ones passed in."""
    current = [scope.get_current_value(variable) for variable in variables]
    return [value if new is None else new for new, value in zip(current, values)]


def _loss_terms(trainable, model, non_trainable, optimizer_variables, data, training):
    mapping = [*zip(model.trainable_variables, trainable), *zip(model.non_trainable_variables, non_trainable)]
    if training:
        mapping += zip(model.optimizer.variables, optimizer_variables)
    with keras.StatelessScope(state_mapping=mapping, collect_losses=True) as scope:  # add_loss, regularizers
        terms = model.batch_loss_terms(data, training=training)
        loss = model.optimizer.scale_loss(terms["loss"]) if training else terms["loss"]
    return loss, (terms, _current(scope, model.non_trainable_variables, non_trainable))


def _update_metrics(model, metrics_variables, terms):
    with keras.StatelessScope(state_mapping=list(zip(model.metrics_variables, metrics_variables))) as scope:
        logs = model.update_metrics(terms)
    return logs, _current(scope, model.metrics_variables, metrics_variables)


def train_step(model, state, data):
    """One optimisation step on a batch; returns `(logs, new_state)`."""
    trainable, non_trainable, optimizer_variables, metrics_variables = state
    loss_fn = functools.partial(_loss_terms, model=model, non_trainable=non_trainable,
                                optimizer_variables=optimizer_variables, data=data, training=True)
    (_, (terms, non_trainable)), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable)
    trainable, optimizer_variables = model.optimizer.stateless_apply(optimizer_variables, grads, trainable)
    logs, metrics_variables = _update_metrics(model, metrics_variables, terms)
    return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)


def test_step(model, state, data):
    """Evaluates the loss terms on a batch; returns `(logs, new_state)`."""
    trainable, non_trainable, metrics_variables = state
    _, (terms, non_trainable) = _loss_terms(trainable, model, non_trainable, (), data, training=False)
    logs, metrics_variables = _update_metrics(model, metrics_variables, terms)
    return logs, (trainable, non_trainable, metrics_variables)


class ModelMixin:
    """Mixed into keras_vae's models ahead of `keras.Model`: Keras's step functions, run one at a time where
    they span several CPU devices (see `_one_at_a_time`)."""

    def make_train_function(self, force=False):
        made = self.train_function is None or force
        super().make_train_function(force)
        if made:
            self.train_function = _one_at_a_time(self.train_function)

    def make_test_function(self, force=False):
        made = self.test_function is None or force
        super().make_test_function(force)
        if made:
            self.test_function = _one_at_a_time(self.test_function)


def _one_at_a_time(function):
    """`function` (a step of Keras's JAX trainer), waiting for its results before it returns when the active
    distribution spans several CPU devices.

    XLA:CPU (jaxlib 0.10.2) deadlocks when the multi-device programs of consecutive steps overlap, as JAX's
    asynchronous dispatch lets them: after a few hundred steps an all-reduce waits for a device thread that never
    arrives, and after 40 s XLA aborts the process ("Termination timeout for all reduce ... Expected 4 threads to
    join the rendezvous, but only 3 of them arrived on time"). Plain JAX (a jitted step on a sharded batch) and a
    plain Keras model under DataParallel do the same; waiting for each step's results avoids it. GPUs and a single
    device keep the asynchronous dispatch.
    """
    distribution = keras.distribution.distribution()
    if distribution is None or distribution.device_mesh.devices.size < 2 or jax.devices()[0].platform != "cpu":
        return function

    def step(state, data):
        return jax.block_until_ready(function(state, data))

    return step


@contextlib.contextmanager
def distribution(mode, devices=None):
    """Enters `keras.distribution.DataParallel` over the devices (see `keras_vae.distribution.scope`)."""
    if mode in ("mirrored", "multi-worker"):
        raise ValueError(f"{mode!r} is TensorFlow's tf.distribute; on JAX use 'data-parallel' (on several hosts, "
                         "call jax.distributed.initialize() in every process first: it then spans all of them)")
    found = keras.distribution.list_devices()
    if devices is not None and len(found) < devices:
        raise ValueError(f"asked for {devices} devices; JAX has {len(found)}: {', '.join(found)}")
    devices = found[:devices]
    if mode == "auto" and len(devices) == 1:
        yield 1
        return
    with keras.distribution.DataParallel(devices=devices).scope():
        yield len(devices)


def replicas():
    """How many devices share a global batch under the active distribution (1 without one)."""
    distribution = keras.distribution.distribution()
    return distribution.device_mesh.devices.size if distribution is not None else 1


def replica():
    """`(index, count)` of the replica running now: `(0, 1)`, as a JAX step sees the whole (sharded) batch."""
    return 0, 1


def worker_index():
    """This process's index in `jax.distributed` (0 for the only process)."""
    return jax.process_index()


def virtual_cpu_devices(count):
    """Splits the CPU into `count` devices (before JAX starts its backend)."""
    jax.config.update("jax_num_cpu_devices", count)


def synchronized_batch_norm(model):
    """Nothing to do: batch norm's statistics over a sharded batch are already the global ones."""
    return contextlib.nullcontext()


def device_type():
    """The kind of device JAX computes on by default: "cpu", "gpu" or "tpu"."""
    return jax.default_backend()
