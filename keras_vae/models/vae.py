"""The variational autoencoder and the beta-VAE."""

import keras

from keras_vae.layers import Sampling
from keras_vae.losses import kl_divergence, reconstruction_loss
from keras_vae.models.base import BaseAutoencoder
from keras_vae.models.bodies import DenseBody
from keras_vae.zoo import register


@keras.saving.register_keras_serializable(package="keras_vae")
class VAE(BaseAutoencoder):
    """Variational autoencoder (Kingma and Welling, 2014) with a diagonal Gaussian posterior.

    The loss is the negative ELBO per image: reconstruction negative log-likelihood summed over pixels
    plus `beta` times the analytic KL divergence to the N(0, I) prior, averaged over the batch.

    Args:
        latent_dim: size of the latent space.
        body: `"dense"` (784-128-16-latent, mirrored), `"conv"`, or a `Body`.
        beta: weight of the KL term (1.0 for the plain ELBO).
        likelihood: `"bernoulli"` (binary cross-entropy from logits) or `"gaussian"` (squared error).
        image_shape: (height, width, channels).
        seed: optional int seeding the reparameterisation noise.
        **kwargs: passed to `BaseAutoencoder` and `keras.Model`.

    Example:
        >>> model = VAE(latent_dim=2)
        >>> model.compile(optimizer="adam")
        >>> model.fit(x_train, epochs=10, batch_size=128)
        >>> z_mean, z_log_var = model.encode(x_test)
        >>> images = model.sample(16, seed=0)
    """

    def __init__(self, latent_dim=2, body="dense", beta=1.0, likelihood="bernoulli", image_shape=(28, 28, 1),
                 seed=None, **kwargs):
        super().__init__(latent_dim=latent_dim, body=body, likelihood=likelihood, image_shape=image_shape, **kwargs)
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta >= 0:
            raise ValueError(f"beta must be a non-negative number, got {beta!r}")
        self.beta = float(beta)
        self.seed = seed
        self.sampler = Sampling(seed=seed, name="sampling", dtype=self.dtype_policy.variable_dtype)

    def compute_loss_terms(self, images, labels, training=False):
        z_mean, z_log_var = self.encoder(self._conditioned(images, labels), training=training)
        z = self.sampler([z_mean, z_log_var])
        logits = self.decoder(self._conditioned(z, labels), training=training)
        reconstruction = reconstruction_loss(images, logits, self.likelihood)
        kl = kl_divergence(z_mean, z_log_var)
        return {"loss": reconstruction + self.beta * kl, "reconstruction_loss": reconstruction, "kl_loss": kl}

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_vae")
class BetaVAE(VAE):
    """Beta-VAE (Higgins et al., 2017): a VAE whose KL term weighs `beta` > 1, for more disentangled latents.

    Args:
        latent_dim: size of the latent space.
        body: `"conv"` (default), `"dense"`, or a `Body`.
        beta: weight of the KL term.
        **kwargs: the other `VAE` arguments.

    Example:
        >>> model = BetaVAE(latent_dim=10, beta=4.0)
    """

    def __init__(self, latent_dim=2, body="conv", beta=4.0, **kwargs):
        super().__init__(latent_dim=latent_dim, body=body, beta=beta, **kwargs)


# zoo entries: their descriptions and datasets are in keras_vae.zoo.CATALOG
register("vae", VAE)
register("vae_binarized", VAE, body=DenseBody(hidden_units=(512, 256)), latent_dim=32)
register("beta_vae", BetaVAE)
