"""A VAE with several stochastic layers (Burda et al.'s two-layer architecture, any depth)."""

import keras
import numpy as np
from keras import ops

from keras_vae.arguments import positive_int
from keras_vae.losses import clip_log_var
from keras_vae.models import bodies
from keras_vae.models.iwae import IWAE

#: the heads of the networks between two stochastic layers: a diagonal Gaussian's mean and log-variance
_GAUSSIAN = ("z_mean", "z_log_var")


def _log_normal(x, mean, log_var):
    """log N(x; mean, exp(log_var)) summed over the last axis, without the 2 pi terms (they cancel in the weights:
    q and p hold one Gaussian density per latent coordinate each)."""
    return -0.5 * ops.sum(log_var + ops.square(x - mean) * ops.exp(-log_var), axis=-1)


def _renamed(network, name):
    """The functional model `network` under another name (its layers shared)."""
    return keras.Model(network.input, network.output, name=name)


@keras.saving.register_keras_serializable(package="keras_vae")
class HierarchicalVAE(IWAE):
    """A VAE with stochastic layers h_1, ..., h_L (Burda et al., 2016, section 5's two-layer model at L = 2).

    Inference runs bottom-up, q(h_1|x) q(h_2|h_1) ... q(h_L|h_{L-1}), generation top-down,
    p(h_L) = N(0, I), p(h_{L-1}|h_L) ... p(h_1|h_2) p(x|h_1), every conditional a diagonal Gaussian but the
    Bernoulli pixels. `body` builds the networks next to the pixels (q(h_1|x) and p(x|h_1), as any VAE's encoder
    and decoder); `upper_body` (a `DenseBody`) those between two stochastic layers, both ways. There is no
    analytic KL term: the loss is the IWAE bound of `k` samples (k=1, the default: the ELBO, with the KL term
    estimated from the sample as log q(h|x) - log p(h)), and `keras_vae.evaluate.iwae_nll` scores it like any VAE.

    The latent of the API is the top layer h_L: `encode` gives its posterior (through the means of the layers
    below), `decode(z)` follows the prior's conditional means down to pixel probabilities, and `sample(n, seed)`
    draws every layer. `reconstruct` decodes the posterior mean of h_1, the most faithful reconstruction.

    Args:
        latent_dims: sizes of h_1, ..., h_L, from the pixels up (at least two).
        body: the networks next to the pixels: a `Body`, its name or config.
        upper_body: a `DenseBody` (or its config) for the networks between stochastic layers.
        k: importance samples per image of the training bound (1: the ELBO).
        **kwargs: the other `IWAE` and `VAE` arguments (`groups`, `beta`, `seed`, `kl_schedule`, ...).

    Example:
        >>> model = HierarchicalVAE(latent_dims=(100, 50), k=5)   # Burda et al.'s two-layer IWAE
        >>> model.compile(optimizer="adam")
        >>> model.fit(x_train_binary, epochs=10, batch_size=128)
        >>> images = model.sample(16, seed=0)
    """

    def __init__(self, latent_dims=(100, 50), body=None, upper_body=None, k=1, **kwargs):
        latent_dims = tuple(latent_dims)
        if len(latent_dims) < 2 or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                                           for d in latent_dims):
            raise ValueError(f"latent_dims must be two or more positive ints, from the pixels up; got {latent_dims!r}")
        if kwargs.get("num_classes"):
            raise ValueError("HierarchicalVAE is unconditional: it takes no num_classes")
        body = bodies.DenseBody(hidden_units=(200, 200), activation="tanh") if body is None else body
        super().__init__(latent_dim=latent_dims[0], body=body, k=k, **kwargs)
        self.upper_body = bodies.get(bodies.DenseBody(hidden_units=(100, 100), activation="tanh")
                                     if upper_body is None else upper_body)
        if not isinstance(self.upper_body, bodies.DenseBody):
            raise ValueError(f"upper_body must be a DenseBody, got {type(self.upper_body).__name__}")
        self.latent_dims = latent_dims
        self.latent_dim = latent_dims[-1]  # the API's latent: the top layer
        pairs = list(zip(latent_dims[:-1], latent_dims[1:]))
        build = self.upper_body.build_encoder
        self.upper_encoders = [_renamed(build((below,), above, _GAUSSIAN, dtype=self.dtype_policy), f"q_h{i + 2}")
                               for i, (below, above) in enumerate(pairs)]
        self.upper_decoders = [_renamed(build((above,), below, _GAUSSIAN, dtype=self.dtype_policy), f"p_h{i + 1}")
                               for i, (below, above) in enumerate(pairs)]

    @property
    def noise_dim(self):
        return sum(self.latent_dims)

    def importance_terms(self, images, labels, noise, training=False):
        """Each sample's log p(x|h_1) and log p(h_1..h_L) - log q(h_1..h_L|x), drawn from standard normal `noise` of
        shape (g, c, sum(latent_dims)) (its columns split across the layers, bottom first); see `VAE`'s."""
        c = noise.shape[1]
        noise = ops.cast(noise, "float32")
        widths = np.cumsum(self.latent_dims)[:-1].tolist()
        noises = [ops.reshape(part, (-1, dim)) for part, dim in zip(ops.split(noise, widths, axis=-1),
                                                                      self.latent_dims)]
        mean, log_var = (ops.cast(t, "float32") for t in self.encoder(images, training=training))
        mean, log_var = ops.repeat(mean, c, axis=0), ops.repeat(clip_log_var(log_var), c, axis=0)
        layers, log_q = [], 0.0
        for index, eps in enumerate(noises):
            if index:
                mean, log_var = self._gaussian(self.upper_encoders[index - 1], layers[-1], training)
            layers.append(mean + ops.exp(0.5 * log_var) * eps)
            log_q = log_q - 0.5 * ops.sum(log_var + ops.square(eps), axis=-1)  # (h - mean)^2 / var is eps^2
        log_p = _log_normal(layers[-1], 0.0, 0.0)
        for index in range(len(layers) - 1):
            log_p = log_p + _log_normal(layers[index], *self._gaussian(self.upper_decoders[index], layers[index + 1],
                                                                         training))
        logits = self.decoder(layers[0], training=training)
        return self._log_likelihoods(images, logits, c), ops.reshape(log_p - log_q, (-1, c))

    def _gaussian(self, network, inputs, training=False):
        mean, log_var = network(inputs, training=training)
        return ops.cast(mean, "float32"), clip_log_var(ops.cast(log_var, "float32"))

    def encode(self, images, labels=None):
        """The top layer's posterior `(z_mean, z_log_var)`, each layer below taken at its posterior mean.

        Args:
            images: float images in [0, 1], shape (batch, *image_shape).
            labels: must be None (the model is unconditional).
        """
        h = ops.cast(self.encoder(self._images_in(images, labels), training=False)[0], "float32")
        for network in self.upper_encoders[:-1]:
            h = self._gaussian(network, h)[0]
        return self._gaussian(self.upper_encoders[-1], h)

    def reconstruct(self, images, labels=None):
        """Decodes the posterior mean of h_1 (the model's `call`: its bottom encoder and decoder): images in [0, 1]
        of the same shape."""
        return self.call(self._images_in(images, labels))

    def _down(self, z, draw=None):
        """Pixel probabilities from top-layer vectors z, each lower layer its prior's mean (or a draw from it, with
        the `keras.random.SeedGenerator` `draw`)."""
        h = ops.cast(z, "float32")
        for network in reversed(self.upper_decoders):
            mean, log_var = self._gaussian(network, h)
            h = mean if draw is None else mean + ops.exp(0.5 * log_var) * keras.random.normal(ops.shape(mean),
                                                                                             seed=draw)
        return ops.sigmoid(self.decoder(h, training=False))

    def decode(self, z, labels=None):
        """Pixel probabilities of top-layer vectors `z` (batch, latent_dims[-1]), each lower layer at its conditional
        mean under the prior.

        Args:
            z: top-layer latent vectors.
            labels: must be None.
        """
        z = self._latent_in(z)
        self._check_condition(labels, z.shape[0])
        return self._down(z)

    def sample(self, n, seed=None, labels=None):
        """Draws `n` images: h_L from N(0, I), then each layer below from its conditional prior; returns the pixel
        probabilities of p(x|h_1).

        Args:
            n: number of images.
            seed: int for reproducible draws; None draws fresh ones.
            labels: must be None.
        """
        n = positive_int("n", n)
        self._check_condition(labels, n)
        draw = keras.random.SeedGenerator(seed)
        return self._down(keras.random.normal((int(n), self.latent_dim), seed=draw), draw)

    def get_config(self):
        config = super().get_config()
        del config["latent_dim"]
        return {**config, "latent_dims": self.latent_dims,
                "upper_body": keras.saving.serialize_keras_object(self.upper_body)}
