"""MNIST and Fashion-MNIST loading, binarization and input checks.

`load` finds the four canonical IDX files (or a Keras-style ``.npz``) without
touching the network whenever it can. Places are tried in this order, and the
first one that holds usable files wins:

1. the ``data_dir`` argument: a directory that directly holds the four IDX
   gz files or ``<name>.npz`` (an explicit ``data_dir`` without usable files
   is an error; the other places are then *not* tried);
2. ``$KERAS_VAE_DATA_DIR/<name>/``, ``$KERAS_VAE_DATA_DIR/<debian dir>/``
   and ``$KERAS_VAE_DATA_DIR`` itself;
3. the Debian package directory ``/usr/share/datasets/<debian dir>/``
   (``apt-get install dataset-fashion-mnist``);
4. the Keras cache: ``$KERAS_HOME/datasets/`` (default ``~/.keras/datasets/``);
5. a download through ``keras.datasets.<name>.load_data()``.

Decoded files are kept in a small in-process cache; callers always receive
fresh arrays. Nothing here imports TensorFlow at module import time:
`load_tfds` imports it (and ``tensorflow_datasets``) when called.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import gzip
import importlib
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Any, NamedTuple

import keras
import numpy as np

__all__ = [
    "DATASETS",
    "DataFileError",
    "DatasetSpec",
    "DynamicBinarization",
    "EpochBatches",
    "IDX_FILES",
    "check_images",
    "load",
    "load_tfds",
    "read_idx",
]


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Plain facts about one dataset.

    Attributes:
        debian_dir: Directory name under ``/usr/share/datasets``.
        keras_cache: Location under ``$KERAS_HOME/datasets`` where
            ``keras.datasets`` caches the files (an ``.npz`` file or a
            directory of IDX files).
        num_classes: Number of label classes.
        image_shape: Shape of one image, channels last.
        keras_loader: Module name in ``keras.datasets`` that downloads it.
        class_names: What each label means, in label order.
    """

    debian_dir: str
    keras_cache: str
    num_classes: int
    image_shape: tuple[int, int, int]
    keras_loader: str
    class_names: tuple[str, ...]


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        "mnist", "mnist.npz", 10, (28, 28, 1), "mnist", tuple("0123456789")
    ),
    "fashion_mnist": DatasetSpec(
        "fashion-mnist",
        "fashion-mnist",
        10,
        (28, 28, 1),
        "fashion_mnist",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
}

# The canonical file names, keyed like the arrays of a Keras ``.npz``.
IDX_FILES: dict[str, str] = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}

ENV_VAR = "KERAS_VAE_DATA_DIR"
DEBIAN_DATA_ROOT = Path("/usr/share/datasets")
BINARIZE_MODES = (None, "static", "dynamic")

_IDX_DIMS = {0x00000801: 1, 0x00000803: 3}  # magic number -> number of dims
_GZIP_MAGIC = b"\x1f\x8b"
# Leading words of the random seeds, so that the three random streams never
# share a seed (NumPy seeds that differ only by trailing zeros are equal).
_TRAIN_DRAW, _TRAIN_ORDER, _TEST_DRAW = 1, 2, 3
_TFDS_SHUFFLE_BUFFER = 10_000


