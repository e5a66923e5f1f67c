"""keras_vae.evaluate on real MNIST, under the active Keras backend: small models, few images, small k."""

import json
import math

import keras
import numpy as np
import pytest

from keras_vae import ConditionalVAE, DenseBody, VAE, data, evaluate, zoo
from harness import build, fit, numpy

LOG_2 = math.log(2.0)


@pytest.fixture(scope="module")
def binary_mnist(small_mnist):
    """1024 binarised training images (one Bernoulli draw) and the first 256 of the dynamic test set."""
    (x, y), _ = small_mnist
    _, (x_test, y_test) = data.load("mnist", binarize="dynamic")
    x_binary = (np.random.default_rng(0).random(x.shape) < x).astype("float32")
    return (x_binary, y), (x_test[:256], y_test[:256])


@pytest.fixture(scope="module")
def trained_vae(binary_mnist):
    """vae_binarized after 2 epochs on 1024 binarised images, and the same model untrained."""
    (x, y), _ = binary_mnist
    keras.utils.set_random_seed(0)
    untrained, model = build("vae_binarized", seed=1), build("vae_binarized", seed=1)
    model.set_weights(untrained.get_weights())
    fit(model, x, y, epochs=2, batch_size=128, shuffle=False)
    return model, untrained


@pytest.fixture(scope="module")
def classifier(mnist):
    (x, y), _ = mnist
    return evaluate.train_classifier(x[:3000], y[:3000], epochs=2, batch_size=32, seed=0)


