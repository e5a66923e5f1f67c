"""The hierarchical VAE's own parts against quadrature over its two 1-d stochastic layers (tests/quadrature.py):
evaluate's IWAE bound and the mean of its samples; its API on real MNIST. Its training bound: tests/test_iwae.py."""

import keras
import numpy as np
import pytest

from keras_vae import evaluate
from keras_vae.models import HierarchicalVAE
from quadrature import IMAGES, hvae_quadrature, tiny_hvae


def test_evaluates_iwae_bound_and_samples_follow_the_prior():
    model = tiny_hvae()
    log_px, _, mean_sample = hvae_quadrature(model)
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
