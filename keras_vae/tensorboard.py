"""TensorBoard logs of a training run: the loss terms per epoch (Keras's `TensorBoard` callback) and image grids of
reconstructions and prior samples per epoch (`tf.summary.image`).

`keras_vae.train(..., tensorboard="runs/vae/logs")` and `keras-vae train --tensorboard DIR` add both; view them with
`tensorboard --logdir DIR`. They write with `tf.summary`, so they need TensorFlow and TensorBoard installed (both
are, with keras_vae), on any backend.

Example:
    >>> model.fit(x_train, epochs=10, validation_data=(x_test,), callbacks=callbacks("logs", x_test))
"""

import importlib.util

import keras
import numpy as np

from keras_vae.plots.canvas import tile

#: the grey of the gaps between tiles (pixels are 0 black to 1 white)
GAP = 0.5


def callbacks(log_dir, images, labels=None, n=8, seed=0):
    """Keras's `TensorBoard` callback for the loss terms, and `ImageSummaries` for the images.

    Args:
        log_dir: the folder for the event files (`train/`, `validation/` and `images/` inside).
        images: test images whose reconstructions are drawn; the first `n` are used.
        labels: their labels, for a conditional model.
        n: images per row.
        seed: the seed of the prior's draws (the same draws every epoch, so they show training's progress).

    Returns:
        A list of two callbacks for `fit`.

    Raises:
        ImportError: if TensorFlow or TensorBoard (`tf.summary` writes the events with both) is not installed.

    Example:
        >>> model.fit(batches, epochs=30, callbacks=callbacks("runs/vae/logs", x_test))
    """
    missing = [name for name in ("tensorflow", "tensorboard") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(f"TensorBoard logs are written with tf.summary, which needs {' and '.join(missing)}: "
                          f"pip install {' '.join(missing)}, or train without tensorboard")
    scalars = keras.callbacks.TensorBoard(log_dir, update_freq="epoch", profile_batch=0, write_graph=False)
    # Its batch hooks only count batches when it logs per epoch without profiling: they may run on Keras's callback
    # thread, so the training loop need not wait for each step's logs on JAX and PyTorch
    scalars.async_safe = True
    return [scalars, ImageSummaries(log_dir, images, labels, n=n, seed=seed)]


class ImageSummaries(keras.callbacks.Callback):
    """Writes, after every epoch, test images above their reconstructions and (for a model with a prior) samples.

    The images go to `log_dir/images` as `reconstructions` (2 rows of `n`) and `samples` (2 rows of `n` draws of
    the prior, the same draws each epoch; a conditional model's rows cycle through the classes).

    Args:
        log_dir: the TensorBoard folder.
        images: test images; the first `n` are drawn.
        labels: their labels, for a conditional model.
        n: images per row.
        seed: the prior draws' seed.

    Example:
        >>> model.fit(x_train, epochs=5, callbacks=[ImageSummaries("logs", x_test[:8])])
    """

    async_safe = True  # no batch hooks

    def __init__(self, log_dir, images, labels=None, n=8, seed=0):
        super().__init__()
        self.log_dir, self.n, self.seed = str(log_dir), n, seed
        self.images = np.asarray(images[:n], dtype="float32")
        self.labels = None if labels is None else np.asarray(labels[:n])
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        model = self.model
        conditional = bool(model.num_classes)
        labels = self.labels if conditional else None
        rows = {"reconstructions": [self.images, _numpy(model.reconstruct(self.images, labels))]}
        if model.encoder_heads != ("code",):  # an autoencoder has no prior to sample
            classes = np.arange(2 * self.n) % model.num_classes if conditional else None
            samples = _numpy(model.sample(2 * self.n, seed=self.seed, labels=classes))
            rows["samples"] = [samples[:self.n], samples[self.n:]]
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(f"{self.log_dir}/images")
        with self._writer.as_default():
            for name, images in rows.items():
                grid = np.nan_to_num(tile(images), nan=GAP)
                tf.summary.image(name, grid.reshape(1, *grid.shape[:2], -1), step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _numpy(tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor), dtype="float32")
