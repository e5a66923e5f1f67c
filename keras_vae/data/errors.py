"""The errors raised for data files that exist but hold the wrong contents."""

from __future__ import annotations

import os
from pathlib import Path


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
