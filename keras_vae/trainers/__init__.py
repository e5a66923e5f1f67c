"""The backend-specific half of `train_step` and `test_step`, chosen once for the active Keras backend.

Each family writes its loss terms once in `keras.ops` (`compute_loss_terms`, batched with the layers' losses by
`batch_loss_terms`); the module for the running backend turns them into a training step, as Keras itself keeps
one trainer per backend (keras/src/backend/<name>/trainer.py):

- `tensorflow.py`: a `tf.GradientTape` around the loss terms;
- `jax.py`: the stateless `train_step(state, data)` with `jax.value_and_grad`, carrying the updated
  non-trainable state (batch-norm statistics, the sampler's seed) out of the step;
- `torch.py`: `loss.backward()`, then `optimizer.apply` under `torch.no_grad()`.

Each also says how to run inference without recording gradients (`no_grad`: `torch.no_grad` on PyTorch,
nothing to do on TensorFlow and JAX), and holds the backend's side of data parallelism (`distribution`,
`replicas`, `replica`, `worker_index`, `synchronized_batch_norm`, `virtual_cpu_devices`, and `ModelMixin`, which works
around a multi-worker defect of Keras's TensorFlow trainer; see `keras_vae.distribution`): Keras's
`DataParallel` on JAX, `tf.distribute` on TensorFlow, one device on PyTorch. `device_type` names the kind of
device the backend computes on ("cpu", "gpu", "cuda"), for the choices that depend on it (`keras_vae.convolutions`).
"""

import importlib

import keras

_BACKEND = keras.config.backend()
if _BACKEND not in ("tensorflow", "jax", "torch"):
    raise ImportError(f"keras_vae trains on the tensorflow, jax and torch backends of Keras, not {_BACKEND!r}; "
                      "set KERAS_BACKEND to one of them")
_trainer = importlib.import_module(f"keras_vae.trainers.{_BACKEND}")

train_step = _trainer.train_step
test_step = _trainer.test_step
no_grad = _trainer.no_grad
distribution = _trainer.distribution
replicas = _trainer.replicas
replica = _trainer.replica
worker_index = _trainer.worker_index
synchronized_batch_norm = _trainer.synchronized_batch_norm
ModelMixin = _trainer.ModelMixin
virtual_cpu_devices = _trainer.virtual_cpu_devices
device_type = _trainer.device_type
