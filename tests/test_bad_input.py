"""Bad input to the models, bodies and registry gets a clear error before it reaches a backend."""

import re

import keras
import numpy as np
import pytest

from keras_vae import zoo
from keras_vae.models import VAE, Autoencoder, ConditionalVAE, ConvBody, ConvVAE, DenseBody, bodies

IMAGES = np.full((4, 28, 28, 1), 0.5, np.float32)
LABELS = np.arange(4)


@pytest.mark.parametrize("make, error, message", [
    (lambda: zoo.get("conv_vea"), ValueError, "Did you mean 'conv_vae'"),
    (lambda: VAE(latent_dim=0), ValueError, "latent_dim must be a positive int"),
    (lambda: VAE(latent_dim=2.5), ValueError, "latent_dim must be a positive int"),
    (lambda: VAE(beta=-1.0), ValueError, "beta must be a non-negative number"),
    (lambda: VAE(likelihood="poisson"), ValueError, "likelihood must be one of"),
    (lambda: VAE(image_shape=(28, 28)), ValueError, "image_shape must be (height, width, channels)"),
    (lambda: ConvVAE(image_shape=(30, 30, 1)), ValueError, "set pad_to (e.g. pad_to=32)"),
    (lambda: ConvVAE(body=ConvBody(pad_to=16)), ValueError, "pad_to=16 is smaller than the image"),
    (lambda: ConvBody(filters=()), ValueError, "filters must be a non-empty sequence"),
    (lambda: DenseBody(hidden_units=(128, -1)), ValueError, "hidden_units must be"),
    (lambda: ConditionalVAE(num_classes=0), ValueError, "num_classes must be a positive int"),
    (lambda: ConditionalVAE(body=ConvBody(dense_units=None, pad_to=32, filters=(16, 32, 64))), ValueError,
     "needs a ConvBody with dense_units"),
    (lambda: bodies.get("mlp"), ValueError, "unknown body 'mlp'"),
    (lambda: bodies.get(3), TypeError, "body must be a Body"),
])
def test_bad_construction(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make()


@pytest.fixture(scope="module")
def vae():
    return VAE()


@pytest.fixture(scope="module")
def cvae():
    return ConditionalVAE()


@pytest.mark.parametrize("call, message", [
    (lambda m: m.encode(IMAGES[..., 0]), "channel axis"),
    (lambda m: m.encode(np.zeros((4, 32, 32, 1), np.float32)), "expected (N, 28, 28, 1)"),
    (lambda m: m.encode(IMAGES * 255), "divide uint8 images by 255"),
    (lambda m: m.encode(np.where(IMAGES > 0, np.nan, 0).astype(np.float32)), "NaN"),
    (lambda m: m.encode(IMAGES[:0]), "empty"),
    (lambda m: m.encode(IMAGES, labels=LABELS), "unconditional"),
    (lambda m: m.decode(np.zeros((4, 3), np.float32)), "z must have shape (batch, 2)"),
    (lambda m: m.sample(0), "n must be a positive int"),
    (lambda m: m.fit(IMAGES, LABELS), "y must be None"),
    (lambda m: m.fit(IMAGES * 255), "divide uint8 images by 255"),
])
def test_bad_calls_to_a_vae(vae, call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call(vae)


@pytest.mark.parametrize("call, message", [
    (lambda m: m.encode(IMAGES), "needs labels"),
    (lambda m: m.encode(IMAGES, labels=LABELS + 7), r"labels must lie in \[0, 10\)"),
    (lambda m: m.encode(IMAGES, labels=LABELS.astype(float)), "labels must be 4 integers"),
    (lambda m: m.encode(IMAGES, labels=LABELS[:3]), r"shape \(4,\)"),
    (lambda m: m.sample(3), "needs labels"),
    (lambda m: m.fit(IMAGES), "pass them as y"),
    (lambda m: m.decode(np.zeros((4, 2)), labels=np.full((4, 9), 1 / 9)), r"shape \(4, 10\)"),
    (lambda m: m.decode(np.zeros((4, 2)), labels=np.full((4, 10), 0.2)), "sum to 1 in each row"),
    (lambda m: m.decode(np.zeros((2, 2)), labels=[[1.5] + [0] * 8 + [-0.5]] * 2), "non-negative"),
])
def test_bad_calls_to_a_conditional_vae(cvae, call, message):
    with pytest.raises(ValueError, match=message):
        call(cvae)


def test_autoencoder_has_no_prior_to_sample():
    with pytest.raises(NotImplementedError, match="no prior"):
        Autoencoder().sample(4)


def test_good_labels_as_one_int_broadcast(cvae):
    assert tuple(cvae.sample(3, seed=0, labels=7).shape) == (3, 28, 28, 1)


def test_class_weights_decode_a_blend_of_classes(cvae):
    z = np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32)
    decode = lambda labels: keras.ops.convert_to_numpy(cvae.decode(z, labels=labels))  # noqa: E731
    np.testing.assert_allclose(decode(np.eye(10)[LABELS]), decode(LABELS), atol=1e-6)
    halfway = decode(np.full((4, 10), 0.1))
    assert not np.allclose(halfway, decode(LABELS), atol=1e-3)
