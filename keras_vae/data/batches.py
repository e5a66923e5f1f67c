"""Epoch batches of in-memory images: `EpochBatches`, and `DynamicBinarization` with its Bernoulli draws."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

# Leading words of the random seeds, so that the three random streams never
# share a seed (NumPy seeds that differ only by trailing zeros are equal).
_TRAIN_DRAW, _TRAIN_ORDER, _TEST_DRAW = 1, 2, 3


def _bernoulli(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One float32 0/1 sample per pixel, 1 with the pixel's probability."""
    draws = rng.random(probabilities.shape, dtype=np.float32)
    return (draws < probabilities).astype(np.float32)


class EpochBatches(keras.utils.PyDataset):
    """Batches of in-memory images (and labels) whose order depends only on the seed and the epoch.

    Epoch ``e`` visits the images in the permutation drawn from ``(seed, e)``,
    so a run resumed at epoch ``e`` (see `set_epoch` and
    `keras_vae.callbacks.DataEpoch`) sees exactly the batches an uninterrupted
    run saw. `fit` with arrays shuffles from a generator that restarts with
    the process, which a resumed run cannot repeat; for the same reason, give
    `fit` ``shuffle=False`` (else Keras reorders the batches with Python's
    global `random`).

    Args:
        images: Float images in [0, 1] (or bool images, made float32 a batch at a time),
            first axis the sample axis.
        labels: Optional labels, one per image; when given, batches are
            ``(x, y)`` tuples, otherwise ``x`` alone.
        batch_size: Images per batch; the last batch may be smaller.
        shuffle: Whether to visit the images in a new order each epoch.
        seed: Seed of the order.
        steps: Batches per epoch, the first ones of the epoch's order (None:
            all of them). With dSprites' 737,280 images, an epoch of a few
            thousand steps keeps backups and validation frequent.
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size``,
            passed to `keras.utils.PyDataset`.

    Raises:
        ValueError: If images are not floats in [0, 1], if labels do not
            match the images in number, or if ``batch_size`` is not positive.

    Example:
        >>> batches = EpochBatches(x_train, batch_size=128, seed=0)  # doctest: +SKIP
        >>> model.fit(batches, epochs=10, shuffle=False, callbacks=[DataEpoch(batches)])  # doctest: +SKIP
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray | None = None,
        batch_size: int = 128,
        shuffle: bool = True,
        seed: int = 0,
        steps: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.images = _probabilities(images)
        self.labels = None if labels is None else np.asarray(labels)
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError(
                f"labels must match images in number: got {len(self.labels)} "
                f"labels for {len(self.images)} images"
            )
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = int(batch_size)
        every = math.ceil(len(self.images) / self.batch_size)
        if steps is not None and not (isinstance(steps, int) and not isinstance(steps, bool) and 0 < steps <= every):
            raise ValueError(f"steps must be a positive integer of at most {every} (every batch once), got {steps!r}")
        self.steps = every if steps is None else steps
        self.shuffle = shuffle
        self.seed = seed
        self.set_epoch(0)

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        x = self._images_of(rows, index)
        return x if self.labels is None else (x, self.labels[rows])

    def _images_of(self, rows: np.ndarray, index: int) -> np.ndarray:
        """The images of batch ``index``, rows ``rows`` of ``images``, as float32."""
        return self.images[rows].astype(np.float32, copy=False)

    def set_epoch(self, epoch: int) -> None:
        """Makes the batches those of epoch ``epoch`` (0-based)."""
        self.epoch = epoch
        if self.shuffle:
            self._order = np.random.default_rng([_TRAIN_ORDER, self.seed, epoch]).permutation(len(self.images))
        else:
            self._order = np.arange(len(self.images))

    def on_epoch_end(self) -> None:
        """Moves to the next epoch (`fit` calls it)."""
        self.set_epoch(self.epoch + 1)


class DynamicBinarization(EpochBatches):
    """Batches of images binarized with a fresh Bernoulli draw each epoch.

    Pixel values are read as probabilities. Batch ``i`` of epoch ``e`` is
    drawn from a generator seeded with ``(seed, e, i)``, so batches are
    reproducible for a seed, independent of access order and thread count,
    and different every epoch. The order is that of `EpochBatches`.

    Args:
        images: Float images in [0, 1], read as pixel probabilities.
        seed: Seed of the draws and of the order.
        labels, batch_size, shuffle, steps, **kwargs: as for `EpochBatches`.

    Example:
        >>> data = DynamicBinarization(x_train, batch_size=128)  # doctest: +SKIP
        >>> model.fit(data, epochs=10, shuffle=False)  # doctest: +SKIP
    """

    def _images_of(self, rows: np.ndarray, index: int) -> np.ndarray:
        rng = np.random.default_rng([_TRAIN_DRAW, self.seed, self.epoch, index])
        return _bernoulli(self.images[rows], rng)


def _probabilities(images: Any) -> np.ndarray:
    """Validates images as float probabilities; returns them as float32, or bool images as they are."""
    images = np.asarray(images)
    if images.dtype == bool and images.ndim >= 1:
        return images  # Binary images (dSprites' 3 GB) become floats a batch at a time.
    if images.dtype.kind != "f" or images.ndim < 1:
        raise ValueError(
            f"images must be a float array of probabilities in [0, 1] or a bool array, got a "
            f"{images.dtype} array of shape {images.shape}; divide uint8 images by 255"
        )
    if images.size and not (images.min() >= 0 and images.max() <= 1):  # False on NaN.
        raise ValueError(
            f"images must lie in [0, 1] and contain no NaN; found values from "
            f"{np.nanmin(images)} to {np.nanmax(images)}, "
            f"{np.isnan(images).sum()} NaN"
        )
    return images.astype(np.float32, copy=False)
