"""Tests for keras_vae.data on the real MNIST files and small synthetic IDX files.

Every test runs offline: an autouse fixture points the Keras cache and the
Debian directory at empty temporary directories and makes the keras.datasets
downloads fail, so each test sets up exactly the places it needs.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_vae import data

pytestmark = pytest.mark.backend_independent  # file formats and NumPy arrays: no backend changes them


def _real_mnist_dir() -> Path | None:
    candidates = [Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"]
    if os.environ.get(data.ENV_VAR):
        candidates.append(Path(os.environ[data.ENV_VAR]) / "mnist")
    return next((d for d in candidates if (d / data.IDX_FILES["x_train"]).is_file()), None)


MNIST_DIR = _real_mnist_dir()  # Found before the fixture below hides the env var.
REAL_DEBIAN_ROOT = data.DEBIAN_DATA_ROOT
# md5 of the canonical gz files, as published on yann.lecun.com.
PUBLISHED_MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


def _no_network():
    raise OSError("downloads are disabled in tests")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Empty search places, no network and no variants allowed, unless a test sets them up."""
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.delenv(data.ALLOW_VARIANT_ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(data.sources, "DEBIAN_DATA_ROOT", tmp_path / "debian")
    for loader in ("mnist", "fashion_mnist"):
        monkeypatch.setattr(f"keras.datasets.{loader}.load_data", _no_network)


def _skip_without_mnist():
    if MNIST_DIR is None:
        pytest.skip(f"real MNIST IDX files not in ../shared/data/mnist or ${data.ENV_VAR}/mnist")


def _skip_without_fashion_mnist():
    if not (REAL_DEBIAN_ROOT / "fashion-mnist").is_dir():
        pytest.skip("Debian package dataset-fashion-mnist is not installed")


@pytest.fixture(scope="module")
def mnist():
    """The real MNIST files, loaded as canonical: without any opt-in for variants."""
    _skip_without_mnist()
    return data.load("mnist", data_dir=MNIST_DIR, allow_variant=False)


# --------------------------------------------------------------------------
# Helpers that write small data sets
# --------------------------------------------------------------------------


def encode_idx(array, *, magic=None, count=None, compress=True) -> bytes:
    """IDX bytes for ``array``; ``magic`` and ``count`` override the header."""
    array = np.asarray(array)
    magic = 0x0800 | array.ndim if magic is None else magic
    dims = (len(array) if count is None else count, *array.shape[1:])
    content = struct.pack(f">I{len(dims)}I", magic, *dims) + array.astype(np.uint8).tobytes()
    return gzip.compress(content) if compress else content


def synthetic(n_train=100, n_test=20, seed=0) -> dict[str, np.ndarray]:
    """Random uint8 images and labels, keyed like a Keras npz."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        arrays[f"x_{split}"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"y_{split}"] = rng.integers(0, 10, n, dtype=np.uint8)
    return arrays


def write_idx_dir(directory: Path, arrays) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for key, file_name in data.IDX_FILES.items():
        (directory / file_name).write_bytes(encode_idx(arrays[key]))
    return directory


def _to_uint8(images):
    """Float (N, 28, 28, 1) images in [0, 1] back to the uint8 (N, 28, 28) of the files."""
    return np.round(images[..., 0] * 255).astype(np.uint8)


def write_npz(path: Path, arrays) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


# --------------------------------------------------------------------------
# Real MNIST
# --------------------------------------------------------------------------


def test_real_mnist_shapes_dtypes_and_ranges(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    for x, y, n in ((x_train, y_train, 60_000), (x_test, y_test, 10_000)):
        assert x.shape == (n, 28, 28, 1) and x.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int32
        assert x.min() == 0.0 and x.max() == 1.0
        assert set(np.unique(y)) == set(range(10))


def test_the_published_mnist_files_load_without_opt_in(mnist):
    for file_name, md5 in PUBLISHED_MNIST_MD5.items():
        assert hashlib.md5((MNIST_DIR / file_name).read_bytes()).hexdigest() == md5
    assert len(mnist[0][0]) == 60_000  # The fixture loaded them with allow_variant=False.


def test_real_mnist_mean_pixel_is_the_known_value(mnist):
    (x_train, _), _ = mnist
    assert x_train.mean(dtype=np.float64) == pytest.approx(0.1307, abs=1e-3)


def test_load_returns_arrays_callers_can_change_safely(mnist):
    (x_train, y_train), _ = data.load("mnist", data_dir=MNIST_DIR)
    x_train[:] = 7.0
    y_train[:] = 7
    (x_again, y_again), _ = data.load("mnist", data_dir=MNIST_DIR)
    assert np.array_equal(x_again, mnist[0][0]) and np.array_equal(y_again, mnist[0][1])


def test_static_binarization_thresholds_at_half(mnist):
    (x_train, _), (x_test, _) = data.load("mnist", data_dir=MNIST_DIR, binarize="static")
    for binary, grey in ((x_train, mnist[0][0]), (x_test, mnist[1][0])):
        assert binary.dtype == np.float32 and np.array_equal(binary, grey > 0.5)


def test_dynamic_binarization_of_real_mnist(mnist):
    (train, y_train), (x_test, _) = data.load(
        "mnist", data_dir=MNIST_DIR, binarize="dynamic", batch_size=100, seed=3
    )
    (train_again, _), (x_test_again, _) = data.load(
        "mnist", data_dir=MNIST_DIR, binarize="dynamic", batch_size=100, seed=3
    )
    assert isinstance(train, data.DynamicBinarization) and len(train) == 600
    np.testing.assert_array_equal(y_train, mnist[0][1])
    (x5, y5), (x5_again, y5_again) = train[5], train_again[5]
    np.testing.assert_array_equal(x5, x5_again)
    np.testing.assert_array_equal(y5, y5_again)
    assert set(y5) <= set(range(10)) and len(y5) == len(x5) == 100
    np.testing.assert_array_equal(x_test, x_test_again)
    assert set(np.unique(x_test)) == {0.0, 1.0}
    assert x_test.mean() == pytest.approx(mnist[1][0].mean(), abs=2e-3)


def test_npz_written_from_real_data(tmp_path, mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    sliced = {"x_train": x_train[:100], "y_train": y_train[:100],
              "x_test": x_test[:30], "y_test": y_test[:30]}
    write_npz(
        tmp_path / "mnist.npz",
        {**sliced, "x_train": _to_uint8(sliced["x_train"]), "x_test": _to_uint8(sliced["x_test"])},
    )
    (x_train_npz, y_train_npz), (x_test_npz, y_test_npz) = data.load(
        "mnist", data_dir=tmp_path, allow_variant=True
    )
    loaded = {"x_train": x_train_npz, "y_train": y_train_npz,
              "x_test": x_test_npz, "y_test": y_test_npz}
    for key, array in sliced.items():
        np.testing.assert_array_equal(loaded[key], array, err_msg=key)


def test_fashion_mnist_from_the_debian_package(monkeypatch):
    _skip_without_fashion_mnist()
    monkeypatch.setattr(data.sources, "DEBIAN_DATA_ROOT", REAL_DEBIAN_ROOT)
    (x_train, y_train), (x_test, y_test) = data.load("fashion_mnist")
    assert x_train.shape == (60_000, 28, 28, 1) and x_test.shape == (10_000, 28, 28, 1)
    assert set(np.unique(y_train)) == set(np.unique(y_test)) == set(range(10))
    assert x_train.mean(dtype=np.float64) == pytest.approx(0.2860, abs=1e-3)


# --------------------------------------------------------------------------
# Where the files come from
# --------------------------------------------------------------------------

# Priority order; each place gets a data set with its own size, to tell them apart.
PLACES = ("data_dir", "env", "debian", "keras_cache")


def _populate(tmp_path: Path, place: str) -> None:
    arrays = synthetic(n_train=10 + PLACES.index(place))
    if place == "keras_cache":
        write_npz(tmp_path / "keras" / "datasets" / "mnist.npz", arrays)
    else:
        subdir = {"env": "env/mnist", "debian": "debian/mnist"}.get(place, place)
        write_idx_dir(tmp_path / subdir, arrays)


@pytest.mark.parametrize("winner", PLACES)
def test_first_place_with_files_wins(tmp_path, monkeypatch, winner):
    for place in PLACES[PLACES.index(winner):]:
        _populate(tmp_path, place)
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "env"))
    data_dir = tmp_path / "data_dir" if winner == "data_dir" else None
    (x_train, _), _ = data.load("mnist", data_dir=data_dir, allow_variant=True)
    assert len(x_train) == 10 + PLACES.index(winner)


@pytest.mark.parametrize(
    "name, place, layout",
    [
        ("fashion_mnist", "env/fashion_mnist", "idx"),
        ("fashion_mnist", "env/fashion-mnist", "idx"),
        ("fashion_mnist", "env", "npz"),
        ("fashion_mnist", "debian/fashion-mnist", "idx"),
        ("fashion_mnist", "keras/datasets/fashion-mnist", "idx"),
        ("mnist", "keras/datasets", "npz"),
    ],
)
def test_each_place_is_searched(tmp_path, monkeypatch, name, place, layout):
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "env"))
    arrays = synthetic(n_train=17)
    if layout == "idx":
        write_idx_dir(tmp_path / place, arrays)
    else:
        write_npz(tmp_path / place / f"{name}.npz", arrays)
    (x_train, _), _ = data.load(name, allow_variant=True)
    assert len(x_train) == 17


@pytest.mark.parametrize(
    "files",
    [(), ("README.md",), tuple(data.IDX_FILES.values())[:3]],
    ids=["missing-dir", "unrelated-file", "three-of-four-idx-files"],
)
def test_explicit_data_dir_without_files_does_not_fall_back(tmp_path, monkeypatch, files):
    _populate(tmp_path, "env")
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "env"))
    data_dir = tmp_path / "given"
    for file_name in files:
        data_dir.mkdir(exist_ok=True)
        (data_dir / file_name).write_bytes(b"")
    with pytest.raises(FileNotFoundError) as info:
        data.load("mnist", data_dir=data_dir)
    for expected in (str(data_dir), "train-images-idx3-ubyte.gz", "mnist.npz"):
        assert expected in str(info.value)


def test_nothing_found_lists_places_and_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError) as info:
        data.load("fashion_mnist")
    message = str(info.value)
    for expected in (
        str(tmp_path / "env" / "fashion_mnist"),
        str(tmp_path / "env" / "fashion-mnist"),
        str(tmp_path / "debian" / "fashion-mnist"),
        str(tmp_path / "keras" / "datasets" / "fashion-mnist"),
        "downloads are disabled in tests",
        data.ENV_VAR,
        "apt-get install dataset-fashion-mnist",
        "internet",
    ):
        assert expected in message


def test_download_is_the_last_resort(monkeypatch):
    arrays = synthetic(n_train=12, n_test=3)
    downloaded = ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"]))
    monkeypatch.setattr("keras.datasets.mnist.load_data", lambda: downloaded)
    (x_train, y_train), (x_test, _) = data.load("mnist")
    assert x_train.shape == (12, 28, 28, 1) and x_test.shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(y_train, arrays["y_train"])


def test_repeated_loads_reuse_decoded_files(tmp_path, monkeypatch):
    write_idx_dir(tmp_path, synthetic())
    reads, read_idx = [], data.read_idx
    monkeypatch.setattr(data.loading, "read_idx", lambda path: reads.append(path) or read_idx(path))
    data.load("mnist", data_dir=tmp_path, allow_variant=True)
    data.load("mnist", data_dir=tmp_path, binarize="static", allow_variant=True)
    assert len(reads) == 4
    write_idx_dir(tmp_path, synthetic(n_train=50))  # New files must be read again.
    (x_train, _), _ = data.load("mnist", data_dir=tmp_path, allow_variant=True)
    assert len(reads) == 8 and len(x_train) == 50


@pytest.mark.parametrize(
    "name, suggestion", [("mnst", "mnist"), ("fashion-mnist", "fashion_mnist")]
)
def test_unknown_dataset_suggests_close_match(name, suggestion):
    with pytest.raises(ValueError, match=f"Did you mean '{suggestion}'") as info:
        data.load(name)
    assert "'mnist', 'fashion_mnist'" in str(info.value)


def test_unknown_binarize_lists_allowed_values():
    with pytest.raises(ValueError, match="None, 'static', 'dynamic'; got 'bernoulli'"):
        data.load("mnist", binarize="bernoulli")


# --------------------------------------------------------------------------
# Which dataset the files are
# --------------------------------------------------------------------------


def _real_files(dataset: str) -> Path:
    if dataset == "mnist":
        _skip_without_mnist()
        return MNIST_DIR
    _skip_without_fashion_mnist()
    return REAL_DEBIAN_ROOT / "fashion-mnist"


def _link_files(directory: Path, source: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for file_name in data.IDX_FILES.values():
        (directory / file_name).symlink_to(source / file_name)
    return directory


@pytest.mark.parametrize("files, asked", [("mnist", "fashion_mnist"), ("fashion_mnist", "mnist")])
def test_the_other_datasets_files_are_named_as_such(tmp_path, monkeypatch, files, asked):
    root = _link_files(tmp_path / "data", _real_files(files))  # Same names for both datasets.
    monkeypatch.setenv(data.ENV_VAR, str(root))
    with pytest.raises(data.DatasetMismatchError) as info:
        data.load(asked)
    assert (info.value.expected, info.value.found) == (asked, files)
    assert info.value.path.parent == root
    message = str(info.value)
    for expected in (
        str(info.value.path),
        f"this file is {files!r} data",
        f"{root / asked}/",
        f"{data.ENV_VAR}={root}",
        f"keras_vae.data.load({files!r})",
        "allow_variant=True",
        f"{data.ALLOW_VARIANT_ENV_VAR}=1",
    ):
        assert expected in message


def test_a_modified_copy_is_refused_unless_allowed(tmp_path, mnist):
    directory = tmp_path / "mine"
    directory.mkdir()
    labels_file = data.IDX_FILES["y_train"]
    for file_name in data.IDX_FILES.values():
        if file_name != labels_file:
            (directory / file_name).symlink_to(MNIST_DIR / file_name)
    content = bytearray(gzip.decompress((MNIST_DIR / labels_file).read_bytes()))
    content[-1] = (content[-1] + 1) % 10  # One label of the last training image.
    (directory / labels_file).write_bytes(gzip.compress(bytes(content)))

    with pytest.raises(data.DatasetMismatchError) as info:
        data.load("mnist", data_dir=directory)
    assert info.value.path == directory / labels_file and info.value.found is None
    for expected in ("y_train", "differs from the canonical mnist", "allow_variant=True",
                     f"{data.ALLOW_VARIANT_ENV_VAR}=1"):
        assert expected in str(info.value)

    (x_train, y_train), _ = data.load("mnist", data_dir=directory, allow_variant=True)
    assert x_train.shape == mnist[0][0].shape
    np.testing.assert_array_equal(y_train[:-1], mnist[0][1][:-1])
    assert y_train[-1] == (mnist[0][1][-1] + 1) % 10


@pytest.mark.parametrize(
    "environment, argument, loads",
    [("1", None, True), ("true", None, True), ("0", None, False), ("1", False, False)],
)
def test_allow_variant_defaults_to_the_environment(tmp_path, monkeypatch, environment, argument, loads):
    write_idx_dir(tmp_path, synthetic())
    monkeypatch.setenv(data.ALLOW_VARIANT_ENV_VAR, environment)
    if loads:
        data.load("mnist", data_dir=tmp_path, allow_variant=argument)
    else:
        with pytest.raises(data.DatasetMismatchError):
            data.load("mnist", data_dir=tmp_path, allow_variant=argument)


def test_unclear_allow_variant_environment_is_an_error(monkeypatch):
    monkeypatch.setenv(data.ALLOW_VARIANT_ENV_VAR, "sometimes")
    with pytest.raises(ValueError, match=f"{data.ALLOW_VARIANT_ENV_VAR} must be 1 .* got 'sometimes'"):
        data.load("mnist")


def test_keras_mnist_npz_is_known_by_its_published_file_hash(tmp_path, monkeypatch):
    path = write_npz(tmp_path / "mnist.npz", synthetic())
    # Offline there is no real mnist.npz; stand one in for the hash keras.datasets checks.
    monkeypatch.setattr(data.canonical, "_KERAS_MNIST_NPZ_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    (x_train, _), _ = data.load("mnist", data_dir=path)
    assert len(x_train) == 100
    with pytest.raises(data.DatasetMismatchError) as info:
        data.load("fashion_mnist", data_dir=path)
    assert info.value.found == "mnist" and info.value.path == path


# --------------------------------------------------------------------------
# Corrupt files
# --------------------------------------------------------------------------


def _flip_middle(blob: bytes) -> bytes:
    start, stop = len(blob) // 2, len(blob) // 2 + 16
    return blob[:start] + bytes(b ^ 0xFF for b in blob[start:stop]) + blob[stop:]


def _label_ten(labels):
    labels = labels.copy()
    labels[-1] = 10
    return encode_idx(labels)


CORRUPTIONS = [
    pytest.param("x_train", lambda a: encode_idx(a)[:-100], "gzip", id="truncated-gzip"),
    pytest.param("x_test", lambda a: _flip_middle(encode_idx(a)), "gzip", id="corrupt-gzip"),
    pytest.param("y_train", lambda a: b"<html>Not Found</html>", "magic number", id="garbage"),
    pytest.param("x_train", lambda a: encode_idx(a, magic=0x0802), "0x00000802", id="wrong-magic"),
    pytest.param(
        "x_train", lambda a: encode_idx(a, count=len(a) + 1), "need 79184 data bytes, found 78400",
        id="count-above-payload",
    ),
    pytest.param(
        "y_test", lambda a: encode_idx(a, count=len(a) - 1), "need 19 data bytes, found 20",
        id="payload-above-count",
    ),
    pytest.param("y_train", _label_ten, "labels must lie in [0, 10)", id="label-out-of-range"),
    pytest.param("y_test", lambda a: encode_idx(a[:-1]), "19 labels, but", id="count-mismatch"),
    pytest.param(
        "x_train", lambda a: encode_idx(a[:, :27]), "images of shape (N, 28, 28)", id="not-28x28"
    ),
    pytest.param(
        "y_train", lambda a: encode_idx(np.zeros((len(a), 2, 2))), "integer labels of shape (N,)",
        id="labels-file-holds-images",
    ),
]


@pytest.mark.parametrize("key, corrupt, fragment", CORRUPTIONS)
def test_corrupt_idx_file_is_named(tmp_path, key, corrupt, fragment):
    arrays = synthetic()
    write_idx_dir(tmp_path, arrays)
    bad = tmp_path / data.IDX_FILES[key]
    bad.write_bytes(corrupt(arrays[key]))
    with pytest.raises(data.DataFileError) as info:
        data.load("mnist", data_dir=tmp_path)
    assert info.value.path == bad
    assert str(bad) in str(info.value) and fragment in str(info.value)


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda arrays: arrays.pop("y_test"), "missing arrays ['y_test']"),
        (lambda arrays: arrays.update(x_train=arrays["x_train"][:, :, :27]), "(N, 28, 28)"),
        (lambda arrays: arrays.update(x_test=arrays["x_test"] / 255), "uint8"),
    ],
    ids=["missing-key", "wrong-shape", "float-pixels"],
)
def test_bad_npz_is_named(tmp_path, change, fragment):
    arrays = synthetic()
    change(arrays)
    path = write_npz(tmp_path / "mnist.npz", arrays)
    with pytest.raises(data.DataFileError, match=r"mnist\.npz") as info:
        data.load("mnist", data_dir=tmp_path)
    assert str(path) in str(info.value) and fragment in str(info.value)


def test_npz_that_is_not_a_zip_is_named(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(data.DataFileError, match="not a readable .npz file") as info:
        data.load("mnist", data_dir=tmp_path)
    assert info.value.path == path


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_read_idx_round_trip(tmp_path, compress):
    images = synthetic()["x_test"]
    path = tmp_path / "images.idx"
    path.write_bytes(encode_idx(images, compress=compress))
    result = data.read_idx(path)
    assert result.dtype == np.uint8 and not result.flags.writeable
    np.testing.assert_array_equal(result, images)


# --------------------------------------------------------------------------
# DynamicBinarization
# --------------------------------------------------------------------------


@pytest.fixture
def probabilities():
    return np.random.default_rng(0).random((50, 4, 4, 1), dtype=np.float32)


@pytest.mark.parametrize("n, batch_size, batches", [(50, 16, 4), (48, 16, 3), (1, 128, 1)])
def test_dynamic_batch_count(probabilities, n, batch_size, batches):
    dataset = data.DynamicBinarization(probabilities[:n], batch_size=batch_size)
    assert len(dataset) == batches
    sizes = [len(batch) for batch in dataset]
    assert sum(sizes) == n and len(sizes) == batches


def test_dynamic_draws_are_binary_float32(probabilities):
    batch = data.DynamicBinarization(probabilities, batch_size=16)[0]
    assert batch.dtype == np.float32 and batch.shape == (16, 4, 4, 1)
    assert set(np.unique(batch)) <= {0.0, 1.0}


@pytest.mark.parametrize("shuffle", [True, False])
def test_dynamic_epochs_differ_and_seed_reproduces(probabilities, shuffle):
    first, twin, other = (
        data.DynamicBinarization(probabilities, batch_size=16, shuffle=shuffle, seed=seed)
        for seed in (1, 1, 2)
    )
    np.testing.assert_array_equal(first[0], twin[0])
    assert not np.array_equal(first[0], other[0])
    first.on_epoch_end()
    assert not np.array_equal(first[0], twin[0])
    twin.on_epoch_end()
    np.testing.assert_array_equal(first[0], twin[0])


def test_dynamic_mean_matches_probability():
    dataset = data.DynamicBinarization(np.full((200, 10, 10, 1), 0.3), batch_size=200)
    assert dataset[0].mean() == pytest.approx(0.3, abs=0.02)


@pytest.mark.parametrize("shuffle", [True, False])
def test_dynamic_labels_follow_their_images(shuffle):
    labels = np.arange(40) % 2
    images = np.broadcast_to(labels[:, None, None, None], (40, 3, 3, 1)).astype(np.float64)
    dataset = data.DynamicBinarization(images, labels, batch_size=16, shuffle=shuffle)
    seen = []
    for x, y in dataset:
        np.testing.assert_array_equal(x.mean(axis=(1, 2, 3)), y)
        seen.append(y)
    order = np.concatenate(seen)
    assert sorted(order) == sorted(labels)
    assert np.array_equal(order, labels) != shuffle


def test_dynamic_index_out_of_range(probabilities):
    with pytest.raises(IndexError, match="out of range"):
        data.DynamicBinarization(probabilities, batch_size=16)[4]


@pytest.mark.parametrize(
    "images, labels, batch_size, fragment",
    [
        (np.zeros((4, 2), np.uint8), None, 8, "float array"),
        (np.array([[0.5, np.nan]]), None, 8, "1 NaN"),
        (np.array([[0.5, 1.5]]), None, 8, "[0, 1]"),
        (np.array([[-0.1, 0.5]]), None, 8, "[0, 1]"),
        (np.zeros((4, 2)), np.zeros(3), 8, "3 labels for 4 images"),
        (np.zeros((4, 2)), None, 0, "batch_size must be a positive integer"),
    ],
    ids=["uint8", "nan", "above-one", "negative", "label-count", "batch-size"],
)
def test_dynamic_rejects_bad_input(images, labels, batch_size, fragment):
    with pytest.raises(ValueError) as info:
        data.DynamicBinarization(images, labels, batch_size=batch_size)
    assert fragment in str(info.value)


def test_fit_advances_dynamic_epochs(probabilities):
    dataset = data.DynamicBinarization(probabilities, probabilities, batch_size=25)
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(dataset, epochs=2, verbose=0)
    assert dataset.epoch >= 2  # Keras also calls on_epoch_end once while setting up.


# --------------------------------------------------------------------------
# check_images
# --------------------------------------------------------------------------


def _with_nans(count):
    images = np.zeros((2, 28, 28, 1))
    images.flat[:count] = np.nan
    return images


@pytest.mark.parametrize(
    "images, fragment",
    [
        (np.zeros((2, 28, 28)), "add a channel axis: x[..., None]"),
        (np.zeros((2, 28, 28, 3)), "got (2, 28, 28, 3), expected (N, 28, 28, 1)"),
        (np.zeros((2, 784)), "got rank 2"),
        (_with_nans(3), "3 NaN and 0 Inf"),
        (np.full((2, 28, 28, 1), np.inf), "0 NaN and 1568 Inf"),
        (np.full((2, 28, 28, 1), 255, np.uint8), "divide uint8 images by 255"),
        (np.full((2, 28, 28, 1), -0.5), "must lie in [0, 1]"),
        (np.zeros((0, 28, 28, 1)), "empty"),
        (np.full((2, 28, 28, 1), "a"), "numeric"),
    ],
    ids=["rank-3", "wrong-shape", "flat", "nan", "inf", "0-255", "negative", "empty", "text"],
)
def test_check_images_rejects(images, fragment):
    with pytest.raises(ValueError) as info:
        data.check_images(images, name="x", image_shape=(28, 28, 1))
    assert str(info.value).startswith("x ") and fragment in str(info.value)


@pytest.mark.parametrize(
    "images", [np.linspace(0, 1, 2 * 28 * 28).reshape(2, 28, 28, 1), [[[[0.0], [1.0]]]]]
)
def test_check_images_accepts_valid_input_as_float32(images):
    checked = data.check_images(images)
    assert checked.dtype == np.float32
    np.testing.assert_allclose(checked, images)


def test_check_images_passes_other_objects_through():
    tensor = object()
    assert data.check_images(tensor, image_shape=(28, 28, 1)) is tensor


# --------------------------------------------------------------------------
# load_tfds
# --------------------------------------------------------------------------


def test_load_tfds_without_prepared_data_explains_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        data.load_tfds("mnist", data_dir=tmp_path)
    for expected in (str(tmp_path), "tfds build mnist", "keras_vae.data.load('mnist')"):
        assert expected in str(info.value)


@pytest.mark.parametrize("binarize", [None, "static", "dynamic"])
def test_load_tfds_pipeline_on_mock_data(binarize):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=8):
        dataset = data.load_tfds("mnist", batch_size=4, binarize=binarize, shuffle=False)
        epochs = [[(x.numpy(), y.numpy()) for x, y in dataset] for _ in range(2)]
    assert len(epochs[0]) == 2
    x, y = epochs[0][0]
    assert x.shape == (4, 28, 28, 1) and x.dtype == np.float32 and y.dtype == np.int32
    assert 0.0 <= x.min() and x.max() <= 1.0
    if binarize is not None:
        assert set(np.unique(x)) <= {0.0, 1.0}
    draws_differ = not np.array_equal(epochs[0][0][0], epochs[1][0][0])
    assert draws_differ == (binarize == "dynamic")


def test_steps_per_epoch_takes_the_first_batches_of_each_epochs_order():
    images = np.arange(50, dtype=np.float32)[:, None, None, None] / 50  # each image tells its row
    full, cut = (data.EpochBatches(images, batch_size=8, seed=3, steps=steps) for steps in (None, 2))
    assert (len(full), len(cut)) == (7, 2)
    for epoch in range(2):
        full.set_epoch(epoch)
        cut.set_epoch(epoch)
        np.testing.assert_array_equal(np.concatenate([cut[0], cut[1]]), np.concatenate([full[0], full[1]]))
    with pytest.raises(IndexError):
        cut[2]
    for steps in (0, 8, 2.0):
        with pytest.raises(ValueError, match="steps must be a positive integer of at most 7"):
            data.EpochBatches(images, batch_size=8, steps=steps)
