"""`load`: MNIST and Fashion-MNIST from local files (or a download) as float images in [0, 1].

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
fresh arrays.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

from keras_vae.data import dsprites
from keras_vae.data.batches import _TEST_DRAW, DynamicBinarization, _bernoulli
from keras_vae.data.canonical import (
    _allow_variant,
    _array_sha256,
    _check_canonical,
    _Decoded,
    _identify,
)
from keras_vae.data.checks import _check_binarize, _spec, _validate
from keras_vae.data.formats import IDX_FILES, _read_npz, read_idx
from keras_vae.data.sources import (
    ENV_VAR,
    _download,
    _expected_files,
    _find_source,
    _search_path,
    _Source,
)
from keras_vae.dataset_specs import DatasetSpec


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
    steps_per_epoch: int | None = None,
) -> tuple[tuple[Any, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads MNIST or Fashion-MNIST as float images in [0, 1], or dSprites with its factors.

    ``load("dsprites")`` is `keras_vae.data.dsprites.load` (DeepMind's npz
    when one is found, else the set rendered here): it returns
    ``(images, factors)`` and uses ``data_dir`` only (``binarize`` must stay
    None: the images are binary already).

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
        steps_per_epoch: Batches per epoch of the `DynamicBinarization`
            (dynamic only; None: every image once).
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
    if name == "dsprites":
        if binarize is not None:
            raise ValueError(f"dSprites' images are binary already: binarize must be None, got {binarize!r}")
        return dsprites.load(data_dir=data_dir)
    spec = _spec(name)
    _check_binarize(binarize)
    arrays = _load_arrays(name, spec, data_dir, _allow_variant(allow_variant))
    x_train, x_test = (_to_unit_float(arrays[key]) for key in ("x_train", "x_test"))
    y_train, y_test = (arrays[key].astype(np.int32) for key in ("y_train", "y_test"))
    if binarize == "static":
        x_train, x_test = ((x > 0.5).astype(np.float32) for x in (x_train, x_test))
    elif binarize == "dynamic":
        x_test = _bernoulli(x_test, np.random.default_rng([_TEST_DRAW, seed]))
        x_train = DynamicBinarization(x_train, y_train, batch_size=batch_size, seed=seed, steps=steps_per_epoch)
    return (x_train, y_train), (x_test, y_test)


def _to_unit_float(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) -> new float32 (N, H, W, 1) in [0, 1]."""
    return np.divide(images[..., None], 255, dtype=np.float32)


def load_splits(name: str, **options: Any) -> tuple[tuple[Any, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)`` of any dataset, as a training run uses them.

    MNIST's and Fashion-MNIST's are `load`'s. dSprites has no test set (its
    images are every combination of its factors): a run trains on all of
    them, labelled with their shape, and validates and is tested on a fixed
    sample of them (`keras_vae.data.dsprites.splits`).

    Args:
        name: a dataset of `DATASETS`.
        **options: `load`'s keyword arguments (for dSprites, ``data_dir`` only).

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_splits("dsprites")  # doctest: +SKIP
        >>> x_train.dtype, x_test.shape, y_test[:3]  # doctest: +SKIP
        (dtype('bool'), (10000, 64, 64, 1), array([0, 0, 0], dtype=int32))
    """
    if name == "dsprites":
        return dsprites.splits(*load(name, **options))
    return load(name, **options)