class DataFileError(ValueError):
    """A data file exists but its contents are not what was expected.

    Attributes:
        path: The offending file.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path}: {problem}")


# --------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Reads a gzipped or plain IDX file of unsigned bytes.

    Args:
        path: The IDX file; gzip compression is detected from its content.

    Returns:
        A read-only ``uint8`` array shaped as the header says: ``(n,)`` for
        labels (magic ``0x801``) or ``(n, rows, cols)`` for images
        (magic ``0x803``).

    Raises:
        DataFileError: If the gzip stream is corrupt, the magic number is
            unknown, or the payload size does not match the header.
        OSError: If the file cannot be read.

    Example:
        >>> labels = read_idx("train-labels-idx1-ubyte.gz")  # doctest: +SKIP
        >>> labels.shape  # doctest: +SKIP
        (60000,)
    """
    path = Path(path)
    content = _decompress(path, path.read_bytes())
    if len(content) < 4:
        raise DataFileError(path, f"expected an IDX header, found {len(content)} bytes")
    (magic,) = struct.unpack(">I", content[:4])
    if magic not in _IDX_DIMS:
        raise DataFileError(
            path,
            f"expected IDX magic number 0x00000801 (labels) or 0x00000803 "
            f"(images), found 0x{magic:08x}; is this an IDX file?",
        )
    header_size = 4 + 4 * _IDX_DIMS[magic]
    if len(content) < header_size:
        raise DataFileError(path, f"truncated IDX header: expected {header_size} bytes")
    dims = struct.unpack(f">{_IDX_DIMS[magic]}I", content[4:header_size])
    expected, found = math.prod(dims), len(content) - header_size
    if expected != found:
        raise DataFileError(
            path,
            f"header dimensions {dims} need {expected} data bytes, found {found}",
        )
    return np.frombuffer(content, np.uint8, offset=header_size).reshape(dims)


def _decompress(path: Path, raw: bytes) -> bytes:
    """Returns ``raw`` gunzipped if it is gzip data, else unchanged."""
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DataFileError(path, f"corrupt or truncated gzip data ({err})") from err


class _Source(NamedTuple):
    """Usable files: a directory of IDX files (``kind="idx"``) or an npz."""

    kind: str
    path: Path

    @property
    def files(self) -> tuple[Path, ...]:
        if self.kind == "npz":
            return (self.path,)
        return tuple(self.path / file_name for file_name in IDX_FILES.values())

    def stamp(self) -> tuple[tuple[int, int], ...]:
        """Size and modification time of the files, to invalidate the cache."""
        return tuple((s.st_size, s.st_mtime_ns) for s in map(os.stat, self.files))


def _find_source(path: Path, name: str) -> _Source | None:
    """Usable files at ``path``: an .npz file, or a directory holding them."""
    if path.is_file() and path.suffix == ".npz":
        return _Source("npz", path)
    idx = _Source("idx", path)
    if all(file.is_file() for file in idx.files):
        return idx
    if (path / f"{name}.npz").is_file():
        return _Source("npz", path / f"{name}.npz")
    return None


def _read_source(source: _Source, spec: DatasetSpec) -> dict[str, np.ndarray]:
    """Reads and validates a source, reusing earlier reads of unchanged files."""
    return _read_source_cached(source, source.stamp(), spec)


@functools.lru_cache(maxsize=4)
def _read_source_cached(
    source: _Source, stamp: tuple[tuple[int, int], ...], spec: DatasetSpec
) -> dict[str, np.ndarray]:
    del stamp  # Only part of the cache key.
    if source.kind == "npz":
        arrays, where = _read_npz(source.path), dict.fromkeys(IDX_FILES, source.path)
    else:
        where = {key: source.path / file_name for key, file_name in IDX_FILES.items()}
        arrays = {key: read_idx(path) for key, path in where.items()}
    _validate(arrays, where, spec)
    for array in arrays.values():
        array.flags.writeable = False
    return arrays


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError) as err:  # BadZipFile is an OSError.
        raise DataFileError(path, f"not a readable .npz file ({err})") from err
    missing = [key for key in IDX_FILES if key not in arrays]
    if missing:
        raise DataFileError(path, f"missing arrays {missing}; expected keys {list(IDX_FILES)}")
    return {key: arrays[key] for key in IDX_FILES}


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


# --------------------------------------------------------------------------
# Resolving where the files come from
# --------------------------------------------------------------------------


def _spec(name: str) -> DatasetSpec:
    if name in DATASETS:
        return DATASETS[name]
    close = difflib.get_close_matches(str(name), DATASETS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"Unknown dataset {name!r}. Known datasets: {', '.join(map(repr, DATASETS))}.{hint}"
    )


