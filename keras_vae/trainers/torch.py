"""PyTorch backend: `loss.backward()`, then the optimizer's update without autograd.

Keras 3 has no distribution engine for PyTorch (`keras.distribution` is implemented for JAX only, and Keras's
guide to multi-GPU PyTorch wraps the model in `DistributedDataParallel` and trains it with a PyTorch loop, not
`fit`), so keras_vae trains on one device here and refuses to pretend otherwise.
"""

import contextlib

import torch

#: inference without autograd: its outputs track no gradients
no_grad = torch.no_grad


def train_step(model, data):
    """One optimisation step on a batch; returns the logs."""
    model.zero_grad()
    terms = model.batch_loss_terms(data, training=True)
    model.optimizer.scale_loss(terms["loss"]).backward()
    variables = model.trainable_variables
    with torch.no_grad():
        model.optimizer.apply([v.value.grad for v in variables], variables)
    return model.update_metrics({name: value.detach() for name, value in terms.items()})


def test_step(model, data):
    """Evaluates the loss terms on a batch; returns the logs."""
    with torch.no_grad():
        return model.update_metrics(model.batch_loss_terms(data, training=False))


class ModelMixin:
    """Mixed into keras_vae's models ahead of `keras.Model`: nothing to change on this backend."""


def _no_engine(what):
    return NotImplementedError(
        f"{what} is not available on the PyTorch backend: Keras implements its distribution API "
        "for JAX only and tf.distribute is TensorFlow's, so keras_vae's fit runs on one device here. Use "
        "KERAS_BACKEND=jax with 'data-parallel', or KERAS_BACKEND=tensorflow with 'mirrored' or 'multi-worker'")


@contextlib.contextmanager
def distribution(mode, devices=None):
    """One device for 'auto'; every other mode raises (see the module's docstring)."""
    if mode != "auto" or (devices or 1) > 1:
        raise _no_engine(f"{mode!r} training on {devices or 'all'} devices")
    yield 1


def virtual_cpu_devices(count):
    """Refuses: there is no engine to use them."""
    raise _no_engine("splitting the CPU into devices")


def replicas():
    """Always 1: one device (see the module's docstring)."""
    return 1


def replica():
    """`(0, 1)`: the only replica."""
    return 0, 1


def worker_index():
    """Always 0: the only process."""
    return 0


def synchronized_batch_norm(model):
    """Nothing to do on one device."""
    return contextlib.nullcontext()


def device_type():
    """The kind of device Keras's torch backend computes on: "cuda" if PyTorch sees one, else "cpu"."""
    return "cuda" if torch.cuda.is_available() else "cpu"
