"""Figures of the tutorials this project grew from."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from keras_vae.files import atomic_path  # noqa: E402


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
    nrows = -(-len(images) // ncols)
    height, width, channels = images.shape[1:]
    canvas = np.ones((nrows * height, ncols * width, channels), images.dtype)
    for i, image in enumerate(images):
        row, col = divmod(i, ncols)
        canvas[row * height:(row + 1) * height, col * width:(col + 1) * width] = image
    figure, axes = plt.subplots(figsize=(ncols * 0.6, nrows * 0.6 + (0.4 if title else 0)))
    axes.imshow(canvas.squeeze(-1) if channels == 1 else canvas, cmap="gray_r", vmin=0, vmax=1)
    axes.axis("off")
    if title:
        axes.set_title(title)
    figure.tight_layout()
    if path is not None:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=100)
    return figure
