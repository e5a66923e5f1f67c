"""The LiteRT (TensorFlow Lite) format: one `.tflite` file with the signatures `encode`, `decode` and
`reconstruct`, run by the LiteRT interpreter (`ai_edge_litert.interpreter.Interpreter(...).get_signature_runner`).

The endpoints are traced by TensorFlow into a SavedModel and converted by `tf.lite.TFLiteConverter`. Only the
TensorFlow backend traces them: Keras exports LiteRT from TensorFlow (and, through litert-torch, PyTorch's
`call` only), and the converter mis-sizes the transposed convolutions of a JAX (jax2tf) trace (TRANSPOSE_CONV
"computed_input_height != SizeOfDimension(input, 1) (6 != 7)" for conv_vae), so other backends export through a
TensorFlow-backend process (see `keras_vae.export.export`).

A VQ-VAE is refused (ValueError, see `check` and `endpoints.refuse_quantized`): export it as a SavedModel.
"""

import tempfile

import tensorflow as tf

from keras_vae.export import endpoints

BACKENDS = ("tensorflow",)
IS_FILE = True
SUFFIX = ".tflite"


def write(model, path):
    """Writes the LiteRT file of `model` to `path`.

    Example:
        >>> write(zoo.get("vae", pretrained=True), Path("exports/vae.tflite"))
    """
    check(model)
    archive, traced = endpoints.archive(model)
    with tempfile.TemporaryDirectory() as saved_model:
        # Without a "serve" endpoint: the converter reads a SavedModel that has one as one model.export artifact.
        archive.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=list(traced))
        path.write_bytes(converter.convert())


def check(model):
    """Raises ValueError for a model this format cannot serve: a VQ-VAE."""
    endpoints.refuse_quantized(model, "LiteRT")


def is_export(path):
    """Whether `path` is a file, which `overwrite=True` may replace (its name ends with .tflite)."""
    return path.is_file()
