"""The file formats: gzipped or plain IDX files (`read_idx`) and Keras-style ``.npz`` files."""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from keras_vae.data.errors import DataFileError

# The canonical file names, keyed like the arrays of a Keras ``.npz``.
IDX_FILES: dict[str, str] = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}

_IDX_DIMS = {0x00000801: 1, 0x00000803: 3}  # magic number -> number of dims
_GZIP_MAGIC = b"\x1f\x8b"


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
