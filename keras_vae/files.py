"""Writing files so that a crash never leaves a half-written one where a good one stood."""

import contextlib
import json
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; on success it replaces `path` in one step, else it is removed.

    Args:
        path: the file to write. The temporary keeps its suffixes (Keras checks `.keras` and `.weights.h5`,
            matplotlib `.png`).

    Example:
        >>> with atomic_path("out/model.keras") as tmp:
        ...     model.save(tmp)
    """
    path = Path(path)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                  suffix="".join(path.suffixes))
    os.close(handle)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; give it a normal file's mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path, value):
    """Writes `value` as indented JSON to `path`, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as file:
        json.dump(value, file, indent=2)
        file.write("\n")
