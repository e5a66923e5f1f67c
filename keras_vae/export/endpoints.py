"""The endpoints every export format serves, as functions of a model, and their TensorFlow tracing.

Each endpoint is a function of Keras tensors returning a dict of named outputs; see `keras_vae.export` for the
table of inputs and outputs. A VQ-VAE (a model with a `quantizer`) encodes to and decodes from `codes`, grids of
int32 code indices, instead of `z`, and has one more endpoint, `prior_logits`, for the SavedModel's `sample`.
"""

import keras
import tensorflow as tf
from keras import ops

from keras_vae.models.vq_vae import is_quantized

#: name -> (shape given the model, dtype) of every endpoint input
INPUTS = {
    "images": (lambda model: (None, *model.image_shape), "float32"),
    "z": (lambda model: (None, model.latent_dim), "float32"),
    "codes": (lambda model: (None, *model.grid_shape), "int32"),
    "labels": (lambda model: (None,), "int32"),
    "n": (lambda model: (), "int32"),
    "seed": (lambda model: (), "int32"),
}


def functions(model, prior=False):
    """name -> (function of Keras tensors returning named outputs, input names) for `encode`, `decode` and
    `reconstruct` of `model`; a conditional model's functions take `labels` too. A VQ-VAE's `encode` returns
    `codes` and its `decode` takes them; with `prior=True` it also has `prior_logits` (codes -> the prior's
    `logits` of every position, float32 (batch, height, width, num_codes)), which the SavedModel's `sample` calls.

    Args:
        model: a built keras_vae model.
        prior: add the endpoints of the model's prior that only the SavedModel serves.

    Example:
        >>> encode, inputs = functions(zoo.get("vae"))["encode"]     # inputs == ("images",)
    """
    condition = ("labels",) if model.num_classes else ()
    quantized = is_quantized(model)
    heads = ("codes",) if quantized else model.encoder_heads
    # a traced function's keyword arguments are its Python parameters' names (on JAX): name them as the inputs
    decode = ((lambda codes, labels=None: {"images": model.decode(codes, labels)}) if quantized
              else (lambda z, labels=None: {"images": model.decode(z, labels)}))
    table = {  # The first endpoint added to a SavedModel is also its "serving_default" signature.
        "reconstruct": (lambda images, labels=None: {"images": model.reconstruct(images, labels)},
                        ("images", *condition)),
        "encode": (lambda images, labels=None: _named(heads, model.encode(images, labels)), ("images", *condition)),
        "decode": (decode, ("codes" if quantized else "z", *condition)),
    }
    if quantized and prior:
        table["prior_logits"] = (lambda codes: {"logits": ops.cast(model.prior(codes), "float32")}, ("codes",))
    return table


def refuse_quantized(model, format):
    """Raises ValueError if `model` is a VQ-VAE, which `format` does not serve.

    Keras's TensorFlow `argmin`, which picks a VQ-VAE's codes, traces to Bitcast and BitwiseAnd (its handling of
    -0.0): tf2onnx writes them into a graph onnxruntime refuses, and the LiteRT converter fails on BitwiseAnd.
    """
    if is_quantized(model):
        raise ValueError(f"the {format} export does not support {type(model).__name__} (a VQ-VAE: the TensorFlow "
                         f"ops that pick its codes do not convert to {format}); export it as a SavedModel "
                         "(format='saved_model'), which serves encode, decode, reconstruct and sample")


def specs(model, names):
    """The `tf.TensorSpec`s of the inputs `names` (keys of `INPUTS`), each named as its input.

    Example:
        >>> specs(zoo.get("vae"), ("images",))     # [TensorSpec(shape=(None, 28, 28, 1), name='images')]
    """
    return [tf.TensorSpec(INPUTS[name][0](model), INPUTS[name][1], name=name) for name in names]


def archive(model, prior=False):
    """A `keras.export.ExportArchive` tracking `model`, with `functions(model, prior)` added as endpoints.

    Returns:
        The archive and a dict name -> the `tf.function` each endpoint became.

    Example:
        >>> archive, traced = archive(zoo.get("vae", pretrained=True))
        >>> archive.write_out("exports/vae")
    """
    export_archive = keras.export.ExportArchive()
    export_archive.track(model)
    if prior and is_quantized(model) and keras.backend.backend() == "jax":
        # A VQ-VAE's trainable variables leave out its prior's, and on JAX the archive binds only the trainable and
        # non-trainable variables of what it tracks (TensorFlow's tracks all): else jax2tf bakes the prior in.
        export_archive.track(model.prior)
    traced = {name: export_archive.add_endpoint(name, fn, input_signature=specs(model, inputs), **_tracing_options())
              for name, (fn, inputs) in functions(model, prior).items()}
    return export_archive, traced


def _tracing_options():
    """On JAX, endpoints that update no state (no random draws), converted without custom gradients: a reloaded
    SavedModel cannot use them (it warns about them on load), and LiteRT cannot convert a random state."""
    return {"is_static": True, "jax2tf_kwargs": {"with_gradient": False}} if keras.backend.backend() == "jax" else {}


def _named(names, outputs):
    """The encoder's outputs (a tensor or a list of them) as a dict keyed by head name."""
    return dict(zip(names, outputs if isinstance(outputs, (list, tuple)) else [outputs]))
