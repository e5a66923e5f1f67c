"""Every zoo model, under the active Keras backend (run the suite once per backend: see README)."""

import keras
import numpy as np
import pytest

from keras_vae import zoo
from harness import build, check_api_shapes, check_sample, fit, labels_of, numpy

# one name per distinct architecture: entries that differ only in their training data test the same code
MODELS = sorted({(zoo.entry(name).model_class, repr(zoo.entry(name).config)): name
                 for name in reversed(zoo.list_models())}.values())


@pytest.mark.parametrize("name", MODELS)
def test_config_round_trip(name):
    model = zoo.get(name)
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]


@pytest.mark.parametrize("name", MODELS)
def test_trains_on_real_mnist_and_round_trips_through_keras_file(name, small_mnist, tmp_path):
    (x, y), (x_test, y_test) = small_mnist
    model = build(name, seed=1) if name != "ae" else build(name)
    history = fit(model, x, y, epochs=3, batch_size=128, shuffle=False).history
    assert set(history) == set(model.loss_terms)
    losses = history["loss"]
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.9 * losses[0], f"{name} did not learn: epoch losses {losses}"

    results = model.evaluate(x_test, y_test if model.num_classes else None, verbose=0, return_dict=True)
    assert set(results) == set(model.loss_terms) and np.isfinite(list(results.values())).all()
    if "kl_loss" in results:
        assert results["kl_loss"] > 0
        expected = results["reconstruction_loss"] + model.beta * results["kl_loss"]
        assert results["loss"] == pytest.approx(expected, rel=1e-3)

    check_api_shapes(model, x_test[:16], y_test[:16])

    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    labels = labels_of(model, y_test[:16])
    code = numpy(model.code(x_test[:16], **labels))
    np.testing.assert_allclose(numpy(loaded.code(x_test[:16], **labels)), code, atol=1e-6)
    np.testing.assert_allclose(numpy(loaded.decode(code, **labels)), numpy(model.decode(code, **labels)), atol=1e-6)


@pytest.mark.parametrize("name", [n for n in MODELS if n != "ae"])
def test_sampling_is_seeded(name, small_mnist):
    (_, y), _ = small_mnist
    check_sample(zoo.get(name), y)


@pytest.mark.parametrize("name", ["vae", "conv_vae_bn"])
def test_training_is_deterministic_for_a_seed(name, small_mnist):
    (x, y), _ = small_mnist

    def run():
        keras.utils.set_random_seed(7)
        model = build(name, seed=7)
        losses = fit(model, x[:512], y[:512], epochs=2, batch_size=128, shuffle=False).history["loss"]
        return losses, numpy(model.sample(4, seed=0))

    (losses, samples), (losses_again, samples_again) = run(), run()
    np.testing.assert_allclose(losses, losses_again, rtol=1e-5)
    np.testing.assert_allclose(samples, samples_again, atol=1e-5)


def test_batch_norm_statistics_update_in_train_step(small_mnist):
    """After one step, the first BN layer's moving mean is (1 - momentum) * the batch mean, as in Keras."""
    (x, _), _ = small_mnist
    batch = x[:64]
    model = build("conv_vae_bn")
    bn = next(layer for layer in model.encoder.layers if isinstance(layer, keras.layers.BatchNormalization))
    features = keras.Model(model.encoder.inputs[0], bn.input)
    batch_mean = numpy(features(batch, training=True)).mean(axis=(0, 1, 2))
    fit(model, batch, None, epochs=1, batch_size=64, shuffle=False)
    np.testing.assert_allclose(numpy(bn.moving_mean), (1 - bn.momentum) * batch_mean, rtol=1e-3, atol=1e-6)
    assert np.all(numpy(bn.moving_variance) != 1.0)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("name", ["vae", "conv_vae"])
def test_mixed_precision_trains_with_finite_loss(name, policy, small_mnist):
    (x, y), _ = small_mnist
    keras.config.set_dtype_policy(policy)
    model = build(name)
    assert model.decoder.layers[-1].compute_dtype == policy.removeprefix("mixed_")
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    # Dynamic loss scaling skips the first steps while it halves its scale from 2**15 to one where the
    # float16 gradients of a per-image summed loss (~540 nats) stop overflowing: train past that, in small
    # batches (TensorFlow's float16 convolutions on a CPU take seconds per batch of 128).
    losses = fit(model, x[:128], y[:128], epochs=3, batch_size=16).history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < 0.95 * losses[0]
    assert int(numpy(model.optimizer.iterations)) > 0
    assert numpy(model.sample(2, seed=0)).dtype != np.float64
