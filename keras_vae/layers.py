"""Layers shared by the model families."""

import keras
from keras import ops

from keras_vae import trainers
from keras_vae.losses import clip_log_var


@keras.saving.register_keras_serializable(package="keras_vae")
class Sampling(keras.layers.Layer):
    """Draws `z = z_mean + exp(z_log_var / 2) * eps` with `eps ~ N(0, I)`: the reparameterisation trick.

    `z_log_var` is clipped to `keras_vae.losses.LOG_VAR_RANGE` first, as in the KL term.

    The noise comes from the layer's own `keras.random.SeedGenerator`, whose state is a non-trainable
    variable, so a seeded model draws the same noise on every backend run after run, and JAX's
    stateless train step carries the state forward. Under `tf.distribute`, the replicas draw the noise of the
    whole global batch and each takes its share, so they neither repeat each other's noise nor differ from one
    device.

    Args:
        seed: optional int seeding the layer's generator.
        **kwargs: passed to `keras.layers.Layer`.

    Example:
        >>> z = Sampling(seed=1)([ops.zeros((4, 2)), ops.zeros((4, 2))])   # four draws from N(0, I)
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True  # no weights: Keras need not trace the model to build it

    def call(self, inputs):
        z_mean, z_log_var = inputs
        return z_mean + ops.exp(0.5 * clip_log_var(z_log_var)) * self.noise(ops.shape(z_mean), z_mean.dtype)

    def noise(self, shape, dtype="float32"):
        """Standard normal draws of `shape` (batch first) from the layer's generator: the noise of `call`, or of
        several samples per image (an IWAE's (batch, k, latent_dim)).

        Example:
            >>> eps = Sampling(seed=1).noise((4, 5, 2))   # five draws per image for four images
        """
        index, count = trainers.replica()
        if count == 1:
            return keras.random.normal(shape, dtype=dtype, seed=self.seed_generator)
        # each replica of a tf.distribute step takes its share of the draws for the global batch
        batch = shape[0]
        noise = keras.random.normal((batch * count, *shape[1:]), dtype=dtype, seed=self.seed_generator)
        return noise[index * batch:(index + 1) * batch]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
