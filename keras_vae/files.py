"""Writing files so that a crash never leaves a half-written one where a good one stood."""

import contextlib
import json
import os
import shutil
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
        _remove(Path(tmp))


@contextlib.contextmanager
def atomic_directory(path):
    """The directory twin of `atomic_path`: yields an empty temporary directory beside `path`; on success it
    takes `path`'s place, else it is removed.

    An existing `path` is moved aside only once the new directory is complete, and put back if the final
    rename fails.

    Args:
        path: a `Path`, the directory to write; its parent is created if missing.

    Example:
        >>> with atomic_directory(Path("exports/conv_vae")) as tmp:
        ...     archive.write_out(str(tmp))
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield tmp
        _replace(tmp, path)
    finally:
        _remove(tmp)


def _replace(new, path):
    """Renames `new` to `path`, removing what `path` held after the rename."""
    if not (path.exists() or path.is_symlink()):
        os.replace(new, path)
        return
    old = new.with_name(f"{new.name}-old")
    os.replace(path, old)
    try:
        os.replace(new, path)
    except BaseException:
        os.replace(old, path)
        raise
    _remove(old)


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path, value):
    """Writes `value` as indented JSON to `path`, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as file:
        json.dump(value, file, indent=2)
        file.write("\n")