def _keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def _search_path(name: str, spec: DatasetSpec) -> list[Path]:
    """The places tried when no ``data_dir`` is given, in order."""
    places = []
    if os.environ.get(ENV_VAR):
        root = Path(os.environ[ENV_VAR]).expanduser()
        places += [root / name, root / spec.debian_dir, root]
    places += [DEBIAN_DATA_ROOT / spec.debian_dir, _keras_home() / "datasets" / spec.keras_cache]
    return list(dict.fromkeys(places))


def _expected_files(name: str) -> str:
    return (
        f"the four IDX files {', '.join(IDX_FILES.values())} or a Keras-style "
        f"{name}.npz with arrays {', '.join(IDX_FILES)}"
    )


def _download(loader: str) -> dict[str, np.ndarray]:
    """Arrays from ``<loader>.load_data()`` (a download), not yet validated."""
    (x_train, y_train), (x_test, y_test) = importlib.import_module(loader).load_data()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _load_arrays(
    name: str, spec: DatasetSpec, data_dir: str | os.PathLike[str] | None
) -> dict[str, np.ndarray]:
    """Raw uint8 arrays from the first place that has them (see module doc)."""
    if data_dir is not None:
        source = _find_source(Path(data_dir).expanduser(), name)
        if source is None:
            raise FileNotFoundError(
                f"No {name} data in data_dir={os.fspath(data_dir)!r}: expected "
                f"{_expected_files(name)}."
            )
        return _read_source(source, spec)
    places = _search_path(name, spec)
    for place in places:
        source = _find_source(place, name)
        if source is not None:
            return _read_source(source, spec)
    loader = f"keras.datasets.{spec.keras_loader}"
    try:
        arrays = _download(loader)
    except Exception as err:  # Any download failure: report every place tried.
        searched = "\n".join(f"  - {place}" for place in places)
        raise FileNotFoundError(
            f"Could not find the {name} dataset. Looked for {_expected_files(name)} "
            f"in:\n{searched}\nand the download with {loader}.load_data() failed: "
            f"{err!r}.\nTo fix this, "
            f"put the files in a directory and set {ENV_VAR} to it (or pass "
            f"data_dir=...), run `apt-get install dataset-fashion-mnist` for "
            f"Fashion-MNIST, or connect to the internet."
        ) from err
    _validate(arrays, dict.fromkeys(arrays, Path(f"{loader}.load_data()")), spec)
    return arrays


