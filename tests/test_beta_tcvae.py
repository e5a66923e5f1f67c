"""The β-TCVAE's decomposition of the KL term against what minibatch-weighted sampling gives in closed form, and
its API on real MNIST.

With M training images and a batch of N: when every image has the same posterior, the estimate of q(z) is that
posterior shrunk by 1/M, so the mutual information is log M and the total correlation (d - 1) log M whatever z
was drawn; when the posteriors are far apart (tiny variances), each sample is explained by its own image alone,
and both grow by log N: log(N M) and (d - 1) log(N M)."""

import math

import keras
import numpy as np
import pytest

from harness import constant_decoder, narrow_posterior, numpy, numpy_encode
from keras_vae.models import BetaTCVAE, DenseBody

M, D = 1000, 3


def _model(**kwargs):
    model = BetaTCVAE(latent_dim=D, body=DenseBody(hidden_units=(32,)), dataset_size=M, seed=0, **kwargs)
    model.build((None, 28, 28, 1))
    return model


def _terms(model, images):
    return {name: numpy(value) for name, value in model.compute_loss_terms(images, None).items()}


def _same_posterior_for_every_image(model, seed=0):
    """Zero kernels on the two heads: every image gets the posterior N(bias_mean, exp(bias_log_var))."""
    rng = np.random.default_rng(seed)
    for head in ("z_mean", "z_log_var"):
        layer = model.encoder.get_layer(head)
        layer.kernel.assign(np.zeros(layer.kernel.shape, "float32"))
        layer.bias.assign(rng.uniform(-1.0, 1.0, D).astype("float32"))


@pytest.fixture(scope="module")
def images(small_mnist):
    (x, _), _ = small_mnist
    return x[:16]


def test_identical_posteriors_give_the_closed_form_terms(images):
    model = _model(beta=2.0, alpha=0.0, gamma=0.0)
    _same_posterior_for_every_image(model)
    terms = _terms(model, images)
    np.testing.assert_allclose(terms["mutual_information"], math.log(M), rtol=1e-5)
    np.testing.assert_allclose(terms["total_correlation"], (D - 1) * math.log(M), rtol=1e-5)
    # alpha = gamma = 0: the loss adds beta times the total correlation alone to the reconstruction term
    np.testing.assert_allclose(terms["loss"] - terms["reconstruction_loss"], 2 * (D - 1) * math.log(M), rtol=1e-5)


def test_separated_posteriors_give_the_closed_form_terms(images):
    model = _model()
    narrow_posterior(model)  # standard deviations of about 1e-6, means far apart on the scale of that
    terms = _terms(model, images)
    log_nm = math.log(len(images) * M)
    np.testing.assert_allclose(terms["mutual_information"], log_nm, rtol=1e-5)
    np.testing.assert_allclose(terms["total_correlation"], (D - 1) * log_nm, rtol=1e-5)


def test_unit_weights_give_the_vaes_negative_elbo(images):
    """alpha = beta = gamma = 1: the three parts add up to a Monte Carlo estimate of the analytic KL term; over
    4096 draws for one image, their mean is that KL to within its standard error."""
    model = _model(beta=1.0)
    constant_decoder(model)  # the reconstruction term does not depend on the draw
    z_mean, z_log_var = numpy_encode(model, images[:1])
    analytic = 0.5 * np.sum(np.exp(z_log_var) + z_mean ** 2 - 1.0 - z_log_var)
    terms = _terms(model, np.repeat(images[:1], 4096, axis=0))
    kl = terms["loss"] - terms["reconstruction_loss"]
    np.testing.assert_allclose(terms["reconstruction_loss"], terms["reconstruction_loss"][0], rtol=1e-6)
    assert abs(kl.mean() - analytic) < 4 * kl.std() / 64, (kl.mean(), analytic)


@pytest.mark.parametrize("arguments, message", [
    ({"alpha": -1.0}, "alpha must be a non-negative number"),
    ({"gamma": "1"}, "gamma must be a non-negative number"),
    ({"dataset_size": 0}, "dataset_size must be a positive int"),
])
def test_bad_arguments_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        BetaTCVAE(**arguments)


def test_learns_mnist_and_round_trips_through_a_keras_file(small_mnist, tmp_path):
    """Two epochs on 512 real images, then a .keras file that loads in safe mode with the same encodings."""
    (x, _), (x_test, _) = small_mnist
    model = BetaTCVAE(latent_dim=4, dataset_size=512, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(x[:512], epochs=2, batch_size=64, shuffle=False, verbose=0).history
    assert history["loss"][1] < 0.8 * history["loss"][0], history["loss"]
    model.save(tmp_path / "beta_tcvae.keras")
    loaded = keras.saving.load_model(tmp_path / "beta_tcvae.keras", safe_mode=True)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(numpy(loaded.encode(x_test[:16])[0]), numpy(model.encode(x_test[:16])[0]), atol=1e-6)
