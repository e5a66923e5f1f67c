"""Shared fixtures: real MNIST images from the files beside the checkout (../shared/data/mnist)."""

import os
import shutil
import tempfile
from pathlib import Path

# JAX compiles the same training steps again in many tests and in their subprocesses (killed and resumed runs, the
# replicas): a persistent compilation cache shared by the session's processes compiles each once (set before
# anything imports JAX; subprocesses inherit it). It only stores XLA's output, so no result depends on it.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(Path(tempfile.gettempdir()) / "keras_vae-tests-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import keras  # noqa: E402
import pytest  # noqa: E402

#: the backend that runs the tests marked backend_independent: README's test command runs it first
FULL_BACKEND = "tensorflow"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if "KERAS_VAE_DATA_DIR" not in os.environ and SHARED_DATA.is_dir():
    os.environ["KERAS_VAE_DATA_DIR"] = str(SHARED_DATA)


def pytest_collection_modifyitems(config, items):
    """Runs the tests marked backend_independent once, under FULL_BACKEND: no case is tested twice."""
    if keras.config.backend() == FULL_BACKEND:
        return
    independent = [item for item in items if item.get_closest_marker("backend_independent")]
    if independent:
        config.hook.pytest_deselected(items=independent)
        items[:] = [item for item in items if not item.get_closest_marker("backend_independent")]


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


@pytest.fixture(scope="session")
def digit_classifier(mnist):
    """evaluate.train_classifier's CNN after 2 epochs on 3,000 training images: about 93% test accuracy."""
    from keras_vae import evaluate

    (x, y), _ = mnist
    return evaluate.train_classifier(x[:3000], y[:3000], epochs=2, batch_size=32, seed=0)


@pytest.fixture(autouse=True)
def _float32_policy():
    """Every test starts, and leaves, with the float32 policy and a fixed seed."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def small_data_dir(small_mnist, tmp_path, monkeypatch):
    """A KERAS_VAE_DATA_DIR holding mnist.npz with 512 real training and 128 real test images, allowed although
    it is not the published MNIST."""
    from harness import write_mnist_npz

    directory = tmp_path / "data"
    directory.mkdir()
    monkeypatch.setenv("KERAS_VAE_DATA_DIR", str(write_mnist_npz(directory, small_mnist)))
    monkeypatch.setenv("KERAS_VAE_ALLOW_VARIANT", "1")  # a subset of MNIST, loaded by choice
    return directory


@pytest.fixture
def private_zoo(tmp_path, monkeypatch):
    """A copy of zoo/vae in tmp_path/zoo, served as the zoo's folder for 'vae' (the repository's stays as it is)."""
    from keras_vae import zoo

    folder = tmp_path / "zoo" / "vae"
    shutil.copytree(zoo.folder("vae"), folder)
    monkeypatch.setattr(zoo, "folder", lambda name: tmp_path / "zoo" / zoo.entry(name).name)
    return folder
