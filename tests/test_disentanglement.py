"""MIG, the FactorVAE score and DCI on hand-made representations whose scores are known in closed form, and on a
factor-wise encoder against a random rotation of it (NumPy and scikit-learn only: no backend changes them)."""

import math
import re

import numpy as np
import pytest

from keras_vae import disentanglement

pytestmark = pytest.mark.backend_independent

SIZES = (3, 6, 10, 8)


def _drawn_factors(n, seed=0):
    return np.random.default_rng(seed).integers(0, SIZES, size=(n, len(SIZES)))


def _factorwise(factors, seed=1):
    """One code per factor: the factor's class scaled to unit spread, plus a little noise."""
    noise = np.random.default_rng(seed).normal(scale=0.01, size=factors.shape)
    return factors / np.asarray(SIZES) + noise


def _rotated(codes):
    """The codes turned by the rotation that mixes every factor into every code with equal weight (the normalised
    4 x 4 Hadamard matrix): no code tells more about a factor than another."""
    return codes @ (np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2)


def test_mig_of_a_grid_is_its_closed_form():
    # every (a, b) of a in 0..3, b in 0..1, five times: codes a, a // 2 and b. I(a; a) = H(a) = log 4,
    # I(a; a // 2) = log 2, and on a full grid b tells nothing about a: a's gap is (log 4 - log 2) / log 4 = 1/2,
    # b's is (log 2 - 0) / log 2 = 1.
    a, b = (column.ravel() for column in np.meshgrid(np.arange(4), np.arange(2), indexing="ij"))
    factors = np.tile(np.stack([a, b], 1), (5, 1))
    codes = np.stack([factors[:, 0], factors[:, 0] // 2, factors[:, 1]], 1).astype(float)
    score = disentanglement.mig(codes, factors)
    np.testing.assert_allclose(score["mutual_information"],
                               [[math.log(4), 0], [math.log(2), 0], [0, math.log(2)]], atol=1e-12)
    np.testing.assert_allclose(score["per_factor"], [0.5, 1.0])
    assert score["mig"] == pytest.approx(0.75)


def test_mig_and_dci_tell_a_factorwise_encoder_from_a_rotation_of_it():
    factors, test_factors = _drawn_factors(1000), _drawn_factors(500, seed=3)
    codes, test_codes = _factorwise(factors), _factorwise(test_factors, seed=4)
    assert disentanglement.mig(codes, factors)["mig"] > 0.95
    assert disentanglement.mig(_rotated(codes), factors)["mig"] < 0.1
    aligned = disentanglement.dci(codes, factors, test_codes, test_factors)
    assert aligned["disentanglement"] > 0.95 and aligned["completeness"] > 0.95
    assert aligned["informativeness_test"] > 0.99
    rotated = disentanglement.dci(_rotated(codes), factors, _rotated(test_codes), test_factors)
    assert rotated["disentanglement"] < 0.1 and rotated["completeness"] < 0.1


def test_dci_scores_of_an_importance_matrix_by_hand():
    # code 0 serves factor 0 alone (disentanglement 1), code 1 both equally (0); code weights 2/4 and 2/4.
    # Factor 0 spreads 2:1 over the codes: completeness 1 - H2(2/3, 1/3); factor 1 has one code (1);
    # factor weights 3/4 and 1/4.
    scores = disentanglement.dci_scores([[2.0, 0.0], [1.0, 1.0]])
    entropy = -(2 / 3 * math.log2(2 / 3) + 1 / 3 * math.log2(1 / 3))
    assert scores["disentanglement"] == pytest.approx(0.5, abs=1e-9)
    assert scores["completeness"] == pytest.approx(0.75 * (1 - entropy) + 0.25, abs=1e-9)


def _identity_images(classes):
    return classes.astype(float)


def test_factor_vae_score_of_known_encoders():
    sizes = (5, 5, 5, 5)
    votes = dict(batch_size=256, train=400, evaluate=2000, variance_estimate=4000)

    def factorwise(x):  # one code per factor, and a constant code that the score prunes
        return np.concatenate([x / 5, np.zeros((len(x), 1))], 1)

    score = disentanglement.factor_vae_score(factorwise, _identity_images, sizes, **votes)
    assert score == {"train_accuracy": 1.0, "eval_accuracy": 1.0, "active_codes": 4}

    # factors 0 and 1 share code 0: holding either fixed halves its variance, so both vote for code 0 and the
    # classifier can name only one of them; the other half of the votes (factors 2 and 3) is right: 3/4.
    def shared(x):
        return np.stack([x[:, 0] + x[:, 1], x[:, 2], x[:, 3]], 1)

    score = disentanglement.factor_vae_score(shared, _identity_images, sizes, **votes)
    assert score["eval_accuracy"] == pytest.approx(0.75, abs=0.03) and score["active_codes"] == 3

    collapsed = disentanglement.factor_vae_score(lambda x: np.zeros((len(x), 3)), _identity_images, sizes, **votes)
    assert collapsed == {"train_accuracy": 0.0, "eval_accuracy": 0.0, "active_codes": 0}


CODES, FACTORS = np.zeros((8, 3)), np.zeros((8, 2), dtype=int)


@pytest.mark.parametrize("call, message", [
    (lambda: disentanglement.mig(CODES[:, 0], FACTORS), "codes must have shape (N, num_codes)"),
    (lambda: disentanglement.mig(CODES[:5], FACTORS), "with the same N"),
    (lambda: disentanglement.mig(np.full((8, 3), np.nan), FACTORS), "NaN"),
    (lambda: disentanglement.mig(CODES, FACTORS + 0.5), "factors must be integer classes"),
    (lambda: disentanglement.mig(CODES[:, :1], FACTORS), "it needs at least 2"),
    (lambda: disentanglement.mig(np.random.rand(8, 3), FACTORS), "takes a single value"),
    (lambda: disentanglement.mig(CODES, FACTORS, bins=1), "bins must be an int >= 2"),
    (lambda: disentanglement.dci_scores([[1.0, -1.0], [0.0, 1.0]]), "non-negative"),
    (lambda: disentanglement.dci(CODES, FACTORS, CODES[:, :2], FACTORS), "training and test points differ"),
    (lambda: disentanglement.factor_vae_score(lambda x: x, _identity_images, (5,)), "at least 2"),
    (lambda: disentanglement.factor_vae_score(lambda x: x, _identity_images, (5, 0)), "each factor size"),
    (lambda: disentanglement.factor_vae_score(lambda x: x[:1], _identity_images, (5, 5)), "one code vector per"),
    (lambda: disentanglement.factor_vae_score(lambda x: x, _identity_images, (5, 5), batch_size=1), "at least 2"),
])
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_dsprites_scores_pair_each_image_with_its_own_factors():
    """Images that only hold their classes, and an encoder that reads them back: the scores see a factor-wise code
    (each code one factor) only if every image meets its own factors (codes paired with other images' factors carry
    nothing about them: MIG and DCI near 0)."""
    from keras_vae.data import dsprites

    def images_of(classes):
        return np.asarray(classes, np.float32)[:, None, None, :]

    def read_factors(batch):
        return batch.reshape(len(batch), -1) / np.asarray(dsprites.SIZES)

    scores = disentanglement.dsprites_scores(read_factors, points=400, test_points=200, images_of=images_of)
    # 400 points in 20 bins per code: some bins stay empty, so MIG stays under its limit (0.85 for 20 bins)
    assert scores["mig"] > 0.7 and scores["factor_vae_score"] == 1.0 and scores["disentanglement"] > 0.95
