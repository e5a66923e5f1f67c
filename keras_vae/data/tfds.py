"""`load_tfds`: a ``tf.data`` pipeline from prepared TensorFlow Datasets data (imports TensorFlow when called)."""

from __future__ import annotations

import os
from typing import Any

from keras_vae.data.checks import _check_binarize, _spec

_TFDS_SHUFFLE_BUFFER = 10_000


def load_tfds(
    name: str,
    split: str = "train",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    batch_size: int = 128,
    binarize: str | None = None,
    shuffle: bool = True,
    seed: int = 0,
) -> Any:
    """Builds a ``tf.data`` pipeline from prepared TensorFlow Datasets data.

    Never downloads: prepare the data first with ``tfds build <name>`` on a
    machine with internet access, or use `load`, which reads local files.

    Args:
        name: ``"mnist"`` or ``"fashion_mnist"``.
        split: A TFDS split, e.g. ``"train"``, ``"test"`` or ``"train[:10%]"``.
        data_dir: TFDS data directory (TFDS's default when None).
        batch_size: Elements per batch.
        binarize: ``None``, ``"static"`` (threshold at 0.5) or ``"dynamic"``
            (a fresh Bernoulli draw per element and iteration).
        shuffle: Whether to shuffle elements, differently each iteration.
        seed: Seed of the shuffling and of the dynamic binarization.

    Returns:
        A ``tf.data.Dataset`` of ``(images, labels)`` batches: float32 images
        in [0, 1] of shape ``(batch, 28, 28, 1)`` and int32 labels.

    Raises:
        ValueError: If ``name`` or ``binarize`` is unknown.
        FileNotFoundError: If the data was not prepared in ``data_dir``.

    Example:
        >>> train = load_tfds("mnist", binarize="dynamic")  # doctest: +SKIP
        >>> model.fit(train.map(lambda x, y: x), epochs=10)  # doctest: +SKIP
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    _spec(name)
    _check_binarize(binarize)
    try:
        dataset = tfds.load(
            name, split=split, data_dir=data_dir, download=False, as_supervised=True
        )
    except AssertionError as err:  # How TFDS reports data that is not prepared.
        raise FileNotFoundError(
            f"TensorFlow Datasets has no prepared {name!r} data in "
            f"{data_dir or 'its default data_dir'} ({err}). Run `tfds build {name}` "
            f"(or tfds.load({name!r}, download=True)) with internet access, or use "
            f"keras_vae.data.load({name!r}), which reads local IDX files."
        ) from err
    if shuffle:
        dataset = dataset.shuffle(_TFDS_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)

    def to_unit_float(image, label):
        return tf.cast(image, tf.float32) / 255.0, tf.cast(label, tf.int32)

    dataset = dataset.map(to_unit_float, num_parallel_calls=tf.data.AUTOTUNE)
    if binarize == "static":
        dataset = dataset.map(lambda x, y: (tf.cast(x > 0.5, tf.float32), y))
    elif binarize == "dynamic":
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

        def draw(element, pair_seed):
            x, y = element
            uniform = tf.random.stateless_uniform(tf.shape(x), seed=pair_seed)
            return tf.cast(uniform < x, tf.float32), y

        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            draw, num_parallel_calls=tf.data.AUTOTUNE
        )
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
