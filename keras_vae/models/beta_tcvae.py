"""The β-TCVAE: a VAE whose KL term is split into three parts, the total correlation weighed apart."""

import math

import keras
from keras import ops

from keras_vae.arguments import non_negative, positive_int
from keras_vae.losses import clip_log_var
from keras_vae.models.vae import VAE

_LOG_2PI = math.log(2.0 * math.pi)


def _log_normal(z, mean, log_var):
    """log N(z; mean, exp(log_var)) per coordinate, broadcasting."""
    return -0.5 * (_LOG_2PI + log_var + ops.square(z - mean) * ops.exp(-log_var))


@keras.saving.register_keras_serializable(package="keras_vae")
class BetaTCVAE(VAE):
    """β-TCVAE (Chen et al., 2018): the KL term E[log q(z|x) - log p(z)] split into the index-code mutual
    information, the total correlation of q(z) and the dimension-wise KL, each with its own weight.

    For each image x_i of a batch of N and its posterior sample z_i, with M the size of the training set,
    minibatch-weighted sampling estimates the aggregate posterior q(z) = (1/M) sum_x q(z|x) from the batch:
    log q(z_i) = logsumexp_j log q(z_i|x_j) - log(N M), and each coordinate's marginal q(z_id) the same way. Then

    - `mutual_information` = log q(z_i|x_i) - log q(z_i),
    - `total_correlation` = log q(z_i) - sum_d log q(z_id),
    - `dimension_kl` = sum_d log q(z_id) - log p(z_i),

    whose sum `kl_loss` is the single-sample KL estimate log q(z_i|x_i) - log p(z_i) (the constants log(N M) cancel
    in it); the loss is the reconstruction term plus `alpha`, `beta` and `gamma` times the three. With all three at
    1 it is the VAE's negative ELBO, with a Monte Carlo KL term. The estimates of a batch depend on the whole batch:
    train with batches of tens of images or more. A `kl_schedule` scales all three weights (its factor is
    reported as `kl_weight`).

    Args:
        latent_dim: size of the latent space.
        body: `"conv"` (default), `"dense"`, or a `Body`.
        beta: weight of the total correlation (Chen et al. use 6 on dSprites).
        alpha: weight of the mutual information.
        gamma: weight of the dimension-wise KL.
        dataset_size: M, the number of training images (dSprites: 737,280).
        **kwargs: the other `VAE` arguments (`likelihood`, `image_shape`, `seed`, `kl_schedule`, ...).

    Example:
        >>> model = BetaTCVAE(latent_dim=10, beta=6.0, dataset_size=len(x_train))
        >>> model.compile(optimizer="adam")
        >>> model.fit(x_train, epochs=10, batch_size=64)
    """

    loss_terms = (*VAE.loss_terms, "mutual_information", "total_correlation", "dimension_kl")

    def __init__(self, latent_dim=2, body="conv", beta=6.0, alpha=1.0, gamma=1.0, dataset_size=60000, **kwargs):
        alpha, gamma = non_negative("alpha", alpha), non_negative("gamma", gamma)
        dataset_size = positive_int("dataset_size", dataset_size)
        super().__init__(latent_dim=latent_dim, body=body, beta=beta, **kwargs)
        self.alpha, self.gamma, self.dataset_size = alpha, gamma, dataset_size

    def compute_loss_terms(self, images, labels, training=False):
        z_mean, z_log_var, z, reconstruction = self._posterior_sample(images, labels, training)
        z, z_mean = ops.cast(z, "float32"), ops.cast(z_mean, "float32")
        z_log_var = clip_log_var(ops.cast(z_log_var, "float32"))
        # log q(z_i | x_j) per coordinate: rows i (the sample), columns j (the image whose posterior)
        pairs = _log_normal(z[:, None, :], z_mean[None, :, :], z_log_var[None, :, :])
        log_norm = ops.log(ops.cast(ops.shape(z)[0], "float32")) + math.log(self.dataset_size)
        log_posterior = ops.sum(ops.diagonal(pairs, axis1=0, axis2=1), axis=0)  # log q(z_i | x_i)
        log_aggregate = ops.logsumexp(ops.sum(pairs, axis=-1), axis=1) - log_norm
        log_marginals = ops.sum(ops.logsumexp(pairs, axis=1) - log_norm, axis=-1)
        log_prior = ops.sum(_log_normal(z, 0.0, 0.0), axis=-1)
        parts = {"mutual_information": log_posterior - log_aggregate,
                 "total_correlation": log_aggregate - log_marginals,
                 "dimension_kl": log_marginals - log_prior}
        factor = self.kl_factor(training)
        kl = parts["mutual_information"] + parts["total_correlation"] + parts["dimension_kl"]
        weighed = self.alpha * parts["mutual_information"] + self.beta * parts["total_correlation"] \
            + self.gamma * parts["dimension_kl"]
        return {**self._weighed(reconstruction, kl, factor), **parts, "loss": reconstruction + factor * weighed}

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "gamma": self.gamma, "dataset_size": self.dataset_size}
