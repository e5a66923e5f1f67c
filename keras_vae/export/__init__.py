"""Exporting a model for serving without keras_vae or Keras: a TensorFlow SavedModel, ONNX, or LiteRT.

=============== ============================================ ===============================================
endpoint        inputs (name: shape, dtype)                  outputs (key: shape, float32)
=============== ============================================ ===============================================
``encode``      ``images``: (batch, H, W, C) float32         ``z_mean`` and ``z_log_var``: (batch, latent);
                                                             the autoencoder: ``code``: (batch, latent)
``decode``      ``z``: (batch, latent) float32               ``images``: (batch, H, W, C), in [0, 1]
``reconstruct`` ``images``                                   ``images`` (ONNX: ``reconstruction``): the
                                                             decoded posterior mean (code)
``sample``      ``n``: () int32, ``seed``: () int32          ``images``: (n, H, W, C), in [0, 1]
``serve``       as ``reconstruct`` (also the SavedModel's ``serving_default`` signature)
=============== ============================================ ===============================================

A conditional model (``num_classes > 0``) takes one more input, ``labels``: (batch,) int32 class indices,
in every endpoint; ``sample`` takes ``labels`` of shape (n,), or (1,) for one class for all ``n`` images. A
label outside [0, num_classes) conditions on an all-zero one-hot vector, as in the Keras model. The
autoencoder has no prior, so its export has no ``sample``.

A VQ-VAE (`keras_vae.models.VQVAE`) encodes to grids of codes (H', W' = ``model.grid_shape``), and its
SavedModel has one more endpoint, for its PixelCNN prior:

================ ============================================ ===============================================
endpoint         inputs (name: shape, dtype)                  outputs (key: shape, dtype)
================ ============================================ ===============================================
``encode``       ``images``: (batch, H, W, C) float32         ``codes``: (batch, H', W') int32
``decode``       ``codes``: (batch, H', W') int32             ``images``: (batch, H, W, C) float32, in [0, 1]
``reconstruct``  ``images``                                   ``images``: the decoded codes of the images
``sample``       ``n``: () int32, ``seed``: () int32          ``images``: (n, H, W, C), codes drawn from the
                                                              prior in raster order (see `saved_model`)
``serve``        as ``reconstruct`` (also ``serving_default``)
``prior_logits`` ``codes``: (batch, H', W') int32             ``logits``: (batch, H', W', num_codes) float32,
                                                              each position's given the codes before it
================ ============================================ ===============================================

=============== ====================================================== ==========================================
format          what is written (and what runs it)                     endpoints
=============== ====================================================== ==========================================
``saved_model`` a directory (TensorFlow, TF Serving, ``TFSMLayer``)    all five (see `saved_model`), and a
                                                                       VQ-VAE's ``prior_logits``
``onnx``        a directory of ``encode.onnx``, ``decode.onnx``,       encode, decode, reconstruct (see `onnx`);
                ``reconstruct.onnx`` (onnxruntime)                     a VQ-VAE: ValueError, use ``saved_model``
``litert``      one ``.tflite`` file with three signatures (LiteRT's   encode, decode, reconstruct (see `litert`);
                ``ai_edge_litert`` interpreter)                        a VQ-VAE: ValueError, use ``saved_model``
=============== ====================================================== ==========================================

Example:
    >>> from keras_vae import export, zoo
    >>> export.export(zoo.get("conv_vae", pretrained=True), "exports/conv_vae")
    >>> # elsewhere, with TensorFlow alone:
    >>> served = tf.saved_model.load("exports/conv_vae")
    >>> images = served.sample(n=16, seed=0)["images"]
    >>> z_mean = served.encode(images=images)["z_mean"]
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import keras

from keras_vae.export import litert, onnx, saved_model
from keras_vae.files import atomic_directory, atomic_path, check_destination
from keras_vae.models.base import BaseAutoencoder

#: format name -> the module that writes it
FORMATS = {"saved_model": saved_model, "onnx": onnx, "litert": litert}


def export(model, path, format="saved_model", overwrite=False):
    """Writes `model`'s endpoints in `format` to `path`; see the module docstring for what each holds.

    The backend under test traces the endpoints where it can (`FORMATS[format].BACKENDS`: SavedModel and ONNX
    from TensorFlow and JAX, LiteRT from TensorFlow). Otherwise the model is saved to a temporary `.keras` file
    and a Python process with `KERAS_BACKEND=tensorflow` loads it (safe mode) and exports it: the same weights
    and computation, traced by TensorFlow (which keras_vae installs).

    The export is written beside `path` under a temporary name and renamed into place when it is complete: a
    failed or interrupted export leaves neither a partial `path` nor the temporary, and with `overwrite=True`
    an existing export is replaced only once the new one is written.

    Args:
        model: a built keras_vae model (e.g. from `keras_vae.zoo.get`).
        path: the directory to write (`str` or `Path`), or for LiteRT the `.tflite` file; its parent is created
            if missing.
        format: `"saved_model"`, `"onnx"` or `"litert"`.
        overwrite: replace an existing export of the same format at `path` instead of raising FileExistsError.

    Returns:
        `path` as a `Path`.

    Raises:
        ValueError: for an unknown format, a LiteRT path not ending in `.tflite`, a model that is not built, or
            a VQ-VAE to ONNX or LiteRT (which cannot serve it; a SavedModel can).
        TypeError: if `model` is not a keras_vae model.
        FileExistsError: if `path` exists and `overwrite` is False, or, with `overwrite`, holds something other
            than an export of `format` (it is never replaced).
        NotADirectoryError: if a folder above `path` is a file.
        ImportError: if the format's converter is not installed (ONNX: `pip install 'keras-vae[onnx]'`).
        RuntimeError: if the TensorFlow-backend process failed (its error is in the message).

    Example:
        >>> model = keras_vae.zoo.get("cvae", pretrained=True)
        >>> export(model, "exports/cvae.tflite", format="litert")
        >>> runner = ai_edge_litert.interpreter.Interpreter("exports/cvae.tflite").get_signature_runner("decode")
        >>> images = runner(z=z, labels=labels)["images"]
    """
    writer = FORMATS.get(format)
    if writer is None:
        raise ValueError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    path = Path(path)
    _check_destination(path, format, overwrite)
    _check_exportable(model)
    writer.check(model)
    with (atomic_path if writer.IS_FILE else atomic_directory)(path) as tmp:
        if keras.backend.backend() in writer.BACKENDS:
            writer.write(model, Path(tmp))
        else:
            _export_from_tensorflow(model, Path(tmp), format)
    return path


def export_saved_model(model, path, overwrite=False):
    """`export(model, path, "saved_model", overwrite)`: a TensorFlow SavedModel directory.

    Example:
        >>> export_saved_model(keras_vae.zoo.get("vae", pretrained=True), "exports/vae")
    """
    return export(model, path, "saved_model", overwrite)


def _check_destination(path, format, overwrite):
    """Refuses, before the slow tracing, a `path` that cannot or must not become the export."""
    writer = FORMATS[format]
    if writer.IS_FILE and path.suffix != writer.SUFFIX:
        raise ValueError(f"a {format} export is one file named *{writer.SUFFIX}, got {path}")
    check_destination(path, overwrite, writer.is_export, f"{format} export", directory=not writer.IS_FILE)


def _check_exportable(model):
    if not isinstance(model, BaseAutoencoder):
        raise TypeError(f"export needs a keras_vae model (e.g. keras_vae.zoo.get('vae')), got {type(model).__name__}")
    if not model.built:
        raise ValueError(f"{type(model).__name__} is not built; build it (or load its weights) before exporting")


def _export_from_tensorflow(model, path, format):
    """Exports `model` from a TensorFlow-backend process (`python -m keras_vae.export`), through a `.keras` file."""
    with tempfile.TemporaryDirectory() as folder:
        saved = Path(folder) / "model.keras"
        model.save(saved)
        # this keras_vae, whether installed or imported from a checkout
        here = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")]))
        result = subprocess.run([sys.executable, "-m", "keras_vae.export", format, str(saved), str(path)],
                                env={**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": here},
                                capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"the {format} export from a TensorFlow-backend process failed "
                           f"(exit {result.returncode}):\n{result.stderr[-3000:]}")
