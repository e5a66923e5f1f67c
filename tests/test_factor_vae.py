"""FactorVAE's one step: the total-correlation term trains the encoder and not the discriminator; the
discriminator's estimate of the total correlation against its closed form for latents of known dependence."""

import math

import keras
import numpy as np
import pytest

from keras_vae.models import DenseBody, FactorVAE

SHAPE = (1, 2, 1)


def _step(gamma, weights, x):
    model = FactorVAE(latent_dim=3, body=DenseBody(hidden_units=(32,)), gamma=gamma, discriminator_units=(16, 16),
                      seed=0)
    model.build((None, 28, 28, 1))
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(x, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return model


def test_the_total_correlation_term_trains_the_encoder_and_not_the_discriminator(small_mnist, tmp_path):
    """From the same weights and noise, one SGD step with gamma 0 and with gamma 10: gamma enters through z, so the
    encoder's update differs; the discriminator's and the decoder's do not (their gradients hold no gamma, up to the
    float32 rounding of the two discriminator passes that cancel in them)."""
    (x, _), _ = small_mnist
    start = _step(0.0, None, x[:64])
    before = {network: getattr(start, network).get_weights() for network in ("encoder", "decoder", "discriminator")}
    without, with_gamma = (_step(gamma, start.get_weights(), x[64:128]) for gamma in (0.0, 10.0))
    for network, weights in before.items():
        after = (getattr(model, network).get_weights() for model in (without, with_gamma))
        for w, a, b in zip(weights, *after):
            change, difference = np.max(np.abs(a - w)), np.max(np.abs(a - b))
            if network == "encoder":
                assert difference > 0.1 * change, (network, difference, change)
            else:
                assert difference < 1e-3 * change, (network, difference, change)
    with_gamma.save(tmp_path / "factor_vae.keras")  # the discriminator travels with the model, in safe mode
    loaded = keras.saving.load_model(tmp_path / "factor_vae.keras", safe_mode=True)
    assert loaded.get_config() == with_gamma.get_config()
    for a, b in zip(loaded.discriminator.get_weights(), with_gamma.discriminator.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def _identity_encoder_model():
    """A FactorVAE over two-pixel images whose posterior is z = x (to float32 precision), its encoder and decoder
    frozen: only the discriminator trains."""
    model = FactorVAE(latent_dim=2, body=DenseBody(hidden_units=(2,)), image_shape=SHAPE, gamma=0.0,
                      discriminator_units=(64, 64), seed=0)
    eye, zeros = np.eye(2, dtype="float32"), np.zeros(2, "float32")
    model.encoder.get_layer("z_mean").set_weights([eye, zeros])
    model.encoder.get_layer("z_log_var").set_weights([0 * eye, np.full(2, -25.0, "float32")])
    hidden = [layer for layer in model.encoder.layers if isinstance(layer, keras.layers.Dense)][0]
    hidden.set_weights([eye, zeros])  # relu(x) = x for pixels in [0, 1]
    model.encoder.trainable = model.decoder.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    return model


def test_the_discriminator_estimates_the_total_correlation():
    """x_1 ~ U[0, 0.9], x_2 = x_1 + U[0, 0.1]: I(x_1; x_2) = h(x_2) - h(x_2 | x_1) = e/2 - log e with e = 1/9, the
    noise's width on x_1's scale (h of the sum: its two linear ramps of width e add e/2 to h(U[0, 1]) = 0)."""
    rng = np.random.default_rng(0)

    def draw(n):
        first = rng.uniform(0.0, 0.9, n)
        second = first + rng.uniform(0.0, 0.1, n)
        return np.stack([first, second], 1).astype("float32").reshape(n, *SHAPE)

    model = _identity_encoder_model()
    model.fit(draw(256 * 1500), batch_size=256, epochs=1, verbose=0)
    estimate = model.evaluate(draw(20_000), batch_size=2000, verbose=0, return_dict=True)["total_correlation"]
    assert estimate == pytest.approx(1 / 18 + math.log(9), abs=0.25)
