"""Exporting a model as a TensorFlow SavedModel that serves without keras_vae or Keras.

The SavedModel holds the weights and one TensorFlow graph per endpoint (signature):

=============== ============================================ ===============================================
endpoint        inputs (name: shape, dtype)                  outputs (key: shape, float32)
=============== ============================================ ===============================================
``encode``      ``images``: (batch, H, W, C) float32         ``z_mean`` and ``z_log_var``: (batch, latent);
                                                             the autoencoder: ``code``: (batch, latent)
``decode``      ``z``: (batch, latent) float32               ``images``: (batch, H, W, C), in [0, 1]
``reconstruct`` ``images``                                   ``images``: the decoded posterior mean (code)
``sample``      ``n``: () int32, ``seed``: () int32          ``images``: (n, H, W, C), in [0, 1]
``serve``       as ``reconstruct`` (also the SavedModel's ``serving_default`` signature)
=============== ============================================ ===============================================

A conditional model (``num_classes > 0``) takes one more input, ``labels``: (batch,) int32 class indices,
in every endpoint; ``sample`` takes ``labels`` of shape (n,), or (1,) for one class for all ``n`` images. A
label outside [0, num_classes) conditions on an all-zero one-hot vector, as in the Keras model. The
autoencoder has no prior, so its export has no ``sample``.

Example:
    >>> from keras_vae import export, zoo
    >>> export.export_saved_model(zoo.get("conv_vae", pretrained=True), "exports/conv_vae")
    >>> # elsewhere, with TensorFlow alone:
    >>> served = tf.saved_model.load("exports/conv_vae")
    >>> images = served.sample(n=16, seed=0)["images"]
    >>> z_mean = served.encode(images=images)["z_mean"]
"""

from pathlib import Path

import keras
import tensorflow as tf

from keras_vae.files import atomic_directory, check_directory
from keras_vae.models.base import BaseAutoencoder

#: the Keras backends whose `keras.export.ExportArchive` can trace a model's own functions
SUPPORTED_BACKENDS = ("tensorflow", "jax")

#: name -> (shape given the model, dtype) of every endpoint input
_INPUTS = {
    "images": (lambda model: (None, *model.image_shape), tf.float32),
    "z": (lambda model: (None, model.latent_dim), tf.float32),
    "labels": (lambda model: (None,), tf.int32),
    "n": (lambda model: (), tf.int32),
    "seed": (lambda model: (), tf.int32),
}


def export_saved_model(model, path, overwrite=False):
    """Writes `model` as a TensorFlow SavedModel with the endpoints `encode`, `decode`, `reconstruct`,
    `sample` (VAEs only) and `serve`; see the module docstring for their inputs and outputs.

    The endpoints that run the model are traced from its own `encode` / `decode` / `reconstruct` by
    `keras.export.ExportArchive` (on JAX they are converted with jax2tf, with a symbolic batch size). On
    JAX a shape cannot depend on a tensor's value, so `sample` cannot be a Keras function of `n`: it is a
    `tf.function` that draws z ~ N(0, I) of shape (n, latent_dim) with `tf.random.stateless_normal` (seed
    `[seed, 0]`) and calls the exported `decode`. The same seed gives the same images on every backend that
    exported it, but not the images of `model.sample(n, seed)`, which draws with Keras's generator.

    The SavedModel is written into a temporary directory beside `path` and renamed into place when it is
    complete: a failed or interrupted export leaves neither a partial `path` nor the temporary directory,
    and with `overwrite=True` an existing export is replaced only once the new one is written.

    Args:
        model: a built keras_vae model (e.g. from `keras_vae.zoo.get`).
        path: the directory to write (`str` or `Path`); its parent is created if missing.
        overwrite: replace an existing `path` instead of raising FileExistsError.

    Returns:
        `path` as a `Path`.

    Raises:
        NotImplementedError: on the PyTorch backend (Keras exports SavedModels from TensorFlow and JAX only).
        TypeError: if `model` is not a keras_vae model.
        ValueError: if `model` is not built.
        FileExistsError: if `path` exists and `overwrite` is False, or, with `overwrite`, is something other
            than a SavedModel (a file, or a directory without saved_model.pb, is never replaced).
        NotADirectoryError: if a folder above `path` is a file.

    Example:
        >>> model = keras_vae.zoo.get("cvae", pretrained=True)
        >>> export_saved_model(model, "exports/cvae", overwrite=True)
        >>> served = tf.saved_model.load("exports/cvae")
        >>> sevens = served.sample(n=8, seed=1, labels=[7])["images"]     # shape (8, 28, 28, 1)
    """
    path = Path(path)
    _check_destination(path, overwrite)
    _check_exportable(model)
    archive = _archive(model)
    with atomic_directory(path) as tmp:
        archive.write_out(str(tmp), verbose=False)
    return path


