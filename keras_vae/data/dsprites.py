"""dSprites: 737,280 binary 64x64 sprites with five known factors, from DeepMind's npz or rendered here.

DeepMind's dSprites (github.com/deepmind/dsprites-dataset) holds every
combination of five factors exactly once, in a fixed order (the last factor
varies fastest):

=============  ====  =====================================
factor         size  values
=============  ====  =====================================
shape          3     1 square, 2 ellipse, 3 heart
scale          6     0.5, 0.6, ..., 1.0
orientation    40    40 values from 0 to 2π, both included
position_x     32    32 values from 0 to 1, both included
position_y     32    32 values from 0 to 1, both included
=============  ====  =====================================

`load` reads ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` when it is
found (``data_dir``, ``$KERAS_VAE_DATA_DIR``, the Keras cache) and otherwise
draws the same factor grid with `render`, deterministically and offline. The
drawing was fitted to the 320 frames of the dataset's published
``dsprites.gif`` (the npz could not be downloaded here); how far it is from
them is measured in ``tests/dsprites_match.py`` and stated in the README:
squares match closely, ellipses and hearts differ along their outlines.

Example:
    >>> from keras_vae.data import dsprites
    >>> images, factors = dsprites.load(source="rendered")  # doctest: +SKIP
    >>> images.shape, images.dtype, factors[1]  # doctest: +SKIP
    ((737280, 64, 64, 1), dtype('bool'), array([1. , 0.5, 0. , 0. , 0.032258], dtype=float32))
"""

from __future__ import annotations

import functools
import os
import zipfile
from pathlib import Path

import numpy as np

from keras_vae.data.errors import DataFileError
from keras_vae.data.sources import ENV_VAR, _keras_home

NAMES = ("shape", "scale", "orientation", "position_x", "position_y")
SIZES = (3, 6, 40, 32, 32)
SHAPES = ("square", "ellipse", "heart")
#: the values of each factor, in class order, as in the npz's metadata
VALUES = (
    np.array([1.0, 2.0, 3.0]),
    np.linspace(0.5, 1.0, 6),
    np.linspace(0.0, 2 * np.pi, 40),
    np.linspace(0.0, 1.0, 32),
    np.linspace(0.0, 1.0, 32),
)
FILE_NAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
SIDE = 64
SOURCES = (None, "npz", "rendered")
#: images a training run validates and is tested on (`splits`), as disentanglement_lib scores 10,000
TEST_IMAGES = 10_000

# The drawing, in pixels (fitted to the frames of dsprites.gif): a sprite's centre is at 16 + 32 * position on
# each axis, a pixel is on when its centre is inside the shape, and a shape of scale s is
_SQUARE_HALF_SIDE = (9.0, 0.5)  # a square of half side 9 s + 0.5,
_ELLIPSE_AXES = ((11.0, 1.25), (6.0, 1.25))  # an ellipse of semi-axes 11 s + 1.25 and 6 s + 1.25,
# a heart made of a square of side 10.5 s standing on a corner and two discs on its upper edges, grown by half a
# pixel and centred a tenth of its side above the sprite's centre.
_HEART_SIDE, _HEART_GROWTH, _HEART_RISE = 10.5, 0.5, 0.1
# float32 arithmetic (+, -, *, /, sqrt) rounds the same everywhere; cos and sin are tabled once in float64
_ROTATIONS = tuple(function(VALUES[2]).astype(np.float32) for function in (np.cos, np.sin))
_TEST_ROWS = 20170401  # the seed of the test rows: dSprites' date
_BATCH = 4096  # images drawn at a time (about 70 MB per float32 coordinate)


def classes_of(indices: np.ndarray) -> np.ndarray:
    """The factor classes of images at ``indices`` of the dataset's order, shape ``(N, 5)``."""
    return np.stack(np.unravel_index(np.asarray(indices), SIZES), axis=-1)


def indices_of(classes: np.ndarray) -> np.ndarray:
    """The positions in the dataset's order of images with factor ``classes`` (``(N, 5)`` ints)."""
    classes = _check_classes(classes)
    return np.ravel_multi_index(tuple(classes.T), SIZES)


def factors_of(classes: np.ndarray) -> np.ndarray:
    """The factor values of factor ``classes`` (``(N, 5)`` ints), float32 ``(N, 5)``."""
    classes = _check_classes(classes)
    return np.stack([values[column] for values, column in zip(VALUES, classes.T)], axis=-1).astype(np.float32)


