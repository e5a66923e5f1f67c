"""FactorVAE: a VAE that penalises the total correlation of its latents, estimated by a discriminator trained in the
same step."""

import keras
from keras import layers, ops

from keras_vae.losses import kl_divergence
from keras_vae.arguments import non_negative, positive_ints
from keras_vae.models.vae import VAE


def _permuted_dimensions(z, noise):
    """Each column of `z` shuffled across the batch on its own, by the ranks of the standard normal `noise`: samples
    of the product of q(z)'s marginals (Kim and Mnih, 2018, algorithm 1)."""
    return ops.take_along_axis(z, ops.argsort(noise, axis=0), axis=0)


@keras.saving.register_keras_serializable(package="keras_vae")
class FactorVAE(VAE):
    """FactorVAE (Kim and Mnih, 2018): the VAE's loss plus `gamma` times the total correlation of q(z), estimated by
    a discriminator between samples of q(z) and of the product of its marginals.

    Each step draws z for every image of the batch, and z with each dimension shuffled across the batch (samples of
    the product of the marginals). The discriminator's two logits estimate the log density ratio
    log q(z) - log prod_d q(z_d), the total correlation, at each z; the VAE's loss adds `gamma` times it, and the
    discriminator's cross-entropy between the two kinds of sample trains the discriminator. Both are minimised by
    one gradient step of one optimizer: the VAE's term reaches the encoder through z and not the discriminator's
    weights, the discriminator's term reaches its weights and not the encoder (stop-gradients). Kim and Mnih use a
    second batch for the shuffled samples and a second Adam (learning rate 1e-4, betas 0.5 and 0.9) for the
    discriminator: here both come from the one batch and the one optimizer.

    Reported: `loss` (what the step minimises: the VAE's loss, its total-correlation term included, plus the
    discriminator's cross-entropy), `reconstruction_loss`, `kl_loss`, `total_correlation` (the discriminator's
    estimate, in nats) and `discriminator_loss`.

    Args:
        latent_dim: size of the latent space.
        body: `"conv"` (default), `"dense"`, or a `Body`.
        gamma: weight of the total correlation (Kim and Mnih: 6.4 to 100; 35 on dSprites in their figures).
        discriminator_units: widths of the discriminator's hidden layers (Kim and Mnih: six of 1000, leaky ReLU).
        **kwargs: the other `VAE` arguments (`beta`, the KL weight, `seed`, `kl_schedule`, ...).

    Example:
        >>> model = FactorVAE(latent_dim=10, gamma=35.0)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-4))
        >>> model.fit(x_train, epochs=10, batch_size=64)
    """

    loss_terms = (*VAE.loss_terms, "total_correlation", "discriminator_loss")

    def __init__(self, latent_dim=2, body="conv", gamma=35.0, discriminator_units=(1000,) * 6, **kwargs):
        gamma = non_negative("gamma", gamma)
        super().__init__(latent_dim=latent_dim, body=body, **kwargs)
        self.gamma = gamma
        self.discriminator_units = positive_ints("discriminator_units", discriminator_units)
        self.discriminator = keras.Sequential(
            [layers.Input((latent_dim,)),
             *(layers.Dense(units, activation="leaky_relu", name=f"hidden_{i}")
               for i, units in enumerate(self.discriminator_units)),
             layers.Dense(2, name="logits", dtype="float32")],  # [is q(z), is the product of the marginals]
            name="discriminator")

    def _log_ratio(self, z):
        """The discriminator's estimate of log q(z) - log prod_d q(z_d) at each z: its two logits' difference."""
        logits = self.discriminator(z)
        return logits[:, 0] - logits[:, 1], logits

    def compute_loss_terms(self, images, labels, training=False):
        z_mean, z_log_var, z, reconstruction = self._posterior_sample(images, labels, training)
        terms = self._weighed(reconstruction, kl_divergence(z_mean, z_log_var), self.kl_weight(training))
        # the VAE's term: the gradient of the ratio at z, not of the discriminator's weights (the two passes cancel
        # in the weights' gradient and agree in value)
        ratio, _ = self._log_ratio(z)
        fixed = ops.stop_gradient(z)
        fixed_ratio, real = self._log_ratio(fixed)
        total_correlation = ratio - fixed_ratio + ops.stop_gradient(fixed_ratio)
        _, shuffled = self._log_ratio(_permuted_dimensions(fixed, self.sampler.noise(ops.shape(fixed))))
        discriminator_loss = 0.5 * (keras.losses.sparse_categorical_crossentropy(
            ops.zeros_like(real[:, 0], "int32"), real, from_logits=True) + keras.losses.sparse_categorical_crossentropy(
            ops.ones_like(shuffled[:, 0], "int32"), shuffled, from_logits=True))
        terms["loss"] = terms["loss"] + self.gamma * total_correlation + discriminator_loss
        return {**terms, "total_correlation": ops.stop_gradient(total_correlation),
                "discriminator_loss": discriminator_loss}

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "discriminator_units": list(self.discriminator_units)}
