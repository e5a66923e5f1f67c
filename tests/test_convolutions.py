"""keras_vae's transposed convolution against Keras's: the same weights give the same outputs and gradients on the
phase path (forced on whatever backend runs the tests), and Keras's weight files load into it unchanged."""

import keras
import numpy as np
import pytest

from keras_vae import convolutions
from tests.harness import numpy

#: (kernel size, strides, input height and width, padding): the "same" strided cases take the phase path
TRANSPOSED = [(3, 2, (7, 5), "same"), (4, 2, (4, 6), "same"), (5, 2, (3, 3), "same"), (3, 3, (4, 2), "same"),
              (1, 2, (3, 4), "same"), (4, (2, 1), (5, 3), "same"), (3, 2, (4, 4), "valid")]


@pytest.fixture
def phases(monkeypatch):
    """The phase path on the platform under test."""
    monkeypatch.setattr(convolutions, "PHASES_ON", {convolutions.platform()})


def _gradients(layer, x, cotangent):
    """The gradients of `sum(layer(x) * cotangent)` with respect to `x` and the layer's weights, as NumPy."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = tf.reduce_sum(layer(x) * cotangent)
        grads = tape.gradient(value, [x, *layer.trainable_variables])
    elif backend == "jax":
        import jax

        def value(x, weights):
            with keras.StatelessScope(state_mapping=list(zip(layer.trainable_variables, weights))):
                return (layer(x) * cotangent).sum()

        grads = jax.tree.leaves(jax.grad(value, argnums=(0, 1))(x, [v.value for v in layer.trainable_variables]))
    else:
        import torch

        x = torch.tensor(x, requires_grad=True)
        (layer(x) * torch.tensor(cotangent)).sum().backward()
        grads = [x.grad, *(v.value.grad for v in layer.trainable_variables)]
    return [numpy(g) for g in grads]


def _pair(ours, theirs, arguments, input_shape, seed):
    """keras_vae's layer and Keras's, built with the same random weights (non-zero bias included)."""
    rng = np.random.default_rng(seed)
    mine, reference = ours(**arguments), theirs(**arguments)
    for layer in (mine, reference):
        layer.build(input_shape)
    weights = [rng.normal(size=w.shape).astype("float32") for w in reference.get_weights()]
    mine.set_weights(weights)
    reference.set_weights(weights)
    return mine, reference


@pytest.mark.parametrize("kernel, strides, size, padding", TRANSPOSED)
def test_transposed_convolution_gives_keras_outputs_and_gradients(phases, kernel, strides, size, padding, seed=0):
    arguments = {"filters": 4, "kernel_size": kernel, "strides": strides, "padding": padding, "activation": "tanh"}
    input_shape = (2, *size, 3)
    mine, reference = _pair(convolutions.Conv2DTranspose, keras.layers.Conv2DTranspose, arguments, input_shape, seed)
    rng = np.random.default_rng(seed + 1)
    x = rng.normal(size=input_shape).astype("float32")
    expected = numpy(reference(x))
    np.testing.assert_allclose(numpy(mine(x)), expected, atol=1e-5, rtol=1e-5)
    cotangent = rng.normal(size=expected.shape).astype("float32")
    for got, want in zip(_gradients(mine, x, cotangent), _gradients(reference, x, cotangent), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-5)


def test_the_phase_path_runs_only_for_strided_same_layers_on_the_chosen_platforms(monkeypatch):
    original, calls = convolutions._patches_matmul, []
    monkeypatch.setattr(convolutions, "_patches_matmul", lambda *args: calls.append(args[1].shape) or original(*args))
    x = np.zeros((1, 8, 8, 2), "float32")
    layers = [convolutions.Conv2DTranspose(3, 3, strides=2, padding="same"),
              convolutions.Conv2DTranspose(3, 3, padding="same"), convolutions.Conv2DTranspose(3, 3, strides=2)]
    for platforms, expected in [(set(), []), ({convolutions.platform()}, [(2, 2, 2, 12)])]:
        monkeypatch.setattr(convolutions, "PHASES_ON", platforms)
        calls.clear()
        for layer in layers:
            layer(x)
        assert calls == expected  # the phases of a 3x3 stride-2 kernel: 2x2 taps, 4 phases x 3 filters


def test_weights_saved_from_keras_layers_load_into_these_and_back(tmp_path):
    def decoder(transpose):
        z = keras.Input((7, 7, 4))
        h = transpose(8, 3, strides=2, padding="same", activation="relu")(z)
        h = keras.layers.Conv2D(6, 4, strides=2, padding="same")(h)
        return keras.Model(z, transpose(1, 3, padding="same")(h))

    theirs, ours = decoder(keras.layers.Conv2DTranspose), decoder(convolutions.Conv2DTranspose)
    theirs.save_weights(tmp_path / "keras.weights.h5")
    ours.load_weights(tmp_path / "keras.weights.h5")
    for got, want in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    x = np.random.default_rng(0).normal(size=(3, 7, 7, 4)).astype("float32")
    np.testing.assert_allclose(numpy(ours(x)), numpy(theirs(x)), atol=1e-5)
    ours.save(tmp_path / "ours.keras")
    reloaded = keras.saving.load_model(tmp_path / "ours.keras", safe_mode=True)
    assert [type(layer) for layer in reloaded.layers[1:]] == [convolutions.Conv2DTranspose, keras.layers.Conv2D,
                                                              convolutions.Conv2DTranspose]
