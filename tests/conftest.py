"""Shared fixtures: real MNIST images from the files beside the checkout (../shared/data/mnist)."""

import os
from pathlib import Path

import keras
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if "KERAS_VAE_DATA_DIR" not in os.environ and SHARED_DATA.is_dir():
    os.environ["KERAS_VAE_DATA_DIR"] = str(SHARED_DATA)


@pytest.fixture(scope="session")
def mnist():
    """(x_train, y_train), (x_test, y_test): the real MNIST arrays."""
    from keras_vae import data

    try:
        return data.load("mnist")
    except FileNotFoundError as error:
        pytest.skip(f"MNIST files not found ({error}); set KERAS_VAE_DATA_DIR")


@pytest.fixture(scope="session")
def small_mnist(mnist):
    """1024 training and 256 test images with labels: enough to see a model learn in seconds."""
    (x_train, y_train), (x_test, y_test) = mnist
    return (x_train[:1024], y_train[:1024]), (x_test[:256], y_test[:256])


@pytest.fixture(autouse=True)
def _float32_policy():
    """Every test starts, and leaves, with the float32 policy and a fixed seed."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def small_data_dir(small_mnist, tmp_path, monkeypatch):
    """A KERAS_VAE_DATA_DIR holding mnist.npz with 512 real training and 128 real test images."""
    from harness import write_mnist_npz

    directory = tmp_path / "data"
    directory.mkdir()
    monkeypatch.setenv("KERAS_VAE_DATA_DIR", str(write_mnist_npz(directory, small_mnist)))
    return directory
