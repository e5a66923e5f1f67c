"""The TensorFlow SavedModel format: one directory, served by TensorFlow alone (or TF Serving, or
`keras.layers.TFSMLayer`), with the endpoints `encode`, `decode`, `reconstruct`, `serve` and, for a VAE and a
VQ-VAE, `sample` (a VQ-VAE also has `prior_logits`, which its `sample` calls).

On JAX the endpoints are converted with jax2tf, with a symbolic batch size. On JAX a shape cannot depend on a
tensor's value, so `sample` cannot be a Keras function of `n`: it is a `tf.function` that draws z ~ N(0, I) of
shape (n, latent_dim) with `tf.random.stateless_normal` (seed `[seed, 0]`) and calls the exported `decode`. A
VQ-VAE's `sample` starts from an (n, height, width) grid of zeros and fills it in raster order: at position p it
calls the exported `prior_logits` on the grid and draws that position's code with
`tf.random.stateless_categorical` (seed `[seed, p]`), then decodes the grid. The same seed gives the same images
on every backend that exported it, but not the images of `model.sample(n, seed)`, which draws with Keras's
generator.
"""

import tensorflow as tf

from keras_vae.export import endpoints
from keras_vae.models.vq_vae import is_quantized

#: the Keras backends whose `keras.export.ExportArchive` traces a model's own functions
BACKENDS = ("tensorflow", "jax")
IS_FILE = False


def write(model, path):
    """Writes the SavedModel of `model` into the (empty) directory `path`.

    Example:
        >>> write(zoo.get("vae", pretrained=True), Path("exports/vae"))
    """
    archive, traced = endpoints.archive(model, prior=True)
    archive.add_endpoint("serve", traced["reconstruct"])
    if is_quantized(model):
        archive.add_endpoint("sample", _sample_codes_endpoint(model, traced["prior_logits"], traced["decode"]))
    elif "z_log_var" in model.encoder_heads:
        archive.add_endpoint("sample", _sample_endpoint(model, traced["decode"]))
    archive.write_out(str(path), verbose=False)


def check(model):
    """A SavedModel serves every keras_vae model."""


def is_export(path):
    """Whether `path` holds a SavedModel, which `overwrite=True` may replace."""
    return (path / "saved_model.pb").is_file()


def _sample_endpoint(model, decode):
    """The `sample` tf.function: z ~ N(0, I) drawn by TensorFlow from (n, seed), decoded by `decode`."""
    condition = ("labels",) if model.num_classes else ()

    def sample(n, seed, labels=None):
        tf.debugging.assert_positive(n, message="n must be a positive number of images")
        z = tf.random.stateless_normal(tf.stack([n, model.latent_dim]), seed=tf.stack([seed, 0]))
        return decode(z) if labels is None else decode(z, tf.broadcast_to(labels, [n]))

    return tf.function(sample, input_signature=endpoints.specs(model, ("n", "seed", *condition)), autograph=False)


def _sample_codes_endpoint(model, prior_logits, decode):
    """A VQ-VAE's `sample` tf.function: grids of codes drawn by TensorFlow from (n, seed), one position at a time
    in raster order from the logits of `prior_logits`, decoded by `decode`."""
    height, width = model.grid_shape
    positions = tf.reshape(tf.range(height * width), (1, height, width))

    def sample(n, seed):
        tf.debugging.assert_positive(n, message="n must be a positive number of images")
        codes = tf.zeros(tf.stack([n, height, width]), tf.int32)
        for position in range(height * width):
            logits = prior_logits(codes)["logits"][:, position // width, position % width]
            drawn = tf.random.stateless_categorical(logits, 1, seed=tf.stack([seed, position]), dtype=tf.int32)
            codes = tf.where(positions == position, tf.reshape(drawn, (-1, 1, 1)), codes)
        return decode(codes)

    return tf.function(sample, input_signature=endpoints.specs(model, ("n", "seed")), autograph=False)
