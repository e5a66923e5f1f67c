"""The ONNX format: a directory of three models, `encode.onnx`, `decode.onnx` and `reconstruct.onnx`, run by
onnxruntime (`onnxruntime.InferenceSession("exports/vae/decode.onnx").run(None, {"z": z})`).

The converters Keras's own `model.export(format="onnx")` uses trace each endpoint: tf2onnx on TensorFlow and
jax2onnx on JAX, with a symbolic batch size. An ONNX graph names its inputs and outputs in one namespace, so
`reconstruct`'s output is named `reconstruction` (the SavedModel's and LiteRT's `images`).

A VQ-VAE is refused (ValueError, see `check` and `endpoints.refuse_quantized`): export it as a SavedModel.
"""

import importlib.util

import keras
import numpy as np

from keras_vae.export import endpoints

BACKENDS = ("tensorflow", "jax")
IS_FILE = False
#: endpoint -> {output name in the other formats: its name in ONNX}
RENAMED = {"reconstruct": {"images": "reconstruction"}}
#: the package each backend converts with
CONVERTERS = {"tensorflow": "tf2onnx", "jax": "jax2onnx"}


def write(model, path):
    """Writes `encode.onnx`, `decode.onnx` and `reconstruct.onnx` of `model` into the directory `path`.

    Example:
        >>> write(zoo.get("vae", pretrained=True), Path("exports/vae"))
    """
    check(model)
    converter = CONVERTERS[keras.backend.backend()]
    if importlib.util.find_spec(converter) is None:
        raise ImportError(f"exporting ONNX from the {keras.backend.backend()} backend needs {converter}: "
                          "pip install 'keras-vae[onnx]'")
    convert = _convert_tensorflow if converter == "tf2onnx" else _convert_jax
    for name, (fn, inputs) in endpoints.functions(model).items():
        renamed = RENAMED.get(name, {})
        convert(model, lambda *args, fn=fn, renamed=renamed: {renamed.get(key, key): value
                                                              for key, value in fn(*args).items()},
                inputs, str(path / f"{name}.onnx"))


def check(model):
    """Raises ValueError for a model this format cannot serve: a VQ-VAE."""
    endpoints.refuse_quantized(model, "ONNX")


def is_export(path):
    """Whether `path` holds an ONNX export, which `overwrite=True` may replace."""
    return (path / "reconstruct.onnx").is_file()


def _convert_tensorflow(model, fn, inputs, output_path):
    import tensorflow as tf
    import tf2onnx

    signature = endpoints.specs(model, inputs)
    tf2onnx.convert.from_function(tf.function(fn, input_signature=signature, autograph=False), signature,
                                  output_path=output_path)


def _convert_jax(model, fn, inputs, output_path):
    import jax
    import jax2onnx

    names = list(jax.eval_shape(fn, *[_shape(model, name, batch=1) for name in inputs]))
    jax2onnx.to_onnx(lambda *args: tuple(fn(*args)[key] for key in names),
                     inputs=[_shape(model, name) for name in inputs], input_names=list(inputs), output_names=names,
                     return_mode="file", output_path=output_path)


def _shape(model, name, batch="batch"):
    """The `jax.ShapeDtypeStruct` of input `name`, its batch size symbolic (or `batch`)."""
    import jax

    shape, dtype = endpoints.INPUTS[name]
    return jax.ShapeDtypeStruct(tuple(batch if size is None else size for size in shape(model)), np.dtype(dtype))