def render(classes: np.ndarray) -> np.ndarray:
    """Draws the sprites of factor ``classes`` (``(N, 5)`` ints): bool images of shape ``(N, 64, 64)``.

    Args:
        classes: One row of class indices per image, in the order of `NAMES`.

    Returns:
        The images, a pixel True where the sprite covers the pixel's centre.

    Raises:
        ValueError: If ``classes`` is not ``(N, 5)`` or a class is out of range.

    Example:
        >>> int(render([[0, 5, 0, 0, 0]]).sum())  # a square of side 20 at the top left
        400
    """
    classes = _check_classes(classes)
    images = np.zeros((len(classes), SIDE, SIDE), bool)
    centres = np.arange(SIDE, dtype=np.float32) + 0.5
    for shape, inside in enumerate((_in_square, _in_ellipse, _in_heart)):
        of_shape = np.flatnonzero(classes[:, 0] == shape)
        for start in range(0, len(of_shape), _BATCH):
            rows = of_shape[start : start + _BATCH]
            scale, x, y = (VALUES[factor][classes[rows, factor]].astype(np.float32)[:, None, None] for factor in (1, 3, 4))
            cos, sin = (table[classes[rows, 2]][:, None, None] for table in _ROTATIONS)
            dx = centres[None, None, :] - (16 + 32 * x)
            dy = centres[None, :, None] - (16 + 32 * y)
            u = cos * dx - sin * dy  # the pixel in the sprite's own axes
            v = sin * dx + cos * dy
            images[rows] = inside(u, v, scale)
    return images


def _in_square(u: np.ndarray, v: np.ndarray, scale: np.ndarray) -> np.ndarray:
    half = _SQUARE_HALF_SIDE[0] * scale + _SQUARE_HALF_SIDE[1]
    return (np.abs(u) <= half) & (np.abs(v) <= half)


def _in_ellipse(u: np.ndarray, v: np.ndarray, scale: np.ndarray) -> np.ndarray:
    (a, a0), (b, b0) = _ELLIPSE_AXES
    return (u / (a * scale + a0)) ** 2 + (v / (b * scale + b0)) ** 2 <= 1


def _in_heart(u: np.ndarray, v: np.ndarray, scale: np.ndarray) -> np.ndarray:
    side = _HEART_SIDE * scale
    x, y = np.abs(u) / side, v / side + _HEART_RISE  # in sides; the heart is symmetric in x
    grow = _HEART_GROWTH / side
    corner = 1 / np.sqrt(2)  # the square's centre-to-corner distance, in sides
    in_square = x + np.abs(y) <= corner + grow * np.sqrt(2)
    in_disc = (x - corner / 2) ** 2 + (y + corner / 2) ** 2 <= (0.5 + grow) ** 2
    return in_square | in_disc


