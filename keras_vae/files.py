"""Writing files so that a crash never leaves a half-written one where a good one stood."""

import contextlib
import glob
import json
import os
import shutil
import tempfile
from pathlib import Path

_PARTIAL = "partial-"  # the temporaries of `atomic_path` and `atomic_directory` are named .NAME.partial-XXXX...
_OLD = "-old"  # ... and a directory's previous version, while `atomic_directory` swaps in the new one, ...-old


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
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{_PARTIAL}",
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
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.{_PARTIAL}"))
    try:
        yield tmp
        _replace(tmp, path)
    finally:
        _remove(tmp)


def check_destination(path, overwrite, replaceable, kind, directory=True):
    """Refuses, before any work, a `path` that must not or cannot become what is about to be written there.

    Args:
        path: a `Path`: the directory (or, with `directory=False`, the file) to write.
        overwrite: whether an existing `path` may be replaced; it must also be `replaceable`.
        replaceable: a function of `path` saying whether it holds an earlier write of the same kind (an empty
            directory counts as one too), which is all that `overwrite` replaces.
        kind: what is written, as the errors name it, e.g. "preset folder".
        directory: whether `path` is a directory (else its parent must be one).

    Raises:
        FileExistsError: if `path` exists and `overwrite` is False, or it is not `replaceable`.
        NotADirectoryError: if a folder above `path` (or `path`, for a directory) is a file.

    Example:
        >>> check_destination(Path("presets/vae"), False, is_preset, "preset folder")
    """
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        empty = path.is_dir() and not any(path.iterdir())
        if not (replaceable(path) or (directory and empty)):
            raise FileExistsError(f"{path} exists and is not a {kind}: overwrite=True replaces only an earlier "
                                  f"{kind}; choose another path")
    check_directory(path if directory else path.parent, f"cannot write the {kind} to")


def check_directory(path, what):
    """Refuses, before any work, a directory that cannot be made because it, or the nearest existing folder above
    it, is a file.

    Args:
        path: the directory to write (it may not exist yet).
        what: how the error names it, e.g. "--out".

    Raises:
        NotADirectoryError: naming `path` and the file in the way.

    Example:
        >>> check_directory(Path("runs/vae"), "--out")
    """
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                raise NotADirectoryError(f"{what} {path}: {place} is a file, not a directory")
            return


def recover_directory(path):
    """Undoes what a crash left of an `atomic_directory(path)` write: call it before reading `path`.

    A crash between the two renames of a swap leaves no `path`, and its previous version beside it under a
    temporary name: that version is put back. Temporaries of writes that never finished are removed.

    Args:
        path: a `Path`, the directory `atomic_directory` writes.

    Example:
        >>> recover_directory(Path("runs/vae/backup"))   # then load the backup
    """
    pattern = f".{glob.escape(path.name)}.{_PARTIAL}*"
    for old in path.parent.glob(f"{pattern}{_OLD}"):
        if not path.exists():
            os.replace(old, path)
    for leftover in path.parent.glob(pattern):
        _remove(leftover)


def remove_partial_files(directory):
    """Removes the temporaries that `atomic_path` and `atomic_directory` writes cut short by a crash left in
    `directory` (after `recover_directory` has put back what it can)."""
    for leftover in Path(directory).glob(f".*.{_PARTIAL}*"):
        _remove(leftover)


def remove_directory(path):
    """Removes the directory `path` so that no crash leaves part of it under its name.

    It is renamed to a temporary first, which `remove_partial_files` deletes if a crash cuts `rmtree` short.

    Example:
        >>> remove_directory(Path("runs/vae/backup"))   # the run's outputs are all written
    """
    doomed = path.with_name(f".{path.name}.{_PARTIAL}removed")
    os.replace(path, doomed)
    _remove(doomed)


def _replace(new, path):
    """Renames `new` to `path`, removing what `path` held after the rename."""
    if not (path.exists() or path.is_symlink()):
        os.replace(new, path)
        return
    old = new.with_name(f"{new.name}{_OLD}")
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
