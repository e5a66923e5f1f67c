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

MNIST and Fashion-MNIST use the same file names, so a folder can hold the
wrong one. Files found are therefore checked against the canonical datasets:
the SHA-256 of each decoded array must be that of the published files (or, for
Keras's ``mnist.npz``, the file's SHA-256 that ``keras.datasets`` checks).
Files of the other dataset raise a `DatasetMismatchError` that says which
dataset they are; files of neither (a variant or a subset of your own) are
refused unless ``allow_variant=True`` is passed or ``$KERAS_VAE_ALLOW_VARIANT``
is ``1``. Downloads come from ``keras.datasets`` itself and are not checked.

Decoded files are kept in a small in-process cache; callers always receive
fresh arrays. Nothing here imports TensorFlow at module import time:
`load_tfds` imports it (and ``tensorflow_datasets``) when called.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import hashlib
import importlib
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Any, NamedTuple

import keras
import numpy as np

from keras_vae.dataset_specs import BINARIZE_MODES, DATASETS, DatasetSpec

__all__ = [
    "DATASETS",
    "DataFileError",
    "DatasetMismatchError",
    "DatasetSpec",
    "DynamicBinarization",
    "EpochBatches",
    "IDX_FILES",
    "check_images",
    "load",
    "load_tfds",
    "read_idx",
]


# The canonical file names, keyed like the arrays of a Keras ``.npz``.
IDX_FILES: dict[str, str] = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}

ENV_VAR = "KERAS_VAE_DATA_DIR"
ALLOW_VARIANT_ENV_VAR = "KERAS_VAE_ALLOW_VARIANT"
DEBIAN_DATA_ROOT = Path("/usr/share/datasets")

_IDX_DIMS = {0x00000801: 1, 0x00000803: 3}  # magic number -> number of dims
_GZIP_MAGIC = b"\x1f\x8b"
# Leading words of the random seeds, so that the three random streams never
# share a seed (NumPy seeds that differ only by trailing zeros are equal).
_TRAIN_DRAW, _TRAIN_ORDER, _TEST_DRAW = 1, 2, 3
_TFDS_SHUFFLE_BUFFER = 10_000

# SHA-256 of the uint8 data of each canonical array (an IDX file's bytes after
# its header), so that the same data is recognised in any wrapper: a gzip
# header records a file name and time, Debian's dataset-fashion-mnist re-gzips
# the published files, and Keras ships MNIST as an npz.
#   MNIST: from the published gz files (yann.lecun.com; md5 train-images
#     f68b3c2dcbeaaa9fbdd348bbdeb94873, train-labels d53e105ee54ea40749a09fcbcd1e9432,
#     t10k-images 9fb629c4189551a2d022fa330f9573f3, t10k-labels
#     ec29112dd5afa0611ce80d1b7f02629c).
#   Fashion-MNIST: from Debian's files. Their md5 differ from the published ones
#     (github.com/zalandoresearch/fashion-mnist: 8d4fb7e6..., 25c81989...,
#     bef4ecab..., bb300cfd...) because their gzip header lacks the original
#     file name: each is exactly the published size (26421880, 29515, 4422102,
#     5148 bytes) less that name field, so the compressed data is the same.
_CANONICAL_SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
        "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
        "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
        "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
    },
    "fashion_mnist": {
        "x_train": "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
        "y_train": "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
        "x_test": "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
        "y_test": "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
    },
}
# (array key, sha256) -> the dataset whose canonical array it is.
_CANONICAL_ARRAYS = {
    (key, digest): name
    for name, digests in _CANONICAL_SHA256.items()
    for key, digest in digests.items()
}
# ``file_hash`` of mnist.npz in keras/src/datasets/mnist.py.
_KERAS_MNIST_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