@pytest.fixture(scope="module")
def trained_cvae(mnist):
    (x, y), _ = mnist
    keras.utils.set_random_seed(0)
    model = zoo.get("cvae", seed=1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    fit(model, x[:4096], y[:4096], epochs=2, batch_size=64)
    return model


# --- iwae_nll: a hand computation and a known answer ---------------------------------------------------


def _dense(layer, h):
    kernel, bias = (numpy(w).astype(np.float64) for w in layer.weights)
    h = h @ kernel + bias
    return np.maximum(h, 0.0) if layer.get_config()["activation"] == "relu" else h


def _dense_layers(network):
    return [layer for layer in network.layers if isinstance(layer, keras.layers.Dense)]


def numpy_iwae_log_likelihood(model, x, labels, k, seed):
    """Burda et al.'s estimator in float64 NumPy for a dense-body VAE, with the documented noise draws."""
    one_hot = [] if labels is None else [np.eye(model.num_classes)[labels]]
    h = np.concatenate([x.reshape(len(x), -1), *one_hot], axis=1)
    for layer in _dense_layers(model.encoder)[:-2]:
        h = _dense(layer, h)
    mu, log_var = (_dense(model.encoder.get_layer(head), h) for head in ("z_mean", "z_log_var"))
    generator = evaluate._seed_generator(seed)  # the documented stream of draws
    estimates = []
    for n in range(len(x)):
        eps = numpy(keras.random.normal((k, model.latent_dim), seed=generator)).astype(np.float64)
        sigma = np.exp(0.5 * log_var[n])
        z = mu[n] + sigma * eps
        h = np.concatenate([z, *(np.repeat(o[n:n + 1], k, axis=0) for o in one_hot)], axis=1)
        for layer in _dense_layers(model.decoder):
            h = _dense(layer, h)
        pixels = x[n].reshape(-1)
        log_px_z = -np.sum(np.logaddexp(0.0, h) - pixels * h, axis=1)       # minus the BCE from logits
        log_pz = np.sum(-0.5 * z**2 - 0.5 * np.log(2 * np.pi), axis=1)
        log_qz = np.sum(-0.5 * ((z - mu[n]) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi), axis=1)
        estimates.append(np.logaddexp.reduce(log_px_z + log_pz - log_qz) - np.log(k))
    return np.array(estimates)


@pytest.mark.parametrize("conditional", [False, True])
def test_iwae_matches_a_numpy_reimplementation(conditional, binary_mnist):
    _, (x, y) = binary_mnist
    keras.utils.set_random_seed(3)
    family = ConditionalVAE if conditional else VAE
    model = family(latent_dim=3, body=DenseBody(hidden_units=(16,)))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0.0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
    x, labels = x[:5], (y[:5] if conditional else None)
    # 8 samples decoded at most 5 at a time: two chunks of 4 per image
    found = evaluate.iwae_log_likelihood(model, x, labels, k=8, seed=11, max_decodes=5)
    np.testing.assert_allclose(found, numpy_iwae_log_likelihood(model, x, labels, k=8, seed=11), rtol=1e-5)


def test_iwae_of_a_zero_model_is_784_log_2(binary_mnist):
    """All weights zero: q(z|x) is the prior and every pixel has probability 1/2, so p(x) = 2^-784 exactly."""
    _, (x, _) = binary_mnist
    model = zoo.get("vae_binarized")
    model.set_weights([np.zeros(w.shape, "float32") for w in model.get_weights()])
    for k in (1, 10):  # the shapes of the other tests, which JAX has compiled for already
        assert evaluate.iwae_nll(model, x[:64], k=k) == pytest.approx(784 * LOG_2, abs=1e-3)


# --- iwae_nll: properties of the estimator on a trained model --------------------------------------------


def test_iwae_with_one_sample_is_the_single_sample_elbo(trained_vae, binary_mnist):
    """E_q[log p(x|z) + log p(z) - log q(z|x)] is minus the ELBO whatever q: here a narrow one, KL > 20 nats."""
    trained, _ = trained_vae
    _, (x, _) = binary_mnist
    model = zoo.get("vae_binarized", seed=1)
    model.set_weights(trained.get_weights())
    model.encoder.get_layer("z_log_var").bias.assign(np.full(model.latent_dim, -3.0, "float32"))
    per_seed = np.array([evaluate.iwae_log_likelihood(model, x, k=1, seed=seed) for seed in range(4)])
    terms = evaluate.elbo(model, x, batch_size=128)
    assert terms["kl_loss"] > 20, terms
    # both are Monte-Carlo means over the same images: compare within 5 standard errors of the sampling noise
    noise = np.std(per_seed, axis=0, ddof=1).mean()
    tolerance = 5 * noise * math.sqrt(1 / per_seed.size + 1 / len(x))
    assert abs(-per_seed.mean() - terms["loss"]) < tolerance, (-per_seed.mean(), terms, tolerance)


def test_more_samples_give_a_tighter_bound(trained_vae, binary_mnist):
    model, _ = trained_vae
    _, (x, _) = binary_mnist
    one, ten = (evaluate.iwae_nll(model, x[:64], k=k, seed=0) for k in (1, 10))
    assert ten < one - 1.0, (ten, one)


def test_iwae_depends_on_the_seed_alone(trained_vae, binary_mnist):
    model, _ = trained_vae
    _, (x, _) = binary_mnist
    x = x[:64]
    reference = evaluate.iwae_log_likelihood(model, x, k=10, seed=5)
    np.testing.assert_array_equal(evaluate.iwae_log_likelihood(model, x, k=10, seed=5), reference)
    assert not np.allclose(evaluate.iwae_log_likelihood(model, x, k=10, seed=6), reference)
    assert evaluate.iwae_nll(model, x, k=10, seed=5) == pytest.approx(-reference.mean(), abs=1e-9)
    # two chunks of 5 samples of one image; then 2 images at a time, encoded 16 at a time
    for max_decodes, batch_size in ((5, 500), (20, 16)):
        found = evaluate.iwae_log_likelihood(model, x, k=10, seed=5, max_decodes=max_decodes, batch_size=batch_size)
        np.testing.assert_allclose(found, reference, atol=1e-4)
    # the first images get the same draws whatever follows them
    np.testing.assert_allclose(evaluate.iwae_log_likelihood(model, x[:16], k=10, seed=5, max_decodes=20),
                               reference[:16], atol=1e-4)


def test_training_lowers_the_nll_far_below_the_untrained_one(trained_vae, binary_mnist):
    model, untrained = trained_vae
    _, (x, _) = binary_mnist
    before, after = (evaluate.iwae_nll(m, x[:64], k=10) for m in (untrained, model))
    assert abs(before - 784 * LOG_2) < 15, before  # logits near 0 at init: every pixel about 1/2
    assert after < 0.6 * before, (after, before)


def test_iwae_refuses_what_it_cannot_measure(binary_mnist, small_mnist):
    _, (x, _) = binary_mnist
    _, (grey, _) = small_mnist
    with pytest.raises(ValueError, match="no posterior"):
        evaluate.iwae_nll(zoo.get("ae"), x[:2], k=2)
    assert zoo.entry("conv_vae_bn").config["likelihood"] == "gaussian"  # refused like this dense one
    with pytest.raises(ValueError, match="gaussian"):
        evaluate.iwae_nll(zoo.get("vae", likelihood="gaussian"), x[:2], k=2)
    with pytest.raises(ValueError, match="binarize='dynamic'"):
        evaluate.iwae_nll(zoo.get("vae"), grey[:2], k=2)
    with pytest.raises(ValueError, match="needs labels"):
        evaluate.iwae_nll(zoo.get("cvae"), x[:2], k=2)
    with pytest.raises(ValueError, match="k must be a positive int"):
        evaluate.iwae_nll(zoo.get("vae"), x[:2], k=0)


# --- elbo and reconstruction_error -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ae", "vae", "cvae"])
def test_elbo_reports_the_models_own_terms(name, small_mnist):
    _, (x, y) = small_mnist
    model = zoo.get(name)  # uncompiled: elbo compiles it
    terms = evaluate.elbo(model, x[:64], y[:64] if model.num_classes else None, batch_size=32)
    assert set(terms) == set(model.loss_terms) and all(isinstance(v, float) for v in terms.values())
    if "kl_loss" in terms:
        assert terms["kl_loss"] > 0
        assert terms["loss"] == pytest.approx(terms["reconstruction_loss"] + terms["kl_loss"], rel=1e-4)
    else:
        assert terms["loss"] == pytest.approx(terms["reconstruction_loss"])


@pytest.mark.parametrize("name", ["ae", "vae", "cvae"])
def test_reconstruction_error_matches_numpy(name, small_mnist):
    _, (x, y) = small_mnist
    model = zoo.get(name)
    x, labels = x[:50], (y[:50] if model.num_classes else None)
    reconstructions = numpy(model.reconstruct(x, labels=labels))
    found = evaluate.reconstruction_error(model, x, labels, batch_size=16)
    assert found["pixel_mse"] == pytest.approx(np.mean((reconstructions - x) ** 2), rel=1e-5)
    assert found["pixel_mae"] == pytest.approx(np.mean(np.abs(reconstructions - x)), rel=1e-5)


def test_training_lowers_the_reconstruction_error(trained_vae, binary_mnist):
    model, untrained = trained_vae
    _, (x, _) = binary_mnist
    before, after = (evaluate.reconstruction_error(m, x)["pixel_mse"] for m in (untrained, model))
    assert after < 0.5 * before, (after, before)


# --- class accuracy ---------------------------------------------------------------------------------------


def test_classifier_learns_mnist(classifier, mnist):
    _, (x_test, y_test) = mnist
    assert classifier.evaluate(x_test[:2000], y_test[:2000], verbose=0, return_dict=True)["accuracy"] > 0.9


def test_class_accuracy_counts_samples_of_the_asked_class(trained_cvae, classifier):
    found = evaluate.class_accuracy(trained_cvae, classifier, per_class=30, seed=4, batch_size=30)
    generator, correct = evaluate._seed_generator(4), 0
    for label in range(10):
        samples = numpy(trained_cvae.sample(30, seed=generator, labels=label))
        correct += np.sum(np.argmax(numpy(classifier(samples)), axis=-1) == label)
    assert found == correct / 300
    assert 0.3 < found <= 1.0  # chance is 0.1: the trained CVAE draws the asked digit
    again = evaluate.class_accuracy(trained_cvae, classifier, per_class=30, seed=4, batch_size=7)
    assert 0.0 <= again <= 1.0 and abs(again - found) < 0.2


def test_class_accuracy_needs_a_conditional_model(classifier):
    with pytest.raises(ValueError, match="unconditional"):
        evaluate.class_accuracy(zoo.get("vae"), classifier, per_class=2)


# --- report -----------------------------------------------------------------------------------------------

BASE_KEYS = {"model", "dataset", "test_images", "backend", "test_elbo", "reconstruction_error", "seconds"}


@pytest.mark.parametrize("name, overrides, parts", [
    ("ae", {}, set()),
    ("vae", {"likelihood": "gaussian"}, set()),  # as conv_vae_bn, whose likelihood is gaussian
    ("vae_binarized", {}, {"iwae_nll"}),
    ("cvae", {}, {"iwae_nll", "class_accuracy"}),
])
def test_report_has_the_parts_that_apply(name, overrides, parts, classifier):
    model = zoo.get(name, **overrides)
    card = evaluate.report(model, k=3, limit=20, classifier=classifier, per_class=3)
    assert set(card) == BASE_KEYS | parts
    assert set(card["seconds"]) == {"test_elbo", "reconstruction_error"} | parts
    assert card["test_images"] == 20 and card["dataset"] == "mnist"
    assert card["backend"] == keras.config.backend()
    assert set(card["test_elbo"]) == set(model.loss_terms)
    if "iwae_nll" in parts:
        assert card["iwae_nll"]["k"] == 3 and card["iwae_nll"]["binarization"] == evaluate.BINARIZATION
        assert card["iwae_nll"]["estimates"] == ("-log p(x|y)" if model.num_classes else "-log p(x)")
        assert np.isfinite(card["iwae_nll"]["nll"])
    if "class_accuracy" in parts:
        assert 0.0 <= card["class_accuracy"]["accuracy"] <= 1.0
        assert card["class_accuracy"]["classifier_test_accuracy"] > 0.8
    assert json.loads(json.dumps(card)) == card


def test_report_trains_its_classifier_on_the_training_set(classifier, monkeypatch):
    calls = []

    def train(images, labels, epochs, seed):
        calls.append((len(images), len(labels), epochs, seed))
        return classifier

    monkeypatch.setattr(evaluate, "train_classifier", train)
    card = evaluate.report(zoo.get("cvae"), k=3, limit=20, seed=2, classifier_epochs=1, per_class=3)
    assert calls == [(60000, 60000, 1, 2)]
    assert card["class_accuracy"]["classifier_epochs"] == 1 and card["class_accuracy"]["per_class"] == 3
