"""What a Keras user adds to a zoo model works as on any `keras.Model`, or is refused with a reason: the losses
that layers add, dtype policies, fit's and evaluate's arguments, compile's, and repeatable evaluations."""

import keras
import numpy as np
import pytest
from keras import ops

from harness import numpy
from keras_vae import VAE, zoo
from keras_vae.models import bodies


@pytest.fixture(scope="module")
def images(small_mnist):
    (x, _), (x_test, _) = small_mnist
    return x, x_test


def _trained(name, x, prepare=None, epochs=2, **fit):
    keras.utils.set_random_seed(0)
    model = zoo.get(name)
    if prepare:
        prepare(model)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model, model.fit(x, epochs=epochs, batch_size=128, verbose=0, **fit)


def _l2_activity(model):
    model.encoder.get_layer("z_mean").activity_regularizer = keras.regularizers.L2(10.0)


def _l2_logits_kernel(model):
    model.decoder.get_layer("logits").kernel.regularizer = keras.regularizers.L2(1.0)


@pytest.mark.parametrize("regularize, measure", [
    (_l2_activity, lambda model, x: np.abs(numpy(model.code(x))).mean()),
    (_l2_logits_kernel, lambda model, x: np.abs(numpy(model.decoder.get_layer("logits").kernel)).mean()),
], ids=["activity_regularizer", "kernel_regularizer"])
def test_a_strong_regularizer_shrinks_what_it_regularizes(images, regularize, measure):
    x, x_test = images
    plain, history = _trained("vae", x)
    regularized, regularized_history = _trained("vae", x, regularize)
    assert measure(regularized, x_test) < 0.8 * measure(plain, x_test)
    assert "layer_loss" not in history.history and min(regularized_history.history["layer_loss"]) > 0


class Penalty(keras.layers.Layer):
    """Passes its input through and adds a constant loss of 3 nats."""

    def call(self, inputs):
        self.add_loss(ops.convert_to_tensor(3.0))
        return inputs


class PenalisedBody(bodies.DenseBody):
    """The dense body with a `Penalty` on the decoder's output."""

    def build_decoder(self, image_shape, latent_dim, num_classes=0, dtype=None):
        decoder = super().build_decoder(image_shape, latent_dim, num_classes, dtype)
        return keras.Model(decoder.inputs, Penalty()(decoder.outputs[0]), name="decoder")


def test_add_loss_in_a_custom_body_joins_training_and_evaluation(images):
    x, x_test = images
    model = VAE(body=PenalisedBody())
    model.compile(optimizer="adam")
    history = model.fit(x, epochs=1, batch_size=128, validation_data=(x_test,), verbose=0).history
    assert history["layer_loss"] == pytest.approx([3.0]) and history["val_layer_loss"] == pytest.approx([3.0])
    assert model.evaluate(x_test, verbose=0, return_dict=True)["layer_loss"] == pytest.approx(3.0)


def test_the_models_dtype_policy_reaches_every_hidden_layer_and_not_the_outputs(tmp_path):
    model = zoo.get("conv_vae", dtype="mixed_bfloat16")
    compute = {layer.name: layer.compute_dtype for net in (model.encoder, model.decoder) for layer in net.layers
               if not isinstance(layer, keras.layers.InputLayer)}
    assert {name for name, dtype in compute.items() if dtype == "float32"} == {"z_mean", "z_log_var", "logits"}
    assert set(compute.values()) == {"bfloat16", "float32"} and model.sampler.compute_dtype == "float32"
    assert all(v.dtype == "float32" for v in model.weights if v.name != "seed_generator_state")
    z_mean, _ = model.encode(np.zeros((2, 28, 28, 1), "float32"))
    assert keras.backend.standardize_dtype(z_mean.dtype) == "float32"
    model.save(tmp_path / "model.keras")
    loaded = zoo.load_model(tmp_path / "model.keras", "conv_vae")
    assert [layer.compute_dtype for layer in loaded.decoder.layers[-2:]] == ["bfloat16", "float32"]  # ReLU, logits


def test_the_global_dtype_policy_reaches_the_body_too():
    keras.config.set_dtype_policy("mixed_bfloat16")  # conftest puts float32 back
    model = zoo.get("vae")
    assert [layer.compute_dtype for layer in model.encoder.layers[1:]] == ["bfloat16"] * 3 + ["float32"] * 2


class _Batches(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.count = 0

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1


def test_fit_takes_kerass_positional_arguments_and_validation_split(images):
    x, _ = images
    model = zoo.get("vae")
    model.compile(optimizer="adam")
    batches = _Batches()
    history = model.fit(x, None, 64, 2, 0, [batches], 0.25)  # x, y, batch_size, epochs, verbose, callbacks, split
    assert batches.count == 2 * 768 // 64 and len(history.history["val_loss"]) == 2


def test_sample_weight_weighs_each_images_loss(images):
    """Keras's convention: the batch loss is the mean over the batch of weight times loss."""
    _, x_test = images
    model = zoo.get("ae")  # deterministic: no posterior sample
    model.compile(optimizer="adam")
    half = len(x_test) // 2
    weights = np.r_[np.ones(half), np.zeros(half)]
    first = model.evaluate(x_test[:half], batch_size=half, verbose=0, return_dict=True)["loss"]
    weighted = model.evaluate(x_test, sample_weight=weights, batch_size=2 * half, verbose=0, return_dict=True)
    assert weighted["loss"] == pytest.approx(first / 2, rel=1e-5)
    model.fit(x_test, sample_weight=weights, epochs=1, verbose=0)


@pytest.mark.parametrize("call, message", [
    (lambda model, x: model.compile(optimizer="adam", loss="mse"), "cannot use compile's loss"),
    (lambda model, x: model.compile(optimizer="adam", metrics=["mae"]), "cannot use compile's metrics"),
    (lambda model, x: model.fit(x, class_weight={0: 1.0}), "does not take class_weight"),
    (lambda model, x: model.fit(x, sample_weight=np.ones(3)), r"sample_weight must be \d+ numbers"),
    (lambda model, x: model.evaluate(x, sample_weight=-np.ones(len(x))), "finite and non-negative"),
], ids=["loss", "metrics", "class_weight", "sample_weight_shape", "sample_weight_sign"])
def test_what_a_vae_cannot_use_is_refused(images, call, message):
    model = zoo.get("vae")
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=message):
        call(model, images[1])


def test_evaluation_repeats_and_leaves_trainings_noise_alone(images):
    """The posterior samples of `evaluate` are seeded, and validating during `fit` draws nothing from the
    training's noise: a run with validation ends with the weights of one without. (Unshuffled, since Keras's
    PyTorch data loaders draw from torch's global generator on every pass, validation's included.)"""
    x, x_test = images
    validated, _ = _trained("vae", x, validation_data=(x_test,), shuffle=False)
    plain, _ = _trained("vae", x, shuffle=False)
    for a, b in zip(validated.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    first, second = (validated.evaluate(x_test, verbose=0, return_dict=True) for _ in range(2))
    assert first == pytest.approx(second, rel=1e-6)