def load(
    *, data_dir: str | os.PathLike[str] | None = None, source: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """dSprites' 737,280 images and their factor values, in the dataset's order.

    Args:
        data_dir: A directory holding the npz (or the npz's path); when given,
            no other place is tried and the file must be there.
        source: ``"npz"`` (DeepMind's file, an error when it is not found),
            ``"rendered"`` (drawn by `render`, about a minute on 2 cores) or
            None: the npz when one is found in ``data_dir``,
            ``$KERAS_VAE_DATA_DIR/dsprites/``, ``$KERAS_VAE_DATA_DIR`` or
            ``$KERAS_HOME/datasets/``, else rendered.

    Returns:
        ``(images, factors)``: bool images ``(737280, 64, 64, 1)`` (3 GB; a
        float32 copy would be 12 GB, so `keras_vae.data.EpochBatches` turns
        one batch at a time into floats) and float32 factor values
        ``(737280, 5)`` in the order of `NAMES` (`classes_of` gives the
        classes of a position in the order).

    Raises:
        ValueError: If ``source`` is unknown.
        FileNotFoundError: If ``data_dir`` holds no npz, or ``source="npz"`` and none is found.
        DataFileError: If the npz is corrupt or not dSprites in its order.

    Example:
        >>> images, factors = load()  # doctest: +SKIP
        >>> heart = images[indices_of([[2, 5, 0, 16, 16]])]  # the largest heart, upright, in the middle  # doctest: +SKIP
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    path = None if source == "rendered" else _find(data_dir)
    if path is None and (source == "npz" or data_dir is not None):
        places = [data_dir] if data_dir is not None else _places()
        raise FileNotFoundError(
            f"No {FILE_NAME} in {', '.join(map(str, places))}; download it from "
            f"github.com/deepmind/dsprites-dataset, or pass source='rendered' to draw the dataset here."
        )
    images = _rendered() if path is None else _read_npz(*_stamp(path))
    return images[..., None], factors_of(classes_of(np.arange(len(images))))


def splits(images: np.ndarray, factors: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A training run's ``(x_train, y_train), (x_test, y_test)`` of `load`'s dSprites.

    Every image is trained on, labelled with its shape (0 square, 1 ellipse,
    2 heart); the test images are `TEST_IMAGES` of them, the same for every
    seed (drawn once without replacement, in the dataset's order), as float32.

    Args:
        images, factors: `load`'s.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = splits(*load())  # doctest: +SKIP
    """
    labels = (factors[:, 0] - 1).astype(np.int32)
    test = _test_rows(len(images))
    return (images, labels), (images[test].astype(np.float32), labels[test])


def test_split(*, data_dir: str | os.PathLike[str] | None = None, source: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`splits`'s ``(x_test, y_test)`` alone: from the npz as `load` finds it, else only these images drawn.

    Args:
        data_dir, source: as `load`'s.

    Example:
        >>> x_test, y_test = test_split()  # doctest: +SKIP
    """
    classes = classes_of(_test_rows(int(np.prod(SIZES))))
    return images_of(classes, data_dir=data_dir, source=source), classes[:, 0].astype(np.int32)


def images_of(
    classes: np.ndarray, *, data_dir: str | os.PathLike[str] | None = None, source: str | None = None
) -> np.ndarray:
    """The float32 images ``(N, 64, 64, 1)`` of factor ``classes``: the npz's rows when `load` would read it, else
    drawn by `render` (the same images `load` renders, without drawing the other 737,280 - N).

    Args:
        classes: ``(N, 5)`` ints, in the order of `NAMES`.
        data_dir, source: as `load`'s.

    Example:
        >>> images_of([[2, 5, 0, 16, 16]]).shape  # the largest heart, upright, in the middle
        (1, 64, 64, 1)
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if source == "rendered" or (source is None and data_dir is None and _find(None) is None):
        images = render(classes)
    else:
        images = load(data_dir=data_dir, source=source)[0][indices_of(classes), ..., 0]
    return images[..., None].astype(np.float32)


def _test_rows(count: int) -> np.ndarray:
    return np.sort(np.random.default_rng(_TEST_ROWS).choice(count, TEST_IMAGES, replace=False))


def _places() -> list[Path]:
    places = [_keras_home() / "datasets"]
    if os.environ.get(ENV_VAR):
        root = Path(os.environ[ENV_VAR]).expanduser()
        places[:0] = [root / "dsprites", root]
    return places


def _find(data_dir: str | os.PathLike[str] | None) -> Path | None:
    places = [Path(data_dir).expanduser()] if data_dir is not None else _places()
    for place in places:
        for candidate in (place, place / FILE_NAME):
            if candidate.is_file():
                return candidate
    return None


def _stamp(path: Path) -> tuple[Path, int, int]:
    stat = path.stat()
    return path.resolve(), stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=1)
def _rendered() -> np.ndarray:
    images = render(classes_of(np.arange(np.prod(SIZES))))
    images.flags.writeable = False
    return images


@functools.lru_cache(maxsize=1)
def _read_npz(path: Path, size: int, mtime: int) -> np.ndarray:
    """The npz's images, checked: bool ``(737280, 64, 64)`` whose classes are in the dataset's order."""
    del size, mtime  # Only part of the cache key.
    try:
        with np.load(path, allow_pickle=False) as npz:
            images, classes = npz["imgs"], npz["latents_classes"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise DataFileError(path, f"not a readable dSprites npz with 'imgs' and 'latents_classes' ({err})") from err
    count = int(np.prod(SIZES))
    if images.shape != (count, SIDE, SIDE) or classes.shape != (count, 6):
        raise DataFileError(
            path, f"expected imgs of shape {(count, SIDE, SIDE)} and latents_classes of shape {(count, 6)}, "
            f"got {images.shape} and {classes.shape}"
        )
    if not np.array_equal(classes[:, 1:], classes_of(np.arange(count))) or classes[:, 0].any():
        raise DataFileError(path, "latents_classes are not dSprites' factor grid in its order")
    if images.max() > 1:
        raise DataFileError(path, f"imgs must hold 0 and 1 only, found values up to {images.max()}")
    images = images.view(bool)  # 0 and 1 are False and True: no 3 GB copy
    images.flags.writeable = False
    return images


def _check_classes(classes: np.ndarray) -> np.ndarray:
    classes = np.asarray(classes)
    if classes.ndim != 2 or classes.shape[1] != len(SIZES) or classes.dtype.kind not in "iu":
        raise ValueError(f"classes must be integers of shape (N, {len(SIZES)}), got {classes.dtype} {classes.shape}")
    if classes.size and ((classes < 0).any() or (classes >= SIZES).any()):
        raise ValueError(f"classes must lie below the factor sizes {SIZES}; got maxima {classes.max(axis=0)}")
    return classes
