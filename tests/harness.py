"""Helpers shared by the test modules: what every zoo model must do (applied by tests/test_models.py), a float64
NumPy forward pass of the dense-body models to compute expectations outside Keras, and the checks of bad input
(the command line run in-process, the error raised by keras_vae's own code, the files left as they were)."""

import argparse
import sys
import traceback
from pathlib import Path

import keras
import numpy as np

import keras_vae
from keras_vae import cli, zoo
from keras_vae.models.vq_vae import is_quantized


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def labels_of(model, y):
    """The `labels=` keyword a model's inference methods take: the labels if it is conditional."""
    return {"labels": y} if model.num_classes else {}


def fit(model, x, y, **kwargs):
    """Fits on images, with labels for a conditional model; returns the History."""
    return model.fit(x, y if model.num_classes else None, verbose=0, **kwargs)


def one_per_architecture():
    """One zoo name per distinct architecture: entries that differ only in their training data test the same code."""
    return sorted({(zoo.entry(name).model_class, repr(zoo.entry(name).config)): name
                   for name in reversed(zoo.list_models())}.values())


def small_batch_norm_vae(**kwargs):
    """conv_vae_bn's design (unbiased convolutions, batch norm, convolutional heads) at one layer of 8 2x2 filters:
    a third of its compile and training time on JAX. Uncompiled."""
    from keras_vae.models import ConvBody, ConvVAE

    return ConvVAE(latent_dim=4, body=ConvBody(filters=(8,), kernel_size=2, dense_units=None, batch_norm=True),
                   likelihood="gaussian", beta=0.1, **kwargs)


def build(name, learning_rate=1e-3, **overrides):
    """The zoo's `name` with `overrides`, compiled with Adam."""
    model = zoo.get(name, **overrides)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return model


def check_api_shapes(model, x, y):
    """encode / decode / reconstruct / sample: shapes, dtypes and [0, 1] ranges."""
    n, labels = len(x), labels_of(model, y)
    code = numpy(model.code(x, **labels))
    latent_shape = model.grid_shape if is_quantized(model) else (model.latent_dim,)  # a VQ-VAE's codes
    assert code.shape == (n, *latent_shape) and np.isfinite(code).all()
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


# --- expectations computed outside Keras: a float64 NumPy forward pass of a dense-body model --------------------


def _dense(layer, h):
    kernel, bias = (numpy(w).astype(np.float64) for w in (layer.kernel, layer.bias))
    activation = layer.get_config()["activation"]
    assert activation in ("relu", "linear"), activation
    h = h @ kernel + bias
    return np.maximum(h, 0.0) if activation == "relu" else h


def _dense_layers(network, but=()):
    return [layer for layer in network.layers if isinstance(layer, keras.layers.Dense) and layer.name not in but]


def _one_hot(model, labels):
    return [] if labels is None else [np.eye(model.num_classes)[np.asarray(labels)]]


def numpy_encode(model, x, labels=None):
    """The encoder's heads of a dense-body model for images `x`, in float64: (z_mean, z_log_var), or (code,)."""
    h = np.concatenate([np.asarray(x, np.float64).reshape(len(x), -1), *_one_hot(model, labels)], axis=1)
    for layer in _dense_layers(model.encoder, but=model.encoder_heads):
        h = _dense(layer, h)
    return tuple(_dense(model.encoder.get_layer(head), h) for head in model.encoder_heads)


def numpy_logits(model, z, labels=None):
    """The decoder's logits of a dense-body model for latents `z`, in float64, flattened to (batch, pixels)."""
    h = np.concatenate([np.asarray(z, np.float64), *_one_hot(model, labels)], axis=1)
    for layer in _dense_layers(model.decoder):
        h = _dense(layer, h)
    return h


