"""The importance weighted autoencoder and its multi-sample variant."""

import math

import keras
from keras import ops

from keras_vae.arguments import positive_int
from keras_vae.models.bodies import DenseBody
from keras_vae.models.vae import VAE
from keras_vae.zoo import register


@keras.saving.register_keras_serializable(package="keras_vae")
class IWAE(VAE):
    """Importance weighted autoencoder (Burda et al., 2016): a VAE trained on the k-sample importance-weighted bound.

    Each image draws `k * groups` posterior samples z_i; with log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x),
    the loss is minus the mean over `groups` of log (1/k) sum_i w_i over that group's k samples. `groups=1` is
    IWAE; `groups > 1` is MIWAE (Rainforth et al., 2018), whose encoder gets a better gradient signal at the same
    number of samples; `k=1` is the VAE's ELBO with a Monte Carlo KL term. The model is a VAE in every other way
    (`encode`, `decode`, `sample`, export, `keras_vae.evaluate.iwae_nll`). With `beta` != 1 or a `kl_schedule`, the
    prior ratio log p(z) - log q(z|x) inside each weight is weighed by the KL weight (annealing the bound as the
    VAE's KL term is).

    The reported `reconstruction_loss` and `kl_loss` are the single-sample ELBO's terms averaged over the samples
    (minus log p(x|z_i), and log q(z_i|x) - log p(z_i)): their sum is the ELBO, which the IWAE bound (`loss`)
    lies below.

    Args:
        latent_dim: size of the latent space.
        body: `"dense"`, `"conv"` or a `Body`.
        k: importance samples per group.
        groups: independent groups of k samples whose bounds are averaged (MIWAE); 1 for IWAE.
        **kwargs: the other `VAE` arguments (`beta`, `likelihood`, `seed`, `kl_schedule`, ...).

    Example:
        >>> model = IWAE(latent_dim=32, k=5)
        >>> model.compile(optimizer="adam")
        >>> model.fit(x_train_binary, epochs=10, batch_size=128)
        >>> nll = keras_vae.evaluate.iwae_nll(model, x_test_binary, k=5000)
    """

    def __init__(self, latent_dim=2, body="dense", k=5, groups=1, **kwargs):
        k, groups = positive_int("k", k), positive_int("groups", groups)
        super().__init__(latent_dim=latent_dim, body=body, **kwargs)
        self.k = k
        self.groups = groups

    def compute_loss_terms(self, images, labels, training=False):
        samples = self.k * self.groups
        noise = self.sampler.noise((ops.shape(images)[0], samples, self.noise_dim))
        log_likelihood, log_ratio = self.importance_terms(images, labels, noise, training=training)
        weight = self.kl_weight(training)
        terms = self._weighed(-ops.mean(log_likelihood, axis=1), -ops.mean(log_ratio, axis=1), weight)
        log_weights = ops.reshape(log_likelihood + weight * log_ratio, (-1, self.groups, self.k))
        terms["loss"] = -ops.mean(ops.logsumexp(log_weights, axis=-1), axis=-1) + math.log(self.k)
        return terms

    def get_config(self):
        return {**super().get_config(), "k": self.k, "groups": self.groups}


# zoo entries: their descriptions and datasets are in keras_vae.zoo.CATALOG
register("iwae", IWAE, body=DenseBody(hidden_units=(512, 256)), latent_dim=50, k=10)
