"""The TensorFlow SavedModel format: one directory, served by TensorFlow alone (or TF Serving, or
`keras.layers.TFSMLayer`), with the endpoints `encode`, `decode`, `reconstruct`, `serve` and, for a VAE, `sample`.

On JAX the endpoints are converted with jax2tf, with a symbolic batch size. On JAX a shape cannot depend on a
tensor's value, so `sample` cannot be a Keras function of `n`: it is a `tf.function` that draws z ~ N(0, I) of
shape (n, latent_dim) with `tf.random.stateless_normal` (seed `[seed, 0]`) and calls the exported `decode`. The
same seed gives the same images on every backend that exported it, but not the images of `model.sample(n, seed)`,
which draws with Keras's generator.
"""

import tensorflow as tf

from keras_vae.export import endpoints

#: the Keras backends whose `keras.export.ExportArchive` traces a model's own functions
BACKENDS = ("tensorflow", "jax")
IS_FILE = False


def write(model, path):
    """Writes the SavedModel of `model` into the (empty) directory `path`.

    Example:
        >>> write(zoo.get("vae", pretrained=True), Path("exports/vae"))
    """
    archive, traced = endpoints.archive(model)
    archive.add_endpoint("serve", traced["reconstruct"])
    if "z_log_var" in model.encoder_heads:
        archive.add_endpoint("sample", _sample_endpoint(model, traced["decode"]))
    archive.write_out(str(path), verbose=False)


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