def numpy_loss_terms(model, x, labels=None):
    """A dense-body model's loss terms on images `x`, in float64 NumPy, decoding the posterior mean: exact for
    weights from `narrow_posterior` or `constant_decoder`, under which the sampler's noise changes nothing.

    Per image, the reconstruction term is the Bernoulli negative log-likelihood of the pixels under the logits
    (or the squared error of their sigmoid, for a Gaussian model), summed over pixels; the KL term is that of
    N(mu, exp(log_var)) from N(0, I), 0.5 * sum(exp(log_var) + mu^2 - 1 - log_var); the loss is the mean
    reconstruction term plus beta times the mean KL term (Kingma and Welling 2014; Higgins et al. 2017)."""
    encoded = numpy_encode(model, x, labels)
    logits, pixels = numpy_logits(model, encoded[0], labels), np.asarray(x, np.float64).reshape(len(x), -1)
    if model.likelihood == "bernoulli":
        reconstruction = np.sum(np.logaddexp(0.0, logits) - pixels * logits, axis=1)
    else:
        reconstruction = np.sum((1.0 / (1.0 + np.exp(-logits)) - pixels) ** 2, axis=1)
    if len(encoded) == 1:  # the autoencoder: no prior, no KL term
        return {"loss": reconstruction.mean(), "reconstruction_loss": reconstruction.mean()}
    mu, log_var = encoded
    kl = 0.5 * np.sum(np.exp(log_var) + mu**2 - 1.0 - log_var, axis=1)
    return {"loss": reconstruction.mean() + model.beta * kl.mean(), "reconstruction_loss": reconstruction.mean(),
            "kl_loss": kl.mean()}


def _set(layer, rng, scale, bias=None):
    layer.kernel.assign(rng.normal(0.0, scale, layer.kernel.shape).astype("float32"))
    layer.bias.assign((rng.normal(0.0, scale, layer.bias.shape) if bias is None else bias).astype("float32"))


def narrow_posterior(model, seed=0):
    """Random weights, with a log-variance head of constant outputs in [-29, -27]: z is z_mean to within
    1e-6, so decoding z_mean gives the loss to float32 precision whatever noise the sampler draws."""
    rng = np.random.default_rng(seed)
    for network in (model.encoder, model.decoder):
        for layer in _dense_layers(network):
            _set(layer, rng, 0.1)
    if "z_log_var" in model.encoder_heads:
        _set(model.encoder.get_layer("z_log_var"), rng, 0.0, bias=rng.uniform(-29.0, -27.0, model.latent_dim))


def constant_decoder(model, seed=0):
    """Random encoder weights, log-variances of about -3 to 3, and a decoder whose kernels are zero: its logits
    are its last bias whatever z it is given, so the sampler's noise changes nothing."""
    rng = np.random.default_rng(seed)
    for layer in _dense_layers(model.encoder):
        _set(layer, rng, 0.3 if layer.name in model.encoder_heads else 0.1)
    for layer in _dense_layers(model.decoder):
        _set(layer, rng, 0.0, bias=rng.normal(0.0, 1.0, layer.bias.shape))


# --- bad input: the command line in-process, where an error comes from, what a call leaves behind ----------------

KERAS_VAE = Path(keras_vae.__file__).resolve().parent
ARGPARSE = Path(argparse.__file__).resolve()


def assert_raised_by_keras_vae(error):
    """The innermost frame of the error's traceback is keras_vae's own code (or argparse's), not a backend's."""
    frame = traceback.extract_tb(error.__traceback__)[-1]
    origin = Path(frame.filename).resolve()
    assert origin == ARGPARSE or KERAS_VAE in origin.parents, \
        f"{type(error).__name__} raised from {frame.filename}:{frame.lineno}, not keras_vae: {error}"


def snapshot(folder):
    """Every path under `folder`, with a file's bytes: what a call must leave as it found it."""
    return {path: path.read_bytes() if path.is_file() else None for path in Path(folder).rglob("*")}


def run_cli(argv, monkeypatch, capsys):
    """`keras-vae ARGV` in-process: (exit status, stderr, the exception behind the error it printed)."""
    raised = []

    def record(*args, **kwargs):  # main prints the error inside its `except`: keep the exception it caught
        raised.append(sys.exc_info()[1])
        print(*args, **kwargs)

    monkeypatch.setattr(cli, "print", record, raising=False)
    try:
        status = cli.main(argv)
    except SystemExit as exit_:  # argparse: a bad command line
        status, raised = exit_.code, [exit_]
    return status, capsys.readouterr().err.strip(), raised[0] if raised else None


def bound_losses(model, images):
    """`model`'s loss terms on `images` by `evaluate` (test_step), and its loss in one `fit` step (train_step) at
    learning rate 0, each over the images as one batch."""
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    evaluated = model.evaluate(images, batch_size=len(images), verbose=0, return_dict=True)
    return evaluated, model.fit(images, batch_size=len(images), epochs=1, verbose=0).history["loss"][0]
