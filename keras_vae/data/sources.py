"""Where the files may be: the places searched, in order, and the download that comes last."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from keras_vae.data.formats import IDX_FILES
from keras_vae.dataset_specs import DatasetSpec

ENV_VAR = "KERAS_VAE_DATA_DIR"
DEBIAN_DATA_ROOT = Path("/usr/share/datasets")


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
