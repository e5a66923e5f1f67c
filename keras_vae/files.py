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
        path: the file to write. The temporary keeps its suffix (Keras checks `.keras`, matplotlib `.png`).

    Example:
        >>> with atomic_path("out/model.keras") as tmp:
        ...     model.save(tmp)
    """
    path = Path(path)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path, value):
    """Writes `value` as indented JSON to `path`, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as file:
        json.dump(value, file, indent=2)
        file.write("\n")
