"""The IWAE family's objective against numbers computed without it: on a model of four pixels and one latent
dimension, the exact log-likelihood and ELBO by quadrature over z."""

import keras
import numpy as np
import pytest

from keras_vae.models import IWAE, DenseBody

SHAPE = (2, 2, 1)
#: quadrature grid over z: p(z) and every posterior below are negligible outside it
GRID = np.linspace(-12.0, 12.0, 24_001)
#: four of the sixteen binary images of four pixels
IMAGES = np.array([[0, 0, 0, 0], [1, 1, 1, 1], [1, 0, 0, 1], [0, 1, 1, 0]], "float32").reshape(4, *SHAPE)


def tiny_iwae(**kwargs):
    """An IWAE over 2x2 images with a 1-d latent and hidden layers of 8 units, weights drawn from a fixed seed: a
    decoder of N(0, 1.5^2) weights, an encoder of N(0, 0.3^2) ones (a posterior near the prior, whose importance
    weights converge fast)."""
    model = IWAE(latent_dim=1, body=DenseBody(hidden_units=(8,)), image_shape=SHAPE, seed=4, **kwargs)
    rng = np.random.default_rng(7)
    for network, scale in ((model.encoder, 0.3), (model.decoder, 1.5)):
        network.set_weights([rng.normal(0.0, scale, w.shape).astype("float32") for w in network.get_weights()])
    return model


def log_normal(z, mean, log_var):
    return -0.5 * (np.log(2 * np.pi) + log_var + (z - mean) ** 2 / np.exp(log_var))


def quadrature(model):
    """Per image, in float64: log p(x) = log of the integral of p(x|z) N(z; 0, 1) over the grid, and the ELBO
    E_q[log p(x|z)] - KL(q || N(0, 1)), the expectation by the same quadrature under q(z|x) = N(mean, var)."""
    logits = np.asarray(keras.ops.convert_to_numpy(model.decoder(GRID[:, None].astype("float32"))), np.float64)
    logits = logits.reshape(len(GRID), -1)
    pixels = IMAGES.reshape(len(IMAGES), -1).astype(np.float64)
    log_px_z = pixels @ logits.T - np.sum(np.logaddexp(0.0, logits), axis=1)  # (images, grid)
    step = GRID[1] - GRID[0]
    log_px = np.logaddexp.reduce(log_px_z + log_normal(GRID, 0.0, 0.0), axis=1) + np.log(step)
    mean, log_var = (np.asarray(keras.ops.convert_to_numpy(t), np.float64) for t in model.encoder(IMAGES))
    q = np.exp(log_normal(GRID, mean, log_var)) * step  # rows sum to 1
    kl = 0.5 * np.sum(np.exp(log_var) + mean**2 - 1.0 - log_var, axis=1)
    return log_px, np.sum(q * log_px_z, axis=1) - kl


@pytest.mark.parametrize("k, groups, bound", [
    pytest.param(20_000, 1, "log p(x)", id="IWAE, k large: the exact likelihood"),
    pytest.param(1, 20_000, "ELBO", id="MIWAE, groups of one sample: the ELBO"),
])
def test_the_bound_is_the_likelihood_for_many_samples_and_the_elbo_for_one(k, groups, bound):
    """Through evaluate (test_step) and a fit step at learning rate 0 (train_step), on four images."""
    model = tiny_iwae(k=k, groups=groups)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    log_px, elbo = quadrature(model)
    assert np.all(log_px - elbo > 0.9)  # the two bounds are 30 tolerances apart, at least
    expected = -np.mean(log_px if bound == "log p(x)" else elbo)
    evaluated = model.evaluate(IMAGES, batch_size=4, verbose=0, return_dict=True)
    trained = model.fit(IMAGES, batch_size=4, epochs=1, verbose=0).history
    assert evaluated["loss"] == pytest.approx(expected, abs=0.03)
    assert trained["loss"] == [pytest.approx(expected, abs=0.03)]
    # the reported terms are the ELBO's, whatever the bound: their sum is minus the ELBO
    assert evaluated["reconstruction_loss"] + evaluated["kl_loss"] == pytest.approx(-np.mean(elbo), abs=0.03)


@pytest.mark.parametrize("arguments, message", [
    ({"k": 0}, "k must be a positive int, got 0"),
    ({"groups": 2.0}, "groups must be a positive int, got 2.0"),
])
def test_bad_sample_counts_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        IWAE(**arguments)
