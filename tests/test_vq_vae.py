"""The VQ-VAE family and its gated PixelCNN prior: what is their own (the zoo-wide checks are in test_models.py).

Expectations are computed with NumPy from the layers' inputs and variables: nearest codes by float64 distances,
the moving averages of van den Oord et al. (2017, appendix A.1), restarts that put codes on the batch's vectors,
a prior whose logits at each position ignore the codes that come later in raster order.
"""

import keras
import numpy as np
import pytest

from keras_vae.models import GatedPixelCNN, VQVAE
from harness import numpy

SMALL_PRIOR = {"filters": 8, "num_layers": 2}


def small_vq_vae(**kwargs):
    return VQVAE(**{"num_codes": 16, "code_dim": 4, "prior": SMALL_PRIOR, "seed": 0, **kwargs})


def distinct_codebook(model, seed=0):
    """Codebook vectors of the scale of the untrained encoder's outputs, so that every image uses several."""
    codebook = np.random.default_rng(seed).normal(0.0, 0.05, (model.num_codes, model.code_dim)).astype("float32")
    model.quantizer.codebook.assign(codebook)
    return codebook


def nearest(z, codebook):
    """Each vector's nearest code, by float64 squared distances."""
    flat = np.asarray(z, np.float64).reshape(-1, codebook.shape[1])
    distances = ((flat[:, None, :] - codebook[None].astype(np.float64)) ** 2).sum(-1)
    return distances.argmin(axis=1).reshape(np.shape(z)[:-1])


def one_step(model, x, **compile_args):
    """One training step on the whole batch `x` with weights left unchanged (SGD at rate 0)."""
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), **compile_args)
    return model.fit(x, epochs=1, batch_size=len(x), shuffle=False, verbose=0).history


def test_codes_are_the_nearest_codebook_vectors_and_decode_from_them(small_mnist):
    (x, _), _ = small_mnist
    model = small_vq_vae()
    codebook = distinct_codebook(model)
    z = numpy(model.encoder(x[:32]))
    codes = numpy(model.encode(x[:32]))
    assert codes.shape == (32, 7, 7) and codes.dtype == np.int32
    np.testing.assert_array_equal(codes, nearest(z, codebook))
    assert len(np.unique(codes)) > 1
    decoded = numpy(model.decode(codes))
    expected = 1 / (1 + np.exp(-numpy(model.decoder(codebook[codes]))))
    np.testing.assert_allclose(decoded, expected, atol=1e-6)


def test_loss_terms_and_codebook_statistics_match_numpy(small_mnist):
    """vq_loss = commitment * ||z - e||^2 (+ ||z - e||^2 for a trained codebook) summed over the grid; the
    perplexity is exp of the entropy of the batch's code frequencies; the usage the share of codes chosen."""
    (x, _), _ = small_mnist
    for ema, weight in ((True, 0.25), (False, 1.25)):
        model = small_vq_vae(ema=ema, commitment=0.25)
        model.compile(optimizer="sgd")
        codebook = distinct_codebook(model)
        z = numpy(model.encoder(x[:64])).astype(np.float64)
        codes = nearest(z, codebook)
        frequencies = np.bincount(codes.reshape(-1), minlength=16) / codes.size
        used = frequencies[frequencies > 0]
        terms = model.evaluate(x[:64], batch_size=64, verbose=0, return_dict=True)
        assert terms["vq_loss"] == pytest.approx(weight * ((z - codebook[codes]) ** 2).sum(axis=(1, 2, 3)).mean(),
                                                 rel=1e-4)
        assert terms["perplexity"] == pytest.approx(np.exp(-(used * np.log(used)).sum()), rel=1e-4)
        assert terms["codebook_usage"] == pytest.approx(len(used) / 16)
        assert terms["loss"] == pytest.approx(terms["reconstruction_loss"] + terms["vq_loss"], rel=1e-5)


