"""What every zoo model must do, written once and applied to each model by tests/test_models.py."""

import keras
import numpy as np

from keras_vae import zoo


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def labels_of(model, y):
    """The `labels=` keyword a model's inference methods take: the labels if it is conditional."""
    return {"labels": y} if model.num_classes else {}


def fit(model, x, y, **kwargs):
    """Fits on images, with labels for a conditional model; returns the History."""
    return model.fit(x, y if model.num_classes else None, verbose=0, **kwargs)


def build(name, **overrides):
    model = zoo.get(name, **overrides)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def check_api_shapes(model, x, y):
    """encode / decode / reconstruct / sample: shapes, dtypes and [0, 1] ranges."""
    n, labels = len(x), labels_of(model, y)
    code = numpy(model.code(x, **labels))
    assert code.shape == (n, model.latent_dim) and np.isfinite(code).all()
    encoded = model.encode(x, **labels)
    if model.encoder_heads == ("z_mean", "z_log_var"):
        z_mean, z_log_var = map(numpy, encoded)
        assert z_mean.shape == z_log_var.shape == (n, model.latent_dim)
        np.testing.assert_array_equal(z_mean, code)
    for images in (model.decode(code, **labels), model.reconstruct(x, **labels), model(x if not model.num_classes
                                                                                        else [x, y])):
        images = numpy(images)
        assert images.shape == x.shape
        assert images.min() >= 0.0 and images.max() <= 1.0


def check_sample(model, y):
    """Seeded sampling is reproducible and differs between seeds."""
    labels = labels_of(model, y[:8])
    first, again, other = (numpy(model.sample(8, seed=s, **labels)) for s in (3, 3, 4))
    assert first.shape == (8, *model.image_shape)
    assert first.min() >= 0.0 and first.max() <= 1.0
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def write_mnist_npz(directory, small_mnist, train=512, test=128):
    """Writes `directory/mnist.npz` with the first `train` and `test` images of `small_mnist`; returns `directory`."""
    (x, y), (x_test, y_test) = small_mnist
    as_bytes = lambda images: np.round(images[..., 0] * 255).astype(np.uint8)  # noqa: E731
    np.savez(directory / "mnist.npz", x_train=as_bytes(x[:train]), y_train=y[:train],
             x_test=as_bytes(x_test[:test]), y_test=y_test[:test])
    return directory


def weights_in(path):
    """Every dataset of an HDF5 weights file, by its path in the file."""
    import h5py

    arrays = {}

    def keep(key, item):  # returns None: h5py stops visiting at the first callback that returns something
        if isinstance(item, h5py.Dataset):
            arrays[key] = item[()]

    with h5py.File(path, "r") as file:
        file.visititems(keep)
    return arrays


def assert_same_weights(path, expected_path, **tolerance):
    """The weights files hold the same arrays: bit for bit, or to `assert_allclose`'s `tolerance`."""
    found, expected = weights_in(path), weights_in(expected_path)
    assert found.keys() == expected.keys() and expected
    for key, value in expected.items():
        if tolerance:
            np.testing.assert_allclose(found[key], value, err_msg=key, **tolerance)
        else:
            np.testing.assert_array_equal(found[key], value, err_msg=key)


def finish(process, timeout=300):
    """Waits for a subprocess started with stderr piped; returns its exit status and stderr."""
    _, err = process.communicate(timeout=timeout)
    return process.returncode, err