def _check_destination(path, overwrite):
    """Refuses, before the slow tracing, a `path` that cannot or must not become the SavedModel directory."""
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        if not path.is_dir() or not ((path / "saved_model.pb").is_file() or not any(path.iterdir())):
            raise FileExistsError(f"{path} exists and is not a SavedModel (no saved_model.pb): overwrite=True "
                                  "replaces only an earlier export; choose another path")
    check_directory(path, "cannot export to")


def _check_exportable(model):
    if not isinstance(model, BaseAutoencoder):
        raise TypeError(f"export_saved_model needs a keras_vae model (e.g. keras_vae.zoo.get('vae')), "
                        f"got {type(model).__name__}")
    if not model.built:
        raise ValueError(f"{type(model).__name__} is not built; build it (or load its weights) before exporting")
    backend = keras.backend.backend()
    if backend not in SUPPORTED_BACKENDS:
        raise NotImplementedError(
            f"Keras {keras.__version__} cannot export a SavedModel from the {backend} backend (its ExportArchive "
            "needs torch_xla and cannot trace a model's own methods); export from the TensorFlow or JAX backend "
            "instead: save the weights (model.save_weights), then in a process started with KERAS_BACKEND=jax "
            "(or KERAS_BACKEND=tensorflow) build the same model, load_weights and call export_saved_model")


def _archive(model):
    """The ExportArchive holding every endpoint of `model`."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    traced = {name: archive.add_endpoint(name, fn, input_signature=_specs(model, inputs), **_tracing_options())
              for name, (fn, inputs) in _traced_endpoints(model).items()}
    archive.add_endpoint("serve", traced["reconstruct"])
    if "z_log_var" in model.encoder_heads:
        archive.add_endpoint("sample", _sample_endpoint(model, traced["decode"]))
    return archive


def _traced_endpoints(model):
    """name -> (function of Keras tensors, input names) for the endpoints the backend traces from the model."""
    condition = ("labels",) if model.num_classes else ()
    return {  # The first endpoint added is also the SavedModel's "serving_default" signature.
        "reconstruct": (lambda images, labels=None: {"images": model.reconstruct(images, labels)},
                        ("images", *condition)),
        "encode": (lambda images, labels=None: _named(model.encoder_heads, model.encode(images, labels)),
                   ("images", *condition)),
        "decode": (lambda z, labels=None: {"images": model.decode(z, labels)}, ("z", *condition)),
    }


def _tracing_options():
    """On JAX, no jax2tf custom gradients: a reloaded SavedModel cannot use them and warns about them on load."""
    return {"jax2tf_kwargs": {"with_gradient": False}} if keras.backend.backend() == "jax" else {}


def _named(names, outputs):
    """The encoder's outputs (a tensor or a list of them) as a dict keyed by head name."""
    return dict(zip(names, outputs if isinstance(outputs, (list, tuple)) else [outputs]))


def _specs(model, names):
    """The TensorSpecs of the inputs `names` (keys of `_INPUTS`), each named as its input."""
    return [_spec(model, name, *_INPUTS[name]) for name in names]


def _spec(model, name, shape, dtype):
    return tf.TensorSpec(shape(model), dtype, name=name)


def _sample_endpoint(model, decode):
    """The `sample` tf.function: z ~ N(0, I) drawn by TensorFlow from (n, seed), decoded by `decode`."""
    condition = ("labels",) if model.num_classes else ()

    def sample(n, seed, labels=None):
        tf.debugging.assert_positive(n, message="n must be a positive number of images")
        z = tf.random.stateless_normal(tf.stack([n, model.latent_dim]), seed=tf.stack([seed, 0]))
        return decode(z) if labels is None else decode(z, tf.broadcast_to(labels, [n]))

    return tf.function(sample, input_signature=_specs(model, ("n", "seed", *condition)), autograph=False)