def test_ema_codebook_follows_the_moving_averages(small_mnist):
    """From zero statistics, one step gives N_k = (1 - decay) n_k, m_k = (1 - decay) sum of the vectors of code k,
    and e_k = m_k / N_k, N_k Laplace-smoothed (eps 1e-5); the optimizer never touches the codebook."""
    (x, _), _ = small_mnist
    model = small_vq_vae(decay=0.9, restart_threshold=0.0)
    codebook = distinct_codebook(model)
    assert all(variable is not model.quantizer.codebook for variable in model.trainable_variables)
    z = numpy(model.encoder(x[:64])).astype(np.float64).reshape(-1, 4)
    codes = nearest(z, codebook).reshape(-1)
    counts = np.bincount(codes, minlength=16)
    sums = np.stack([z[codes == k].sum(axis=0) for k in range(16)])
    one_step(model, x[:64])
    size, total = 0.1 * counts, 0.1 * counts.sum()
    smoothed = (size + 1e-5) / (total + 16 * 1e-5) * total
    np.testing.assert_allclose(numpy(model.quantizer.cluster_size), size, rtol=1e-5)
    np.testing.assert_allclose(numpy(model.quantizer.code_sum), 0.1 * sums, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(numpy(model.quantizer.codebook), 0.1 * sums / smoothed[:, None], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("ema", [True, False], ids=["ema", "trained codebook"])
def test_codes_used_too_rarely_restart_on_the_batchs_vectors(ema, small_mnist):
    """From zero counts at decay 0.5, a code the batch chooses fewer than 2 times falls below the threshold of 1:
    it restarts on one of the batch's vectors with a count of 1; the others keep their count, 0.5 n_k."""
    (x, _), _ = small_mnist
    model = small_vq_vae(ema=ema, restart_threshold=1.0, decay=0.5)
    codebook = distinct_codebook(model)
    z = numpy(model.encoder(x[:32])).reshape(-1, 4)
    counts = np.bincount(nearest(z, codebook).reshape(-1), minlength=16)
    one_step(model, x[:32])
    dead = counts < 2
    assert dead.any() and (~dead).any()
    table, size = numpy(model.quantizer.codes_table()), numpy(model.quantizer.cluster_size)
    distance_to_batch = np.abs(table[:, None, :] - z[None]).max(axis=-1).min(axis=1)
    assert (distance_to_batch[dead] < 1e-6).all()
    np.testing.assert_array_equal(size[dead], 1.0)
    np.testing.assert_allclose(size[~dead], 0.5 * counts[~dead], rtol=1e-6)
    if not ema:  # a trained code that is not restarted stays where the optimizer (rate 0) left it
        np.testing.assert_allclose(table[~dead], codebook[~dead], atol=1e-7)


def test_the_encoder_learns_through_the_straight_through_estimator(small_mnist):
    """Without a commitment loss and with an EMA codebook, the reconstruction's gradient reaches the encoder only by
    copying the decoder's input gradient onto the encoder's output."""
    (x, _), _ = small_mnist
    model = small_vq_vae(commitment=0.0, restart_threshold=0.0)
    distinct_codebook(model)
    before = [numpy(weight) for weight in model.encoder.weights]
    prior_before = [numpy(weight) for weight in model.prior.weights]
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    model.fit(x[:32], epochs=1, batch_size=32, verbose=0)
    assert all(not np.allclose(numpy(weight), old) for weight, old in zip(model.encoder.weights, before))
    for weight, old in zip(model.prior.weights, prior_before):  # the prior is trained by its own fit
        np.testing.assert_array_equal(numpy(weight), old)


def test_the_prior_is_causal_in_raster_order_and_sees_every_earlier_code():
    """Changing the code at position q changes the logits at every later position (no blind spot) and at no
    earlier one, nor at q itself."""
    prior = GatedPixelCNN(num_codes=8, grid_shape=(4, 5), filters=8, num_layers=5)
    codes = np.random.default_rng(0).integers(0, 8, (2, 4, 5)).astype("int32")
    logits = numpy(prior(codes))
    for position in range(20):
        changed = codes.copy()
        changed[:, position // 5, position % 5] = (changed[:, position // 5, position % 5] + 1) % 8
        moved = np.abs(numpy(prior(changed)) - logits).max(axis=(0, 3)).reshape(-1)
        assert (moved[:position + 1] == 0).all(), position
        assert (moved[position + 1:] > 0).all(), position


def test_the_prior_reports_the_codes_negative_log_likelihood():
    prior = GatedPixelCNN(num_codes=8, grid_shape=(3, 3), filters=8, num_layers=2)
    prior.compile(optimizer="sgd")
    codes = np.random.default_rng(1).integers(0, 8, (16, 3, 3)).astype("int32")
    logits = numpy(prior(codes)).astype(np.float64)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_p, codes[..., None], axis=-1).sum(axis=(1, 2, 3))
    terms = prior.evaluate(codes, batch_size=16, verbose=0, return_dict=True)
    assert terms["loss"] == pytest.approx(nll.mean(), rel=1e-5)
    assert terms["bits_per_code"] == pytest.approx(nll.mean() / (9 * np.log(2)), rel=1e-5)


def test_the_prior_learns_grids_and_samples_them():
    """Grids whose codes all equal the first: 3 bits for the first code, none for the other 8 (0.33 bits per code),
    against 3 bits per code for a prior that has learnt nothing; its samples are such grids."""
    prior = GatedPixelCNN(num_codes=8, grid_shape=(3, 3), filters=16, num_layers=3)
    grids = np.repeat(np.arange(8), 64)[:, None, None] * np.ones((1, 3, 3), "int32")
    prior.compile(optimizer=keras.optimizers.Adam(1e-2))
    prior.fit(grids, epochs=30, batch_size=64, verbose=0)
    assert prior.evaluate(grids, batch_size=512, verbose=0, return_dict=True)["bits_per_code"] < 0.6
    samples = numpy(prior.sample_codes(20, seed=0))
    constant = (samples == samples[:, :1, :1]).all(axis=(1, 2))
    assert constant.mean() >= 0.9 and len(np.unique(samples[:, 0, 0])) > 1
    np.testing.assert_array_equal(samples, numpy(prior.sample_codes(20, seed=0)))


def test_sample_decodes_the_priors_codes(small_mnist):
    """A prior whose logits put all mass on code 5 makes every sample the decoded grid of fives."""
    model = small_vq_vae()
    distinct_codebook(model)
    model.prior.logits.kernel.assign(np.zeros(model.prior.logits.kernel.shape, "float32"))
    model.prior.logits.bias.assign(np.where(np.arange(16) == 5, 50.0, 0.0).astype("float32"))
    expected = numpy(model.decode(np.full((1, 7, 7), 5, "int32")))
    np.testing.assert_allclose(numpy(model.sample(3, seed=1)), np.repeat(expected, 3, axis=0), atol=1e-6)


@pytest.mark.backend_independent
def test_bad_codes_and_settings_get_clear_errors(small_mnist):
    model = small_vq_vae()
    with pytest.raises(ValueError, match=r"integer grids of shape \(n, 7, 7\)"):
        model.decode(np.zeros((2, 8, 8), "int32"))
    with pytest.raises(ValueError, match=r"must lie in \[0, 16\), got values from 16 to 16"):
        model.decode(np.full((2, 7, 7), 16))
    with pytest.raises(ValueError, match="integer grids"):
        model.prior.fit(np.zeros((4, 7, 7), "float32"), verbose=0)
    with pytest.raises(ValueError, match="unconditional"):
        model.sample(2, labels=3)
    with pytest.raises(ValueError, match="grid latent"):
        VQVAE(body="conv")
    with pytest.raises(ValueError, match="decay"):
        VQVAE(decay=1.0)
    with pytest.raises(ValueError, match="odd kernel sizes"):
        GatedPixelCNN(kernel_size=4)
