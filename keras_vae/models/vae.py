"""The variational autoencoder and the beta-VAE."""

import keras
from keras import ops

from keras_vae import schedules
from keras_vae.arguments import non_negative
from keras_vae.layers import Sampling
from keras_vae.losses import clip_log_var, kl_divergence, reconstruction_loss
from keras_vae.models.base import BaseAutoencoder
from keras_vae.models.bodies import DenseBody
from keras_vae.zoo import register


@keras.saving.register_keras_serializable(package="keras_vae")
class VAE(BaseAutoencoder):
    """Variational autoencoder (Kingma and Welling, 2014) with a diagonal Gaussian posterior.

    The loss is the negative ELBO per image: reconstruction negative log-likelihood summed over pixels
    plus `beta` times the analytic KL divergence to the N(0, I) prior, averaged over the batch. With a
    `kl_schedule`, training weighs the KL term by `beta` times the schedule's factor at the optimizer's step
    (KL warm-up or cyclical annealing); evaluation always weighs it by `beta`.

    Args:
        latent_dim: size of the latent space.
        body: `"dense"` (784-128-16-latent, mirrored), `"conv"`, or a `Body`.
        beta: weight of the KL term (1.0 for the plain ELBO).
        likelihood: `"bernoulli"` (binary cross-entropy from logits) or `"gaussian"` (squared error).
        image_shape: (height, width, channels).
        seed: optional int seeding the reparameterisation noise.
        kl_schedule: None, or a `keras_vae.schedules.LinearWarmup` / `Cyclical` scaling `beta` while training.
        **kwargs: passed to `BaseAutoencoder` and `keras.Model`.

    Example:
        >>> model = VAE(latent_dim=2)
        >>> model.compile(optimizer="adam")
        >>> model.fit(x_train, epochs=10, batch_size=128)
        >>> z_mean, z_log_var = model.encode(x_test)
        >>> images = model.sample(16, seed=0)
    """

    def __init__(self, latent_dim=2, body="dense", beta=1.0, likelihood="bernoulli", image_shape=(28, 28, 1),
                 seed=None, kl_schedule=None, **kwargs):
        super().__init__(latent_dim=latent_dim, body=body, likelihood=likelihood, image_shape=image_shape, **kwargs)
        self.beta = non_negative("beta", beta)
        self.seed = seed
        self.kl_schedule = schedules.check(kl_schedule)
        if self.kl_schedule is not None:  # report the weight the steps used
            self.loss_terms = (*self.loss_terms, "kl_weight")
            self.loss_trackers.append(keras.metrics.Mean(name="kl_weight"))
        self.sampler = Sampling(seed=seed, name="sampling", dtype=self.dtype_policy.variable_dtype)

    def kl_weight(self, training=False):
        """The weight of the KL term: `beta` times the schedule's factor at the optimizer's step while training,
        `beta` otherwise."""
        return self.beta * self.kl_factor(training)

    def kl_factor(self, training=False):
        """The KL schedule's factor at the optimizer's step while training; 1 without a schedule or outside
        training."""
        if self.kl_schedule is None or not training or self.optimizer is None:
            return 1.0
        return self.kl_schedule(self.optimizer.iterations)

    def compute_loss_terms(self, images, labels, training=False):
        z_mean, z_log_var, _, reconstruction = self._posterior_sample(images, labels, training)
        return self._weighed(reconstruction, kl_divergence(z_mean, z_log_var), self.kl_weight(training))

    def _posterior_sample(self, images, labels, training):
        """The posterior's z_mean and z_log_var, one sample z of it per image, and each image's reconstruction term
        (its negative log-likelihood) decoded from that sample."""
        z_mean, z_log_var = self.encoder(self._conditioned(images, labels), training=training)
        z = self.sampler([z_mean, z_log_var])
        logits = self.decoder(self._conditioned(z, labels), training=training)
        return z_mean, z_log_var, z, reconstruction_loss(images, logits, self.likelihood)

    def _weighed(self, reconstruction, kl, weight):
        """The loss terms of a batch whose per-image reconstruction and KL terms are given, weighing the KL term
        by `weight` (and reporting it when it follows a schedule)."""
        terms = {"loss": reconstruction + weight * kl, "reconstruction_loss": reconstruction, "kl_loss": kl}
        if self.kl_schedule is not None:
            terms["kl_weight"] = ops.convert_to_tensor(weight, "float32")
        return terms

    @property
    def noise_dim(self):
        """Standard normal numbers that one posterior sample is drawn from (`importance_terms`' noise)."""
        return self.latent_dim

    def importance_terms(self, images, labels, noise, training=False):
        """The two parts of each importance weight log p(x, z) - log q(z|x), for z = z_mean + sigma * noise.

        The IWAE bound (`keras_vae.evaluate.iwae_log_likelihood`, the `IWAE` family's loss) is
        log mean_i exp(log p(x|z_i) + log p(z_i) - log q(z_i|x)) over c samples per image.

        Args:
            images: (g, *image_shape) images; labels: their g labels for a conditional model, else None.
            noise: (g, c, noise_dim) standard normal draws, c samples per image.
            training: whether layers run in training mode.

        Returns:
            `(log p(x|z), log p(z) - log q(z|x))`, float32 tensors of shape (g, c): minus the reconstruction
            loss of each sample (the Bernoulli log-likelihood) and the log density ratio of prior and posterior
            (its mean over samples estimates minus the KL term).

        Example:
            >>> eps = keras.random.normal((8, 100, model.noise_dim), seed=0)
            >>> log_likelihood, log_ratio = model.importance_terms(x[:8], None, eps)   # (8, 100) each
        """
        c = noise.shape[1]
        z_mean, z_log_var = (ops.cast(t, "float32") for t in
                             self.encoder(self._conditioned(images, labels), training=training))
        z_log_var = clip_log_var(z_log_var)
        noise = ops.cast(noise, "float32")
        z = z_mean[:, None, :] + ops.exp(0.5 * z_log_var)[:, None, :] * noise
        # log N(z; 0, I) - log N(z; mu, sigma^2): the log(2 pi) terms cancel, and (z - mu) / sigma is the noise
        log_ratio = -0.5 * ops.sum(ops.square(z) - ops.square(noise) - z_log_var[:, None, :], axis=-1)
        repeated = None if labels is None else ops.repeat(labels, c, axis=0)
        logits = self.decoder(self._conditioned(ops.reshape(z, (-1, self.latent_dim)), repeated), training=training)
        return self._log_likelihoods(images, logits, c), log_ratio

    def _log_likelihoods(self, images, logits, samples):
        """log p(x|z) of `samples` decodings per image (minus their reconstruction loss), as (images, samples)."""
        targets = ops.repeat(ops.cast(images, "float32"), samples, axis=0)
        return -ops.reshape(reconstruction_loss(targets, logits, self.likelihood), (-1, samples))

    def get_config(self):
        config = {**super().get_config(), "beta": self.beta, "seed": self.seed}
        if self.kl_schedule is not None:
            config["kl_schedule"] = keras.saving.serialize_keras_object(self.kl_schedule)
        return config


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
