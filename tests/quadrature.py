"""Models of four pixels with one-dimensional latent layers, and what they compute by quadrature: the exact
log-likelihood, the ELBO and the mean sample, without the code under test (tests/test_iwae.py, tests/test_hvae.py).

Their weights are drawn from fixed seeds: N(0, 1.5^2) (or 0.5^2) in the networks that generate, N(0, 0.3^2) in those
that infer, so that the posteriors are near the priors and importance weights converge fast.
"""

import keras
import numpy as np

from keras_vae.models import IWAE, DenseBody, HierarchicalVAE

SHAPE = (2, 2, 1)
#: four of the sixteen binary images of four pixels
IMAGES = np.array([[0, 0, 0, 0], [1, 1, 1, 1], [1, 0, 0, 1], [0, 1, 1, 0]], "float32").reshape(4, *SHAPE)
#: quadrature grids: every density below is negligible outside them
Z = np.linspace(-12.0, 12.0, 24_001)
H1 = np.linspace(-12.0, 12.0, 1201)
H2 = np.linspace(-8.0, 8.0, 401)


def _drawn(model, scales):
    rng = np.random.default_rng(scales.pop("seed"))
    for network, scale in scales.items():
        network.set_weights([rng.normal(0.0, scale, w.shape).astype("float32") for w in network.get_weights()])
    return model


def tiny_iwae(**kwargs):
    """An IWAE over 2x2 images with a 1-d latent and hidden layers of 8 units."""
    model = IWAE(latent_dim=1, body=DenseBody(hidden_units=(8,)), image_shape=SHAPE, seed=4, **kwargs)
    return _drawn(model, {"seed": 7, model.encoder: 0.3, model.decoder: 1.5})


def tiny_hvae(**kwargs):
    """A HierarchicalVAE over 2x2 images with two 1-d stochastic layers and hidden layers of 8 units."""
    model = HierarchicalVAE(latent_dims=(1, 1), body=DenseBody(hidden_units=(8,)),
                            upper_body=DenseBody(hidden_units=(8,), activation="tanh"), image_shape=SHAPE, seed=4,
                            **kwargs)
    return _drawn(model, {"seed": 5, model.encoder: 0.3, model.upper_encoders[0]: 0.3, model.decoder: 1.5,
                          model.upper_decoders[0]: 0.5})


def numpy_of(network, inputs):
    """The outputs of `network` on `inputs`, as float64 arrays."""
    outputs = network(inputs.astype("float32"))
    return [np.asarray(keras.ops.convert_to_numpy(t), np.float64) for t in outputs] \
        if isinstance(outputs, (list, tuple)) else np.asarray(keras.ops.convert_to_numpy(outputs), np.float64)


def log_normal(z, mean, log_var):
    """log N(z; mean, exp(log_var)), elementwise."""
    return -0.5 * (np.log(2 * np.pi) + log_var + (z - mean) ** 2 / np.exp(log_var))


def log_bernoulli(logits):
    """log p(x | logits) of each of IMAGES under each row of `logits` (grid points, pixels): (images, grid)."""
    pixels = IMAGES.reshape(len(IMAGES), -1).astype(np.float64)
    return pixels @ logits.T - np.sum(np.logaddexp(0.0, logits), axis=1)


def iwae_quadrature(model):
    """Per image, in float64: log p(x) = log of the integral of p(x|z) N(z; 0, 1) over the grid, and the ELBO
    E_q[log p(x|z)] - KL(q || N(0, 1)), the expectation by the same quadrature under q(z|x) = N(mean, var)."""
    log_px_z = log_bernoulli(numpy_of(model.decoder, Z[:, None]).reshape(len(Z), -1))  # (images, grid)
    step = Z[1] - Z[0]
    log_px = np.logaddexp.reduce(log_px_z + log_normal(Z, 0.0, 0.0), axis=1) + np.log(step)
    mean, log_var = numpy_of(model.encoder, IMAGES)
    q = np.exp(log_normal(Z, mean, log_var)) * step  # rows sum to 1
    kl = 0.5 * np.sum(np.exp(log_var) + mean**2 - 1.0 - log_var, axis=1)
    return log_px, np.sum(q * log_px_z, axis=1) - kl


def hvae_quadrature(model):
    """Per image, in float64 over the (h1, h2) grid: log p(x), the ELBO, and the mean pixel probabilities of the
    model's samples, E over p(h1, h2) of sigmoid(logits(h1))."""
    step = (H1[1] - H1[0]) * (H2[1] - H2[0])
    logits = numpy_of(model.decoder, H1[:, None]).reshape(len(H1), -1)  # (h1, pixels)
    log_px_h1 = log_bernoulli(logits)  # (images, h1)
    prior_mean, prior_log_var = (t[:, 0] for t in numpy_of(model.upper_decoders[0], H2[:, None]))  # p(h1|h2), by h2
    log_prior = log_normal(H1[:, None], prior_mean, prior_log_var) + log_normal(H2, 0.0, 0.0)  # (h1, h2)
    log_joint = log_px_h1[:, :, None] + log_prior  # (images, h1, h2)
    log_px = np.logaddexp.reduce(log_joint.reshape(len(IMAGES), -1), axis=1) + np.log(step)
    mean1, log_var1 = (t[:, 0] for t in numpy_of(model.encoder, IMAGES))  # q(h1|x)
    q_mean2, q_log_var2 = (t[:, 0] for t in numpy_of(model.upper_encoders[0], H1[:, None]))  # q(h2|h1), by h1
    log_q = log_normal(H1, mean1[:, None], log_var1[:, None])[:, :, None] + log_normal(
        H2, q_mean2[:, None], q_log_var2[:, None])  # (images, h1, h2)
    elbo = np.sum(np.exp(log_q) * (log_joint - log_q), axis=(1, 2)) * step
    probabilities = 1.0 / (1.0 + np.exp(-logits))
    mean_sample = np.einsum("hp,hg->p", probabilities, np.exp(log_prior)) * step
    return log_px, elbo, mean_sample
