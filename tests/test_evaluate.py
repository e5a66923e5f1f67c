"""keras_vae.evaluate on real MNIST, under the active Keras backend: small models, few images, small k."""

import json
import math

import keras
import numpy as np
import pytest

from keras_vae import Autoencoder, ConditionalVAE, DenseBody, VAE, data, evaluate, zoo
from harness import build, fit, narrow_posterior, numpy, numpy_encode, numpy_logits, numpy_loss_terms

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
def trained_cvae(mnist):
    (x, y), _ = mnist
    keras.utils.set_random_seed(0)
    model = zoo.get("cvae", seed=1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    fit(model, x[:4096], y[:4096], epochs=2, batch_size=64)
    return model


# --- iwae_nll: a hand computation -----------------------------------------------------------------------


def numpy_iwae_log_likelihood(model, x, labels, k, seed):
    """Burda et al.'s estimator in float64 NumPy for a dense-body VAE, with the documented noise draws."""
    mu, log_var = numpy_encode(model, x, labels)
    generator = evaluate._seed_generator(seed)  # the documented stream of draws
    estimates = []
    for n in range(len(x)):
        eps = numpy(keras.random.normal((k, model.latent_dim), seed=generator)).astype(np.float64)
        sigma = np.exp(0.5 * log_var[n])
        z = mu[n] + sigma * eps
        logits = numpy_logits(model, z, None if labels is None else np.repeat(labels[n], k))
        pixels = x[n].reshape(-1)
        log_px_z = -np.sum(np.logaddexp(0.0, logits) - pixels * logits, axis=1)  # minus the BCE from logits
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
    # two chunks of 5 samples of one image; then 2 images at a time
    for max_decodes in (5, 20):
        found = evaluate.iwae_log_likelihood(model, x, k=10, seed=5, max_decodes=max_decodes)
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


@pytest.mark.parametrize("family", [Autoencoder, ConditionalVAE])
def test_elbo_is_the_mean_of_the_loss_terms_over_the_images(family, small_mnist):
    """Four batches of 16: the mean over 64 images of the terms NumPy computes in float64 (harness.py)."""
    _, (x, y) = small_mnist
    model = family(latent_dim=3, body=DenseBody(hidden_units=(32,)))  # uncompiled: elbo compiles it
    narrow_posterior(model, seed=5)
    x, labels = x[:64], (y[:64] if model.num_classes else None)
    terms = evaluate.elbo(model, x, labels, batch_size=16)
    assert all(type(value) is float for value in terms.values())
    assert terms == pytest.approx(numpy_loss_terms(model, x, labels), rel=1e-5)


@pytest.mark.parametrize("name", ["ae", "cvae"])
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


def test_classifier_learns_mnist(digit_classifier, mnist):
    _, (x_test, y_test) = mnist
    assert digit_classifier.evaluate(x_test[:2000], y_test[:2000], verbose=0, return_dict=True)["accuracy"] > 0.9


class GreyDigits:
    """A stand-in conditional model: its samples of class c are images of grey level c / 10. It records its calls."""

    num_classes = 10

    def __init__(self):
        self.calls = []

    def sample(self, n, seed=None, labels=None):
        self.calls.append((n, labels))
        return np.full((n, 28, 28, 1), labels / 10, "float32")


def grey_reader(misread=()):
    """A stand-in classifier: the class of an image is its grey level times 10, but it calls the classes in
    `misread` the next class."""
    def classify(images, training=False):
        classes = np.rint(np.asarray(images)[:, 0, 0, 0] * 10).astype(int)
        classes = np.where(np.isin(classes, misread), (classes + 1) % 10, classes)
        return np.eye(10)[classes]
    return classify


def test_class_accuracy_is_the_share_of_samples_classified_as_asked():
    model = GreyDigits()
    assert evaluate.class_accuracy(model, grey_reader(), per_class=7, batch_size=3) == 1.0
    assert model.calls == [(n, label) for label in range(10) for n in (3, 3, 1)]  # 7 a class, at most 3 a call
    assert evaluate.class_accuracy(GreyDigits(), grey_reader(misread=[3]), per_class=7, batch_size=3) == 0.9
    assert evaluate.class_accuracy(GreyDigits(), grey_reader(misread=[0, 5, 9]), per_class=4) == 0.7


def test_a_trained_cvae_draws_the_digit_asked_for(trained_cvae, digit_classifier):
    """An untrained CVAE's samples all look alike: the classifier calls them one digit, 0.1 of them right on every
    backend. Trained, 0.34 to 0.51 of them are the digit asked for."""
    found = evaluate.class_accuracy(trained_cvae, digit_classifier, per_class=30, seed=4, batch_size=30)
    assert found > 0.2
    assert evaluate.class_accuracy(trained_cvae, digit_classifier, per_class=30, seed=4, batch_size=30) == found


class GreyCycle:
    """A stand-in unconditional model: its i-th sample (counting over calls) has the grey level levels[i % len]."""

    num_classes = 0

    def __init__(self, levels):
        self.levels, self.drawn = levels, 0

    def sample(self, n, seed=None):
        greys = [self.levels[(self.drawn + i) % len(self.levels)] for i in range(n)]
        self.drawn += n
        return np.asarray(greys, "float32")[:, None, None, None] * np.ones((1, 28, 28, 1), "float32")


def grey_confidence(images, training=False):
    """A stand-in classifier whose confidence in class 0 is an image's grey level."""
    grey = np.asarray(images)[:, 0, 0, 0]
    return np.stack([grey, 1 - grey, *[np.zeros_like(grey)] * 8], axis=1)


def test_recognised_share_counts_the_samples_called_with_confidence():
    levels = [0.95, 0.92, 0.7, 0.2, 0.85]  # 0.2 is class 1 with probability 0.8
    assert evaluate.recognised_share(GreyCycle(levels), grey_confidence, n=13, batch_size=5) == 6 / 13
    assert evaluate.recognised_share(GreyCycle(levels), grey_confidence, n=10, threshold=0.75) == 0.8
    with pytest.raises(ValueError, match="threshold"):
        evaluate.recognised_share(GreyCycle(levels), grey_confidence, threshold=1.5)


def test_class_accuracy_needs_a_conditional_model():
    with pytest.raises(ValueError, match="unconditional"):
        evaluate.class_accuracy(zoo.get("vae"), grey_reader(), per_class=2)


# --- report -----------------------------------------------------------------------------------------------

BASE_KEYS = {"model", "dataset", "test_images", "backend", "test_elbo", "reconstruction_error", "seconds"}


def calls_everything(digit):
    """A stand-in classifier that calls every image `digit`."""
    return lambda images, training=False: np.eye(10)[np.full(np.shape(images)[0], digit)]


@pytest.mark.parametrize("name, overrides, parts", [
    ("ae", {}, set()),
    ("vae", {"likelihood": "gaussian"}, set()),  # as conv_vae_bn, whose likelihood is gaussian
    ("vae_binarized", {}, {"iwae_nll"}),
    ("cvae", {}, {"iwae_nll", "class_accuracy"}),
])
def test_report_of_a_zero_model_holds_the_closed_form_numbers(name, overrides, parts, mnist):
    """All weights zero: q(z|x) is the prior and every pixel has probability 1/2 whatever the image, so the
    reconstruction term is 784 log 2 (or the squared error of 1/2), the KL term 0 and p(x) = 2^-784 exactly."""
    _, (x_test, y_test) = mnist
    x, y = x_test[:20], y_test[:20]
    model = zoo.get(name, **overrides)
    model.set_weights([np.zeros(w.shape, "float32") for w in model.get_weights()])
    card = evaluate.report(model, k=3, limit=20, classifier=calls_everything(0), per_class=3)
    assert set(card) == BASE_KEYS | parts
    assert set(card["seconds"]) == {"test_elbo", "reconstruction_error"} | parts
    assert (card["test_images"], card["dataset"], card["backend"]) == (20, "mnist", keras.config.backend())
    half = 784 * LOG_2 if model.likelihood == "bernoulli" else np.mean(np.sum((0.5 - x) ** 2, axis=(1, 2, 3)))
    assert card["test_elbo"] == pytest.approx({"loss": half, "reconstruction_loss": half,
                                               **({} if name == "ae" else {"kl_loss": 0.0})}, rel=1e-5, abs=1e-6)
    assert card["reconstruction_error"] == pytest.approx(
        {"pixel_mse": np.mean((0.5 - x) ** 2), "pixel_mae": np.mean(np.abs(0.5 - x))}, rel=1e-5)
    if "iwae_nll" in parts:
        assert card["iwae_nll"] == {"nll": pytest.approx(784 * LOG_2, abs=1e-3), "k": 3, "seed": 0,
                                    "estimates": "-log p(x|y)" if model.num_classes else "-log p(x)",
                                    "binarization": evaluate.BINARIZATION}
    if "class_accuracy" in parts:  # only the samples of class 0 are called right
        assert card["class_accuracy"] == {"accuracy": 0.1, "per_class": 3, "classifier_epochs": None,
                                          "classifier_images": None, "classifier_test_accuracy": np.mean(y == 0)}
    assert json.loads(json.dumps(card)) == card


@pytest.mark.backend_independent  # the model's part is the test above's; the scores are NumPy and scikit-learn
def test_report_of_a_collapsed_dsprites_model_scores_nothing_disentangled():
    """All weights zero on dSprites: every image gets the prior and probability 1/2 per pixel, so the ELBO is
    4096 log 2 and every code is the same; MIG, the FactorVAE score (no active code) and DCI's D and C are 0."""
    model = zoo.get("vae", image_shape=(64, 64, 1))
    model.set_weights([np.zeros(w.shape, "float32") for w in model.get_weights()])
    card = evaluate.report(model, dataset="dsprites", limit=20)
    assert set(card) == BASE_KEYS | {"disentanglement"} and card["test_images"] == 20
    assert card["test_elbo"] == pytest.approx({"loss": 4096 * LOG_2, "reconstruction_loss": 4096 * LOG_2,
                                               "kl_loss": 0.0}, rel=1e-5, abs=1e-6)
    scores = card["disentanglement"]
    assert (scores["points"], scores["test_points"], scores["active_codes"]) == (20, 10, 0)
    assert [scores[key] for key in ("mig", "factor_vae_score", "disentanglement", "completeness")] == pytest.approx(
        [0, 0, 0, 0], abs=1e-12)


def test_report_of_a_zero_vq_vae_holds_the_closed_form_numbers(mnist):
    """All weights zero: every grid vector and every code is 0, so all 49 positions take code 0 (the first of equal
    distances; 1 of 256 codes used, perplexity 1), every pixel has probability 1/2, and the prior's logits are
    equal: 8 bits per code. A classifier certain of every image recognises every sample."""
    _, (x_test, _) = mnist
    model = zoo.get("vq_vae", prior={"filters": 8, "num_layers": 2})
    model.set_weights([np.zeros(w.shape, "float32") for w in model.get_weights()])
    card = evaluate.report(model, limit=20, classifier=calls_everything(3))
    assert set(card) == BASE_KEYS | {"codebook", "prior", "recognised_samples"}
    half = 784 * LOG_2
    assert card["test_elbo"] == pytest.approx({"loss": half, "reconstruction_loss": half, "vq_loss": 0.0,
                                               "perplexity": 1.0, "codebook_usage": 1 / 256}, rel=1e-5, abs=1e-6)
    assert card["codebook"] == {"codes_used": 1 / 256, "perplexity": pytest.approx(1.0), "num_codes": 256}
    assert card["prior"] == pytest.approx({"bits_per_code": 8.0, "nats_per_image": 49 * math.log(256)}, rel=1e-5)
    assert card["recognised_samples"] == {"share": 1.0, "samples": 1000, "threshold": 0.9, "classifier_epochs": None,
                                          "classifier_images": None, "seed": 0}
    assert json.loads(json.dumps(card)) == card


def test_report_trains_its_classifier_on_the_training_set(monkeypatch):
    calls = []

    def train(images, labels, epochs, seed):
        calls.append((len(images), len(labels), epochs, seed))
        return calls_everything(0)

    monkeypatch.setattr(evaluate, "train_classifier", train)
    card = evaluate.report(zoo.get("cvae"), k=3, limit=20, seed=2, classifier_epochs=1, per_class=3)
    assert calls == [(60000, 60000, 1, 2)]
    assert card["class_accuracy"]["classifier_epochs"] == 1 and card["class_accuracy"]["per_class"] == 3
    assert card["class_accuracy"]["classifier_images"] == 60000
