"""Checks: of the dataset name and the binarisation mode, of the arrays read from files, and of users' images."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import numpy as np

from keras_vae.data.errors import DataFileError
from keras_vae.dataset_specs import BINARIZE_MODES, DATASETS, DatasetSpec


def _spec(name: str) -> DatasetSpec:
    if name in DATASETS:
        return DATASETS[name]
    close = difflib.get_close_matches(str(name), DATASETS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"Unknown dataset {name!r}. Known datasets: {', '.join(map(repr, DATASETS))} "
        f"(and 'dsprites' for keras_vae.data.load).{hint}"
    )


def _check_binarize(binarize: str | None) -> None:
    if binarize not in BINARIZE_MODES:
        raise ValueError(
            f"binarize must be one of {', '.join(map(repr, BINARIZE_MODES))}; "
            f"got {binarize!r}"
        )


def _validate(
    arrays: dict[str, np.ndarray], where: dict[str, Path], spec: DatasetSpec
) -> None:
    """Checks shapes, dtypes, counts and label range of both splits."""
    for split in ("train", "test"):
        x_key, y_key = f"x_{split}", f"y_{split}"
        x, y = arrays[x_key], arrays[y_key]
        raw_shape = spec.image_shape[:-1]  # The files have no channel axis.
        if x.dtype != np.uint8 or x.shape[1:] != raw_shape or not len(x):
            raise DataFileError(
                where[x_key],
                f"{x_key}: expected uint8 images of shape {_batch_shape(raw_shape)} "
                f"with N > 0, found {x.dtype} array of shape {x.shape}",
            )
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise DataFileError(
                where[y_key],
                f"{y_key}: expected integer labels of shape (N,), "
                f"found {y.dtype} array of shape {y.shape}",
            )
        if len(y) != len(x):
            raise DataFileError(
                where[y_key],
                f"{y_key}: {len(y)} labels, but {where[x_key]} holds {len(x)} images",
            )
        if y.min() < 0 or y.max() >= spec.num_classes:
            raise DataFileError(
                where[y_key],
                f"{y_key}: labels must lie in [0, {spec.num_classes}), "
                f"found values from {y.min()} to {y.max()}",
            )


def check_images(
    x: Any, *, name: str = "images", image_shape: tuple[int, ...] | None = None
) -> Any:
    """Checks a batch of images given by a user, with helpful messages.

    Only numpy arrays and lists are checked; anything else (backend tensors,
    ``tf.data`` datasets, generators) is returned unchanged.

    Args:
        x: Images, shape ``(N, height, width, channels)``, values in [0, 1].
        name: What to call ``x`` in error messages.
        image_shape: Expected shape of one image, e.g. ``(28, 28, 1)``.

    Returns:
        ``x`` as a float32 array (or ``x`` itself if it is not checked).

    Raises:
        ValueError: If ``x`` is not numeric, has the wrong rank or shape, is
            empty, holds NaN or Inf, or has values outside [0, 1].

    Example:
        >>> check_images(np.zeros((2, 28, 28)), image_shape=(28, 28, 1))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: images must have rank 4 ...; add a channel axis: x[..., None]
    """
    if not isinstance(x, (np.ndarray, list)):
        return x
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    _check_shape(array.shape, name, image_shape)
    array = array.astype(np.float32, copy=False)
    low, high = array.min(), array.max()  # NaN and Inf propagate to these.
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(
            f"{name} must be finite; found {np.isnan(array).sum()} NaN and "
            f"{np.isinf(array).sum()} Inf values"
        )
    if low < 0 or high > 1:
        hint = "; divide uint8 images by 255" if high > 1 else ""
        raise ValueError(f"{name} must lie in [0, 1]; found values from {low} to {high}{hint}")
    return array


def _batch_shape(image_shape: tuple[Any, ...]) -> str:
    """``(28, 28, 1)`` -> ``"(N, 28, 28, 1)"``, for messages."""
    return f"({', '.join(map(str, ('N', *image_shape)))})"


def _check_shape(
    shape: tuple[int, ...], name: str, image_shape: tuple[int, ...] | None
) -> None:
    dims = ("height", "width", "channels") if image_shape is None else image_shape
    expected = _batch_shape(dims)
    if len(shape) != 4:
        fits_without_channels = len(shape) == 3 and (
            image_shape is None or shape[1:] == tuple(image_shape)[:-1]
        )
        hint = "; add a channel axis: x[..., None]" if fits_without_channels else ""
        raise ValueError(
            f"{name} must have rank 4 {expected}; got rank {len(shape)}, shape {shape}{hint}"
        )
    if image_shape is not None and shape[1:] != tuple(image_shape):
        raise ValueError(f"{name} has the wrong shape: got {shape}, expected {expected}")
    if 0 in shape:
        raise ValueError(f"{name} is empty: got shape {shape}")


def check_indices(values: Any, shape: tuple[int | None, ...], upper: int, what: str, described: str) -> np.ndarray:
    """`values` as int32 if they are integers of `shape` (None: any size on that axis) in [0, `upper`): labels,
    codes.

    Args:
        values: an array-like.
        shape: the expected shape.
        upper: the first value out of range.
        what: how errors name the values, e.g. "labels".
        described: what they must be, e.g. "10 integers (shape (10,))".

    Raises:
        ValueError: naming `what`, what it must be and what it is.

    Example:
        >>> check_indices([3, 1], (2,), 10, "labels", "2 integers (shape (2,))")   # array([3, 1], dtype=int32)
    """
    values = np.asarray(values)
    if (values.ndim != len(shape) or any(size not in (None, found) for size, found in zip(shape, values.shape))
            or not np.issubdtype(values.dtype, np.integer)):
        raise ValueError(f"{what} must be {described}, got dtype {values.dtype} and shape {values.shape}")
    if values.size and (values.min() < 0 or values.max() >= upper):
        raise ValueError(f"{what} must lie in [0, {upper}), got values from {values.min()} to {values.max()}")
    return values.astype("int32")