def load(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    binarize: str | None = None,
    batch_size: int = 128,
    seed: int = 0,
) -> tuple[tuple[Any, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads MNIST or Fashion-MNIST as float images in [0, 1].

    Args:
        name: ``"mnist"`` or ``"fashion_mnist"`` (see `DATASETS`).
        data_dir: Directory holding the four IDX gz files or ``<name>.npz``
            (or the path of such an ``.npz``). When given, no other place
            is tried.
        binarize: ``None`` keeps grey levels; ``"static"`` thresholds at 0.5;
            ``"dynamic"`` returns ``x_train`` as a `DynamicBinarization` that
            draws fresh Bernoulli samples each epoch, and ``x_test`` as one
            fixed Bernoulli draw made with ``seed``.
        batch_size: Batch size of the `DynamicBinarization` (dynamic only).
        seed: Seed of the dynamic binarization.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images are new float32
        arrays of shape ``(N, 28, 28, 1)``, labels new int32 arrays of shape
        ``(N,)``. With ``binarize="dynamic"``, ``x_train`` is a
        `DynamicBinarization` yielding ``(images, labels)`` batches (the
        unconditional models ignore the labels; the conditional VAE uses them).

    Raises:
        ValueError: If ``name`` or ``binarize`` is unknown.
        FileNotFoundError: If ``data_dir`` holds no usable files, or no
            place holds them and the download fails.
        DataFileError: If a file found is corrupt or inconsistent.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load("mnist")  # doctest: +SKIP
        >>> x_train.shape, x_train.dtype  # doctest: +SKIP
        ((60000, 28, 28, 1), dtype('float32'))
    """
    spec = _spec(name)
    _check_binarize(binarize)
    arrays = _load_arrays(name, spec, data_dir)
    x_train, x_test = (_to_unit_float(arrays[key]) for key in ("x_train", "x_test"))
    y_train, y_test = (arrays[key].astype(np.int32) for key in ("y_train", "y_test"))
    if binarize == "static":
        x_train, x_test = ((x > 0.5).astype(np.float32) for x in (x_train, x_test))
    elif binarize == "dynamic":
        x_test = _bernoulli(x_test, np.random.default_rng([_TEST_DRAW, seed]))
        x_train = DynamicBinarization(x_train, y_train, batch_size=batch_size, seed=seed)
    return (x_train, y_train), (x_test, y_test)


def _check_binarize(binarize: str | None) -> None:
    if binarize not in BINARIZE_MODES:
        raise ValueError(
            f"binarize must be one of {', '.join(map(repr, BINARIZE_MODES))}; "
            f"got {binarize!r}"
        )


def _to_unit_float(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) -> new float32 (N, H, W, 1) in [0, 1]."""
    return np.divide(images[..., None], 255, dtype=np.float32)


def _bernoulli(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One float32 0/1 sample per pixel, 1 with the pixel's probability."""
    draws = rng.random(probabilities.shape, dtype=np.float32)
    return (draws < probabilities).astype(np.float32)


# --------------------------------------------------------------------------
# Dynamic binarization
# --------------------------------------------------------------------------


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
        images: Float images in [0, 1], first axis the sample axis.
        labels: Optional labels, one per image; when given, batches are
            ``(x, y)`` tuples, otherwise ``x`` alone.
        batch_size: Images per batch; the last batch may be smaller.
        shuffle: Whether to visit the images in a new order each epoch.
        seed: Seed of the order.
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
        self.shuffle = shuffle
        self.seed = seed
        self.set_epoch(0)

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index: int) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        x = self._images_of(rows, index)
        return x if self.labels is None else (x, self.labels[rows])

    def _images_of(self, rows: np.ndarray, index: int) -> np.ndarray:
        """The images of batch ``index``, rows ``rows`` of ``images``."""
        return self.images[rows]

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
        labels, batch_size, shuffle, **kwargs: as for `EpochBatches`.

    Example:
        >>> data = DynamicBinarization(x_train, batch_size=128)  # doctest: +SKIP
        >>> model.fit(data, epochs=10, shuffle=False)  # doctest: +SKIP
    """

    def _images_of(self, rows: np.ndarray, index: int) -> np.ndarray:
        rng = np.random.default_rng([_TRAIN_DRAW, self.seed, self.epoch, index])
        return _bernoulli(self.images[rows], rng)


def _probabilities(images: Any) -> np.ndarray:
    """Validates images as float probabilities; returns them as float32."""
    images = np.asarray(images)
    if images.dtype.kind != "f" or images.ndim < 1:
        raise ValueError(
            f"images must be a float array of probabilities in [0, 1], got a "
            f"{images.dtype} array of shape {images.shape}; divide uint8 images by 255"
        )
    if images.size and not (images.min() >= 0 and images.max() <= 1):  # False on NaN.
        raise ValueError(
            f"images must lie in [0, 1] and contain no NaN; found values from "
            f"{np.nanmin(images)} to {np.nanmax(images)}, "
            f"{np.isnan(images).sum()} NaN"
        )
    return images.astype(np.float32, copy=False)


# --------------------------------------------------------------------------
# Input checks for models
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# tf.data pipeline
# --------------------------------------------------------------------------


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
