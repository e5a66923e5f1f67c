"""The endpoints every export format serves, as functions of a model, and their TensorFlow tracing.

Each endpoint is a function of Keras tensors returning a dict of named outputs; see `keras_vae.export` for the
table of inputs and outputs.
"""

import keras
import tensorflow as tf

#: name -> (shape given the model, dtype) of every endpoint input
INPUTS = {
    "images": (lambda model: (None, *model.image_shape), "float32"),
    "z": (lambda model: (None, model.latent_dim), "float32"),
    "labels": (lambda model: (None,), "int32"),
    "n": (lambda model: (), "int32"),
    "seed": (lambda model: (), "int32"),
}


def functions(model):
    """name -> (function of Keras tensors returning named outputs, input names) for `encode`, `decode` and
    `reconstruct` of `model`; a conditional model's functions take `labels` too.

    Args:
        model: a built keras_vae model.

    Example:
        >>> encode, inputs = functions(zoo.get("vae"))["encode"]     # inputs == ("images",)
    """
    condition = ("labels",) if model.num_classes else ()
    return {  # The first endpoint added to a SavedModel is also its "serving_default" signature.
        "reconstruct": (lambda images, labels=None: {"images": model.reconstruct(images, labels)},
                        ("images", *condition)),
        "encode": (lambda images, labels=None: _named(model.encoder_heads, model.encode(images, labels)),
                   ("images", *condition)),
        "decode": (lambda z, labels=None: {"images": model.decode(z, labels)}, ("z", *condition)),
    }


def specs(model, names):
    """The `tf.TensorSpec`s of the inputs `names` (keys of `INPUTS`), each named as its input.

    Example:
        >>> specs(zoo.get("vae"), ("images",))     # [TensorSpec(shape=(None, 28, 28, 1), name='images')]
    """
    return [tf.TensorSpec(INPUTS[name][0](model), INPUTS[name][1], name=name) for name in names]


def archive(model):
    """A `keras.export.ExportArchive` tracking `model`, with `functions(model)` added as endpoints.

    Returns:
        The archive and a dict name -> the `tf.function` each endpoint became.

    Example:
        >>> archive, traced = archive(zoo.get("vae", pretrained=True))
        >>> archive.write_out("exports/vae")
    """
    export_archive = keras.export.ExportArchive()
    export_archive.track(model)
    traced = {name: export_archive.add_endpoint(name, fn, input_signature=specs(model, inputs), **_tracing_options())
              for name, (fn, inputs) in functions(model).items()}
    return export_archive, traced


def _tracing_options():
    """On JAX, endpoints that update no state (no random draws), converted without custom gradients: a reloaded
    SavedModel cannot use them (it warns about them on load), and LiteRT cannot convert a random state."""
    return {"is_static": True, "jax2tf_kwargs": {"with_gradient": False}} if keras.backend.backend() == "jax" else {}


def _named(names, outputs):
    """The encoder's outputs (a tensor or a list of them) as a dict keyed by head name."""
    return dict(zip(names, outputs if isinstance(outputs, (list, tuple)) else [outputs]))
