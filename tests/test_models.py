"""Every zoo model, under the active Keras backend (run the suite once per backend: see README)."""

import keras
import numpy as np
import pytest

from keras_vae import zoo
from keras_vae.models import VAE, Autoencoder, ConditionalVAE, DenseBody
from harness import (build, check_api_shapes, check_sample, constant_decoder, fit, labels_of, narrow_posterior, numpy,
                     numpy_loss_terms, one_per_architecture, small_batch_norm_vae)

MODELS = one_per_architecture()

# --- each model's config, written out by hand: every constructor argument with its value ------------------------

FLOAT32 = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}


def dense(hidden_units, activation="relu"):
    return {"module": "keras_vae.models.bodies", "class_name": "DenseBody", "registered_name": "keras_vae>DenseBody",
            "config": {"hidden_units": hidden_units, "activation": activation}}


def conv(filters, kernel_size, dense_units, batch_norm, pad_to, activation, grid=False):
    return {"module": "keras_vae.models.bodies", "class_name": "ConvBody", "registered_name": "keras_vae>ConvBody",
            "config": {"filters": filters, "kernel_size": kernel_size, "dense_units": dense_units,
                       "batch_norm": batch_norm, "pad_to": pad_to, "activation": activation, "grid": grid}}


TUTORIAL_CONV = conv((32, 64), 3, 16, False, None, "relu")
MNIST = {"image_shape": (28, 28, 1), "name": None, "trainable": True, "dtype": FLOAT32}  # "name": the entry's

# name -> (class, its config, its number of weights (kernels and biases, batch norm's four vectors), counted by hand)
EXPECTED = {
    "ae": ("Autoencoder",
           {**MNIST, "latent_dim": 2, "body": dense((128, 16)), "likelihood": "bernoulli"},
           (784 * 128 + 128) + (128 * 16 + 16) + (16 * 2 + 2)  # encoder 784-128-16-2
           + (2 * 16 + 16) + (16 * 128 + 128) + (128 * 784 + 784)),  # decoder 2-16-128-784
    "vae": ("VAE",
            {**MNIST, "latent_dim": 2, "body": dense((128, 16)), "likelihood": "bernoulli", "beta": 1.0,
             "seed": None},
            (784 * 128 + 128) + (128 * 16 + 16) + 2 * (16 * 2 + 2)  # the heads z_mean and z_log_var
            + (2 * 16 + 16) + (16 * 128 + 128) + (128 * 784 + 784)),
    "vae_binarized": ("VAE",
                      {**MNIST, "latent_dim": 32, "body": dense((512, 256)), "likelihood": "bernoulli", "beta": 1.0,
                       "seed": None},
                      (784 * 512 + 512) + (512 * 256 + 256) + 2 * (256 * 32 + 32)
                      + (32 * 256 + 256) + (256 * 512 + 512) + (512 * 784 + 784)),
    "iwae": ("IWAE",
             {**MNIST, "latent_dim": 50, "body": dense((512, 256)), "likelihood": "bernoulli", "beta": 1.0,
              "seed": None, "k": 10, "groups": 1},
             (784 * 512 + 512) + (512 * 256 + 256) + 2 * (256 * 50 + 50)
             + (50 * 256 + 256) + (256 * 512 + 512) + (512 * 784 + 784)),
    "cvae": ("ConditionalVAE",
             {**MNIST, "latent_dim": 2, "body": dense((128, 16)), "likelihood": "bernoulli", "beta": 1.0,
              "seed": None, "num_classes": 10},
             ((784 + 10) * 128 + 128) + (128 * 16 + 16) + 2 * (16 * 2 + 2)  # the one-hot label joins the image
             + ((2 + 10) * 16 + 16) + (16 * 128 + 128) + (128 * 784 + 784)),  # and the latent
    "conv_vae": ("ConvVAE",
                 {**MNIST, "latent_dim": 2, "body": TUTORIAL_CONV, "likelihood": "bernoulli", "beta": 1.0,
                  "seed": None},
                 (9 * 1 * 32 + 32) + (9 * 32 * 64 + 64) + (7 * 7 * 64 * 16 + 16) + 2 * (16 * 2 + 2)
                 + (2 * 7 * 7 * 64 + 7 * 7 * 64) + (9 * 64 * 64 + 64) + (9 * 64 * 32 + 32) + (9 * 32 * 1 + 1)),
    "beta_vae": ("BetaVAE",
                 {**MNIST, "latent_dim": 2, "body": TUTORIAL_CONV, "likelihood": "bernoulli", "beta": 4.0,
                  "seed": None},
                 (9 * 1 * 32 + 32) + (9 * 32 * 64 + 64) + (7 * 7 * 64 * 16 + 16) + 2 * (16 * 2 + 2)
                 + (2 * 7 * 7 * 64 + 7 * 7 * 64) + (9 * 64 * 64 + 64) + (9 * 64 * 32 + 32) + (9 * 32 * 1 + 1)),
    "conv_vae_bn": ("ConvVAE",
                    {**MNIST, "latent_dim": 128, "body": conv((16, 32, 64), 4, None, True, 32, "leaky_relu"),
                     "likelihood": "gaussian", "beta": 0.1, "seed": None},
                    # unbiased 4x4 convolutions, each followed by batch norm; heads: 4x4 convolutions over 4x4x64
                    (16 * 1 * 16 + 4 * 16) + (16 * 16 * 32 + 4 * 32) + (16 * 32 * 64 + 4 * 64)
                    + 2 * (16 * 64 * 128 + 128)
                    + (16 * 128 * 64 + 4 * 64) + (16 * 64 * 64 + 4 * 64) + (16 * 64 * 32 + 4 * 32)
                    + (16 * 32 * 16 + 4 * 16) + (16 * 16 * 1 + 1)),
    "vq_vae": ("VQVAE",
               {**MNIST, "code_dim": 16, "body": conv((32, 64), 4, None, False, None, "relu", grid=True),
                "likelihood": "bernoulli", "num_codes": 256, "commitment": 0.25, "ema": True, "decay": 0.99,
                "restart_threshold": 1.0, "prior": {}, "seed": None},
               # encoder: 4x4 stride-2 convolutions 1->32->64, a 1x1 convolution to 16 channels (the 7x7 grid)
               (16 * 1 * 32 + 32) + (16 * 32 * 64 + 64) + (64 * 16 + 16)
               # decoder: 3x3 convolution 16->64, 4x4 stride-2 transposed convolutions 64->64->32, 4x4 32->1
               + (9 * 16 * 64 + 64) + (16 * 64 * 64 + 64) + (16 * 64 * 32 + 32) + (16 * 32 * 1 + 1)
               # quantizer: the codebook, the codes' moving-average counts and vector sums
               + 256 * 16 + 256 + 256 * 16
               # prior: embedding 256x32; 6 gated layers of a 3x3 vertical and a 1x3 horizontal convolution 32->64,
               # a 1x1 convolution 64->64 from the vertical stack and a 1x1 convolution 32->32; 1x1 32->32 and 32->256
               + 256 * 32 + 6 * ((9 * 32 * 64 + 64) + (3 * 32 * 64 + 64) + (64 * 64 + 64) + (32 * 32 + 32))
               + (32 * 32 + 32) + (32 * 256 + 256)),
}