class DataFileError(ValueError):
    """A data file exists but its contents are not what was expected.

    Attributes:
        path: The offending file.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path}: {problem}")


class DatasetMismatchError(DataFileError):
    """A readable data file that is not the canonical dataset asked for.

    Attributes:
        path: The first file that differs.
        expected: The dataset asked for, e.g. ``"fashion_mnist"``.
        found: The canonical dataset the file holds instead (e.g.
            ``"mnist"``), or None if it is neither (a variant or a subset).
    """

    def __init__(
        self, path: str | os.PathLike[str], problem: str, expected: str, found: str | None
    ) -> None:
        self.expected, self.found = expected, found
        super().__init__(path, problem)


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


class _Decoded(NamedTuple):
    """The validated arrays of a source, where each came from, and what they are."""

    arrays: dict[str, np.ndarray]
    where: dict[str, Path]
    digests: dict[str, str]  # SHA-256 of each array's uint8 data.
    holds: dict[str, str | None]  # The canonical dataset of each array, if any.


def _read_source(source: _Source, spec: DatasetSpec) -> _Decoded:
    """Reads, validates and identifies a source, reusing earlier reads of unchanged files."""
    return _read_source_cached(source, source.stamp(), spec)


@functools.lru_cache(maxsize=4)
def _read_source_cached(
    source: _Source, stamp: tuple[tuple[int, int], ...], spec: DatasetSpec
) -> _Decoded:
    del stamp  # Only part of the cache key.
    if source.kind == "npz":
        arrays, where = _read_npz(source.path), dict.fromkeys(IDX_FILES, source.path)
    else:
        where = {key: source.path / file_name for key, file_name in IDX_FILES.items()}
        arrays = {key: read_idx(path) for key, path in where.items()}
    _validate(arrays, where, spec)
    for array in arrays.values():
        array.flags.writeable = False
    digests = {key: _array_sha256(array) for key, array in arrays.items()}
    return _Decoded(arrays, where, digests, _identify(source, digests))


def _array_sha256(array: np.ndarray) -> str:
    """SHA-256 of validated uint8 images or integer labels, as the IDX bytes they would be."""
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.uint8)).hexdigest()


def _identify(source: _Source, digests: dict[str, str]) -> dict[str, str | None]:
    """The canonical dataset each array belongs to; None for arrays of neither."""
    if source.kind == "npz" and _file_sha256(source.path) == _KERAS_MNIST_NPZ_SHA256:
        return dict.fromkeys(digests, "mnist")
    return {key: _CANONICAL_ARRAYS.get((key, digest)) for key, digest in digests.items()}


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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


def _allow_variant(allow_variant: bool | None) -> bool:
    """``allow_variant``, or when None, what ``$KERAS_VAE_ALLOW_VARIANT`` says."""
    if allow_variant is not None:
        return bool(allow_variant)
    value = os.environ.get(ALLOW_VARIANT_ENV_VAR, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(
        f"{ALLOW_VARIANT_ENV_VAR} must be 1 (allow data that is not the canonical "
        f"dataset) or 0 (refuse it), got {os.environ[ALLOW_VARIANT_ENV_VAR]!r}"
    )


def _check_canonical(decoded: _Decoded, name: str) -> None:
    """Raises unless every array is the canonical one of dataset ``name``."""
    for key, holds in decoded.holds.items():
        if holds != name:
            path = decoded.where[key]
            problem = (
                _other_dataset_problem(path, key, name, holds)
                if holds
                else _variant_problem(key, name, decoded.digests[key])
            )
            raise DatasetMismatchError(path, problem, name, holds)


def _other_dataset_problem(path: Path, key: str, name: str, holds: str) -> str:
    folder = path.parent
    root = _datasets_root(folder)
    return (
        f"{name!r} was asked for, but this file is {holds!r} data: its {key} "
        f"has the checksum of the canonical {holds}. Both datasets use the same "
        f"file names, so keep each in a folder named after it: put the {name} "
        f"files in {root / name}/ and set {ENV_VAR}={root} (or pass "
        f"data_dir=...), or load the files in {folder} as "
        f"keras_vae.data.load({holds!r}). To use them as {name!r} anyway, pass "
        f"allow_variant=True or set {ALLOW_VARIANT_ENV_VAR}=1."
    )


def _datasets_root(folder: Path) -> Path:
    """The folder meant to hold one subfolder per dataset, judged from ``folder``."""
    dataset_folders = {*DATASETS, *(spec.debian_dir for spec in DATASETS.values())}
    return folder.parent if folder.name in dataset_folders else folder


def _variant_problem(key: str, name: str, digest: str) -> str:
    return (
        f"the checksum of its {key} (sha256 {digest}) differs from the canonical "
        f"{name}'s ({_CANONICAL_SHA256[name][key]}): these files are not the "
        f"published {name} but a variant or subset of it. To train on your own "
        f"variant, pass allow_variant=True or set {ALLOW_VARIANT_ENV_VAR}=1; "
        f"otherwise replace the files with the published ones."
    )


def _expected_files(name: str) -> str:
    return (
        f"the four IDX files {', '.join(IDX_FILES.values())} or a Keras-style "
        f"{name}.npz with arrays {', '.join(IDX_FILES)}"
    )


def _download(loader: str) -> dict[str, np.ndarray]:
    """Arrays from ``<loader>.load_data()`` (a download), not yet validated."""
    (x_train, y_train), (x_test, y_test) = importlib.import_module(loader).load_data()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _read_checked(
    source: _Source, name: str, spec: DatasetSpec, allow_variant: bool
) -> dict[str, np.ndarray]:
    """The arrays of ``source``, refused unless canonical or ``allow_variant``."""
    decoded = _read_source(source, spec)
    if not allow_variant:
        _check_canonical(decoded, name)
    return decoded.arrays


def _load_arrays(
    name: str,
    spec: DatasetSpec,
    data_dir: str | os.PathLike[str] | None,
    allow_variant: bool,
) -> dict[str, np.ndarray]:
    """Raw uint8 arrays from the first place that has them (see module doc)."""
    if data_dir is not None:
        source = _find_source(Path(data_dir).expanduser(), name)
        if source is None:
            raise FileNotFoundError(
                f"No {name} data in data_dir={os.fspath(data_dir)!r}: expected "
                f"{_expected_files(name)}."
            )
        return _read_checked(source, name, spec, allow_variant)
    places = _search_path(name, spec)
    for place in places:
        source = _find_source(place, name)
        if source is not None:
            return _read_checked(source, name, spec, allow_variant)
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
    allow_variant: bool | None = None,
) -> tuple[tuple[Any, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads MNIST or Fashion-MNIST as float images in [0, 1].

    Files found are checked against the canonical dataset ``name`` (see the
    module docstring): the other dataset's files, or files of neither, raise
    a `DatasetMismatchError` unless ``allow_variant`` is true.

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
        allow_variant: Whether to accept files that are not the canonical
            dataset ``name``: a subset, a relabelled copy, your own data in
            the same format. None (the default) takes ``$KERAS_VAE_ALLOW_VARIANT``
            (``1`` or ``0``; unset means ``0``), so that command-line runs and
            subprocesses can opt in too. The files are still checked for
            corruption and shape either way.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images are new float32
        arrays of shape ``(N, 28, 28, 1)``, labels new int32 arrays of shape
        ``(N,)``. With ``binarize="dynamic"``, ``x_train`` is a
        `DynamicBinarization` yielding ``(images, labels)`` batches (the
        unconditional models ignore the labels; the conditional VAE uses them).

    Raises:
        ValueError: If ``name`` or ``binarize`` is unknown, or
            ``$KERAS_VAE_ALLOW_VARIANT`` is neither 1 nor 0.
        FileNotFoundError: If ``data_dir`` holds no usable files, or no
            place holds them and the download fails.
        DatasetMismatchError: If, without ``allow_variant``, the files found
            are not the canonical ``name``: the other dataset, or a variant.
        DataFileError: If a file found is corrupt or inconsistent.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load("mnist")  # doctest: +SKIP
        >>> x_train.shape, x_train.dtype  # doctest: +SKIP
        ((60000, 28, 28, 1), dtype('float32'))
        >>> # Your own subset of MNIST, saved as my_data/mnist.npz:
        >>> (x_train, _), _ = load("mnist", data_dir="my_data", allow_variant=True)  # doctest: +SKIP
    """
    spec = _spec(name)
    _check_binarize(binarize)
    arrays = _load_arrays(name, spec, data_dir, _allow_variant(allow_variant))
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
