"""Which dataset files hold: the SHA-256 of the canonical arrays, and the checks and messages built on them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from keras_vae.data.errors import DatasetMismatchError
from keras_vae.data.sources import ENV_VAR, _Source
from keras_vae.dataset_specs import DATASETS

ALLOW_VARIANT_ENV_VAR = "KERAS_VAE_ALLOW_VARIANT"

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


class _Decoded(NamedTuple):
    """The validated arrays of a source, where each came from, and what they are."""

    arrays: dict[str, np.ndarray]
    where: dict[str, Path]
    digests: dict[str, str]  # SHA-256 of each array's uint8 data.
    holds: dict[str, str | None]  # The canonical dataset of each array, if any.


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