#: the terms each model's fit reports
VQ_TERMS = ["codebook_usage", "loss", "perplexity", "reconstruction_loss", "vq_loss"]


def test_every_architecture_has_its_expected_config():
    assert sorted(EXPECTED) == MODELS


@pytest.mark.parametrize("name", MODELS)
def test_config_holds_every_constructor_argument(name):
    class_name, config, weights = EXPECTED[name]
    config = {**config, "name": name}
    entry = zoo.entry(name)
    model = entry.model_class(**entry.config, name=name)
    assert type(model).__name__ == class_name
    assert model.get_config() == config
    assert model.count_params() == weights
    clone = type(model).from_config(config)
    assert clone.get_config() == config and clone.count_params() == weights


# --- each model trains, and round trips through a .keras file ---------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_trains_on_real_mnist_and_round_trips_through_keras_file(name, small_mnist, tmp_path):
    (x, y), (x_test, y_test) = small_mnist
    seeded = {} if name == "ae" else {"seed": 1}
    model = build(name, learning_rate=3e-3, **seeded)
    # 2 epochs of 8 batches: the second epoch's mean loss was at most 0.65 of the first's, for every model and backend
    losses = fit(model, x[:256], y[:256], epochs=2, batch_size=32, shuffle=False).history
    assert sorted(losses) == {"ae": ["loss", "reconstruction_loss"], "vq_vae": VQ_TERMS}.get(
        name, ["kl_loss", "loss", "reconstruction_loss"])
    assert losses["loss"][1] < 0.8 * losses["loss"][0], f"{name} did not learn: epoch losses {losses['loss']}"

    check_api_shapes(model, x_test[:16], y_test[:16])

    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    assert loaded.get_config() == {**EXPECTED[name][1], "name": model.name, **seeded}
    labels = labels_of(model, y_test[:16])
    code = numpy(model.code(x_test[:16], **labels))
    np.testing.assert_allclose(numpy(loaded.code(x_test[:16], **labels)), code, atol=1e-6)
    np.testing.assert_allclose(numpy(loaded.decode(code, **labels)), numpy(model.decode(code, **labels)), atol=1e-6)


