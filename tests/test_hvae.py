"""The hierarchical VAE against numbers computed without it: on a model of four pixels and two stochastic layers of
one dimension each, the exact log-likelihood, the ELBO and the mean sample by quadrature over (h1, h2)."""

import keras
import numpy as np
import pytest

from keras_vae import evaluate
from keras_vae.models import DenseBody, HierarchicalVAE

SHAPE = (2, 2, 1)
H1 = np.linspace(-12.0, 12.0, 1201)  # quadrature grids: every density below is negligible outside them
H2 = np.linspace(-8.0, 8.0, 401)
IMAGES = np.array([[0, 0, 0, 0], [1, 1, 1, 1], [1, 0, 0, 1], [0, 1, 1, 0]], "float32").reshape(4, *SHAPE)


def tiny_hvae(**kwargs):
    """Two stochastic layers of one dimension, hidden layers of 8 units; weights from a fixed seed: N(0, 1.5^2) in
    the networks that generate, N(0, 0.3^2) in those that infer (posteriors near the priors)."""
    model = HierarchicalVAE(latent_dims=(1, 1), body=DenseBody(hidden_units=(8,)),
                            upper_body=DenseBody(hidden_units=(8,), activation="tanh"), image_shape=SHAPE, seed=4,
                            **kwargs)
    rng = np.random.default_rng(5)
    for network, scale in ((model.encoder, 0.3), (model.upper_encoders[0], 0.3), (model.decoder, 1.5),
                           (model.upper_decoders[0], 0.5)):
        network.set_weights([rng.normal(0.0, scale, w.shape).astype("float32") for w in network.get_weights()])
    return model


def numpy_of(network, inputs):
    outputs = network(inputs.astype("float32"))
    return [np.asarray(keras.ops.convert_to_numpy(t), np.float64) for t in outputs] \
        if isinstance(outputs, (list, tuple)) else np.asarray(keras.ops.convert_to_numpy(outputs), np.float64)


def log_normal(x, mean, log_var):
    return -0.5 * (np.log(2 * np.pi) + log_var + (x - mean) ** 2 / np.exp(log_var))


def quadrature(model):
    """Per image, in float64 over the (h1, h2) grid: log p(x), the ELBO, and the mean pixel probabilities of the
    model's samples, E over p(h1, h2) of sigmoid(logits(h1))."""
    step = (H1[1] - H1[0]) * (H2[1] - H2[0])
    logits = numpy_of(model.decoder, H1[:, None]).reshape(len(H1), -1)  # (h1, pixels)
    pixels = IMAGES.reshape(len(IMAGES), -1).astype(np.float64)
    log_px_h1 = pixels @ logits.T - np.sum(np.logaddexp(0.0, logits), axis=1)  # (images, h1)
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


@pytest.mark.parametrize("k, groups, bound", [
    pytest.param(20_000, 1, "log p(x)", id="k large: the exact likelihood"),
    pytest.param(1, 20_000, "ELBO", id="one sample per group: the ELBO"),
])
def test_the_bound_is_the_likelihood_for_many_samples_and_the_elbo_for_one(k, groups, bound):
    """Through evaluate (test_step) and a fit step at learning rate 0 (train_step), on four images."""
    model = tiny_hvae(k=k, groups=groups)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    log_px, elbo, _ = quadrature(model)
    assert np.all(log_px - elbo > 0.3)  # the two bounds are 10 tolerances apart, at least
    expected = -np.mean(log_px if bound == "log p(x)" else elbo)
    evaluated = model.evaluate(IMAGES, batch_size=4, verbose=0, return_dict=True)
    trained = model.fit(IMAGES, batch_size=4, epochs=1, verbose=0).history
    assert evaluated["loss"] == pytest.approx(expected, abs=0.03)
    assert trained["loss"] == [pytest.approx(expected, abs=0.03)]


def test_evaluates_iwae_bound_and_samples_follow_the_prior():
    model = tiny_hvae()
    log_px, _, mean_sample = quadrature(model)
    found = evaluate.iwae_log_likelihood(model, IMAGES, k=20_000, seed=1)
    np.testing.assert_allclose(found, log_px, atol=0.05)
    samples = np.asarray(keras.ops.convert_to_numpy(model.sample(20_000, seed=3))).reshape(20_000, -1)
    np.testing.assert_allclose(samples.mean(axis=0), mean_sample, atol=0.01)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.sample(5, seed=3)),
                                  keras.ops.convert_to_numpy(model.sample(5, seed=3)))


@pytest.mark.parametrize("arguments, message", [
    ({"latent_dims": (100,)}, r"latent_dims must be two or more positive ints, from the pixels up; got \(100,\)"),
    ({"num_classes": 10}, "HierarchicalVAE is unconditional"),
    ({"upper_body": "conv"}, "upper_body must be a DenseBody, got ConvBody"),
])
def test_bad_arguments_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        HierarchicalVAE(**arguments)


def test_learns_mnist_and_round_trips_through_a_keras_file(small_mnist, tmp_path):
    """Until a zoo entry puts it in tests/test_models.py: two epochs of Burda's two-layer model (k=2) on 512 real
    binarised images, then a .keras file that loads in safe mode with the same encodings and reconstructions."""
    (x, _), (x_test, _) = small_mnist
    x, x_test = (x[:512] > 0.5).astype("float32"), (x_test[:16] > 0.5).astype("float32")
    model = HierarchicalVAE(k=2, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    losses = model.fit(x, epochs=2, batch_size=32, shuffle=False, verbose=0).history["loss"]
    assert losses[1] < 0.8 * losses[0], losses
    z_mean, z_log_var = model.encode(x_test)
    assert tuple(z_mean.shape) == tuple(z_log_var.shape) == (16, 50)
    assert tuple(model.decode(z_mean).shape) == tuple(model.reconstruct(x_test).shape) == (16, *x_test.shape[1:])
    model.save(tmp_path / "hvae.keras")
    loaded = keras.saving.load_model(tmp_path / "hvae.keras", safe_mode=True)
    assert loaded.get_config() == model.get_config()
    for method in ("code", "reconstruct"):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(getattr(loaded, method)(x_test)),
                                   keras.ops.convert_to_numpy(getattr(model, method)(x_test)), atol=1e-6)
