"""What every figure shares: pyplot-free figures, images tiled into rows, class colours, atomic PNG saving.

Figures are made with `matplotlib.figure.Figure`, not `pyplot`: nothing here picks a matplotlib backend or
keeps figures alive in a global registry, so the functions are safe in scripts, servers and notebooks (a
notebook shows a returned Figure as it shows any other).
"""

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from keras_vae.files import atomic_path

#: pixels per inch of the saved PNGs
DPI = 100
#: grey levels: ink (1.0) black on white paper, the gaps between tiles light grey
IMAGE_CMAP = matplotlib.colormaps["gray_r"].with_extremes(bad="#d0d0d0")
#: inches one image tile takes in a figure of image rows
TILE_INCHES = 0.5


def new_figure(width, height, **subplots):
    """A Figure of `width` x `height` inches with constrained layout and `figure.subplots(**subplots)`.

    Returns:
        `(figure, axes)`, as `pyplot.subplots` would.
    """
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return figure, figure.subplots(**subplots)


def save(figure, path):
    """Writes `figure` to `path` as a PNG, atomically (a crash leaves any earlier file as it was).

    Args:
        figure: a matplotlib Figure.
        path: the file to write; None writes nothing.

    Returns:
        The figure, so a plot function can end with `return save(figure, path)`.
    """
    if path is not None:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format="png", dpi=DPI)
    return figure


def class_colors(num_classes):
    """One distinct colour per class: tab10 for up to 10 classes, tab20 for up to 20, else a continuous map."""
    if num_classes <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(num_classes)]
    if num_classes <= 20:
        return [matplotlib.colormaps["tab20"](i) for i in range(num_classes)]
    return [matplotlib.colormaps["viridis"](i / (num_classes - 1)) for i in range(num_classes)]


def class_names_for(model, labels=None, class_names=None):
    """The names of the classes a figure shows: `class_names`, else the label numbers as text.

    There are `model.num_classes` classes for a conditional model, else `len(class_names)`, else as many as
    the largest label says.

    Raises:
        ValueError: if `class_names` does not name every class, or a label has no class.
    """
    count = model.num_classes or (len(class_names) if class_names is not None else int(np.max(labels)) + 1)
    if class_names is not None and len(class_names) != count:
        raise ValueError(f"class_names must name {count} classes, got {len(class_names)}")
    if labels is not None and (np.min(labels) < 0 or np.max(labels) >= count):
        raise ValueError(f"labels must lie in [0, {count}), got values from {np.min(labels)} to {np.max(labels)}")
    return [str(name) for name in class_names] if class_names is not None else [str(i) for i in range(count)]


def tile(rows, gap=2):
    """Lays rows of images out on one canvas, with `gap` pixels (NaN, drawn light grey) between tiles.

    Args:
        rows: a list of arrays of shape (k, height, width, channels); rows may hold different numbers of
            images, and a short row leaves its end blank.
        gap: pixels between neighbouring tiles.

    Returns:
        A float array (rows * (height + gap) - gap, cols * (width + gap) - gap[, channels]) whose last axis
        is dropped for one-channel images.
    """
    height, width, channels = rows[0].shape[1:]
    ncols = max(len(row) for row in rows)
    canvas = np.full((len(rows) * (height + gap) - gap, ncols * (width + gap) - gap, channels), np.nan)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            top, left = r * (height + gap), c * (width + gap)
            canvas[top:top + height, left:left + width] = image
    return canvas[..., 0] if channels == 1 else canvas


def image_rows(rows, row_labels=None, col_labels=None, title=None, gap=2):
    """A figure of image rows, with a label beside each row and under each column.

    Args:
        rows: a list of arrays of shape (k, height, width, channels) with values in [0, 1].
        row_labels: one text per row (shown on the left), or None.
        col_labels: one text per column (shown below), or None.
        title: the axes title, or None.
        gap: pixels between tiles.

    Returns:
        The Figure; its single axes shows the canvas of `tile(rows, gap)`.
    """
    rows = [np.asarray(row) for row in rows]
    if not rows or any(row.ndim != 4 or len(row) == 0 for row in rows):
        raise ValueError(f"rows must be non-empty arrays of shape (n, height, width, channels), got shapes "
                         f"{[row.shape for row in rows]}")
    height, width = rows[0].shape[1:3]
    ncols = max(len(row) for row in rows)
    row_labels = [] if row_labels is None else [str(label) for label in row_labels]
    col_labels = [] if col_labels is None else [str(label) for label in col_labels]
    title_lines = title.splitlines() if title else []
    tile_width, tile_height = TILE_INCHES * width / 28, TILE_INCHES * height / 28
    col_chars = max(map(len, col_labels), default=0)
    tilt = col_chars * 0.08 > tile_width  # column labels wider than a tile are slanted
    left = 0.12 * max(map(len, row_labels)) + 0.3 if row_labels else 0.0
    below = (0.06 * col_chars + 0.2) if tilt else 0.35 if col_labels else 0.1
    figure, axes = new_figure(max(ncols * tile_width + left + 0.3, 0.1 * max(map(len, title_lines), default=0) + 0.4),
                              len(rows) * tile_height + 0.25 * len(title_lines) + 0.15 + below)
    axes.imshow(tile(rows, gap), cmap=IMAGE_CMAP, vmin=0, vmax=1, interpolation="nearest")
    for spine in axes.spines.values():
        spine.set_visible(False)
    axes.set_xticks([c * (width + gap) + (width - 1) / 2 for c in range(len(col_labels))], col_labels)
    axes.set_yticks([r * (height + gap) + (height - 1) / 2 for r in range(len(row_labels))], row_labels)
    axes.tick_params(length=0)
    if tilt:
        axes.tick_params(axis="x", labelrotation=40)
        for label in axes.get_xticklabels():
            label.set_horizontalalignment("right")
    if title:
        axes.set_title(title)
    return figure


def image_grid(images, ncols=10, title=None, path=None):
    """Shows images in a grid, row by row.

    Args:
        images: array of shape (n, height, width, channels) with values in [0, 1].
        ncols: images per row.
        title: optional figure title.
        path: optional PNG path to save the figure to (written atomically).

    Returns:
        The matplotlib Figure.

    Example:
        >>> image_grid(model.sample(100, seed=0), title="samples", path="samples.png")
    """
    images = np.asarray(images)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must have shape (n, height, width, channels) with n > 0, got {images.shape}")
    return save(image_rows([images[i:i + ncols] for i in range(0, len(images), ncols)], title=title), path)