# --- the loss terms, against a float64 NumPy computation ----------------------------------------------------------


@pytest.mark.parametrize("family, kwargs", [
    pytest.param(VAE, {}, id="vae"),
    pytest.param(VAE, {"likelihood": "gaussian", "beta": 0.1}, id="gaussian beta 0.1"),  # conv_vae_bn's terms
    pytest.param(ConditionalVAE, {"beta": 4.0}, id="cvae beta 4"),
    pytest.param(Autoencoder, {}, id="ae"),
])
def test_loss_terms_match_a_numpy_computation(family, kwargs, small_mnist):
    """Evaluating and training steps report the loss terms that NumPy computes in float64 from the weights, under
    weights that make the sampler's noise irrelevant: a posterior of log-variance about -28 (z is z_mean), then
    a decoder whose logits do not depend on z (any log-variance)."""
    (x, y), _ = small_mnist
    x, labels = x[:64], (y[:64] if family is ConditionalVAE else None)
    model = family(latent_dim=3, body=DenseBody(hidden_units=(32,)), **kwargs)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))  # a training step that leaves the weights
    for set_weights in (narrow_posterior, constant_decoder):
        set_weights(model, seed=3)
        expected = numpy_loss_terms(model, x, labels)
        evaluated = model.evaluate(x, labels, batch_size=64, verbose=0, return_dict=True)
        trained = fit(model, x, labels, epochs=1, batch_size=64, shuffle=False).history
        assert sorted(evaluated) == sorted(trained) == sorted(expected)
        for term, value in expected.items():
            assert evaluated[term] == pytest.approx(value, rel=1e-5), (set_weights.__name__, term)
            assert trained[term] == [pytest.approx(value, rel=1e-5)], (set_weights.__name__, term)
        if "kl_loss" in expected:  # the KL term moves the loss by 100 times the tolerance at least
            assert model.beta * expected["kl_loss"] > 1e-3 * expected["loss"]


# --- sampling, determinism, batch norm, mixed precision ----------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in MODELS if n != "ae"])
def test_sampling_is_seeded(name, small_mnist):
    (_, y), _ = small_mnist
    check_sample(zoo.get(name), y)


def test_training_is_deterministic_for_a_seed(small_mnist):
    (x, _), _ = small_mnist

    def run():
        keras.utils.set_random_seed(7)
        model = small_batch_norm_vae(seed=7)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        losses = fit(model, x[:128], None, epochs=2, batch_size=64, shuffle=False).history["loss"]
        return losses, numpy(model.sample(4, seed=0))

    (losses, samples), (losses_again, samples_again) = run(), run()
    np.testing.assert_allclose(losses, losses_again, rtol=1e-5)
    np.testing.assert_allclose(samples, samples_again, atol=1e-5)


def test_batch_norm_statistics_update_in_train_step(small_mnist):
    """After one step, the first BN layer's moving mean is (1 - momentum) * the batch mean, as in Keras."""
    (x, _), _ = small_mnist
    batch = x[:64]
    model = small_batch_norm_vae()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    bn = next(layer for layer in model.encoder.layers if isinstance(layer, keras.layers.BatchNormalization))
    features = keras.Model(model.encoder.inputs[0], bn.input)
    batch_mean = numpy(features(batch, training=True)).mean(axis=(0, 1, 2))
    fit(model, batch, None, epochs=1, batch_size=64, shuffle=False)
    np.testing.assert_allclose(numpy(bn.moving_mean), (1 - bn.momentum) * batch_mean, rtol=1e-3, atol=1e-6)
    assert np.all(numpy(bn.moving_variance) != 1.0)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("name", ["vae", "conv_vae"])
def test_mixed_precision_trains_with_finite_loss(name, policy, small_mnist):
    """(Which layers compute in the policy's dtype: test_keras_contract.py.)"""
    (x, y), _ = small_mnist
    keras.config.set_dtype_policy(policy)
    model = build(name)
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    # Dynamic loss scaling skips the first steps while it halves its scale from 2**15 to one where the
    # float16 gradients of a per-image summed loss (~540 nats) stop overflowing: train past that, in small
    # batches (TensorFlow's float16 convolutions on a CPU take seconds per batch of 128).
    losses = fit(model, x[:128], y[:128], epochs=3, batch_size=16).history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < 0.95 * losses[0]
    assert int(numpy(model.optimizer.iterations)) > 0
