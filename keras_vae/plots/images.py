"""Figures made of decoded images: reconstructions, prior samples, class means, the latent manifold and
interpolations between classes (a strip, and an animated GIF).
"""

from pathlib import Path

import numpy as np
from PIL import Image

from keras_vae.data import check_images
from keras_vae.files import atomic_path
from keras_vae.models.vq_vae import is_quantized
from keras_vae.plots import encodings
from keras_vae.plots.canvas import IMAGE_CMAP, class_names_for, image_rows, new_figure, save

#: most tiles a manifold may decode (a 100 x 100 grid)
MAX_MANIFOLD_TILES = 10_000


def reconstructions(model, images, labels=None, n=10, ncols=10, path=None):
    """Originals above their reconstructions (`model.reconstruct`: the decoded latent mean).

    Args:
        model: a zoo model.
        images: float images in [0, 1]; the first `n` are shown.
        labels: their labels, needed by a conditional model only.
        n: how many images to show.
        ncols: images per row; each row of originals is followed by its row of reconstructions.
        path: optional PNG to write (atomically).

    Returns:
        The matplotlib Figure.

    Example:
        >>> reconstructions(zoo.get("conv_vae", pretrained=True), x_test, n=20, path="reconstructions.png")
    """
    images = check_images(images, image_shape=model.image_shape)[:n]
    rebuilt = encodings.reconstructed(model, images, None if labels is None else np.asarray(labels)[:n])
    rows = []
    for start in range(0, len(images), ncols):
        rows += [images[start:start + ncols], rebuilt[start:start + ncols]]
    figure = image_rows(rows, row_labels=["original", "reconstruction"] * (len(rows) // 2),
                        title=f"{len(images)} images (above) and their reconstructions (below)")
    return save(figure, path)


def samples(model, n=100, seed=0, ncols=10, class_names=None, path=None):
    """Decoded draws from the prior (N(0, I); a VQ-VAE's PixelCNN over codes); a conditional model draws one row
    per class.

    Args:
        model: a VAE or a VQ-VAE of the zoo. An autoencoder has no prior: it raises NotImplementedError.
        n: number of draws (unconditional models).
        seed: int seed of the draws.
        ncols: images per row (for a conditional model, draws per class).
        class_names: names of the classes for the row labels (conditional models).
        path: optional PNG to write.

    Returns:
        The matplotlib Figure.

    Example:
        >>> samples(zoo.get("cvae", pretrained=True), ncols=12, path="cvae-samples.png")
    """
    if model.num_classes:
        names = class_names_for(model, class_names=class_names)
        drawn = encodings.sampled(model, model.num_classes * ncols, seed,
                                  labels=np.repeat(np.arange(model.num_classes), ncols))
        rows = np.split(drawn, model.num_classes)
        figure = image_rows(rows, row_labels=names,
                            title=f"samples from the prior, one row per class (seed {seed})")
    else:
        drawn = encodings.sampled(model, n, seed)
        rows = [drawn[i:i + ncols] for i in range(0, n, ncols)]
        prior = "the PixelCNN prior over codes" if is_quantized(model) else "the prior N(0, I)"
        figure = image_rows(rows, title=f"{n} samples from {prior} (seed {seed})")
    return save(figure, path)


def class_means(model, images, labels, class_names=None, path=None):
    """The decoding of each class's mean latent vector (for a conditional model, decoded with that class).

    Args:
        model: a zoo model.
        images: float images in [0, 1], with every class present.
        labels: their integer labels.
        class_names: names of the classes (default: the label numbers).
        path: optional PNG to write.

    Returns:
        The matplotlib Figure.

    Example:
        >>> class_means(zoo.get("vae", pretrained=True), x_test, y_test, path="class_means.png")
    """
    images, labels = encodings.check_labelled(model, images, labels)
    names = class_names_for(model, labels, class_names)
    num_classes = len(names)
    means = encodings.class_means(encodings.codes(model, images, labels), labels, num_classes)
    decoded = encodings.decoded(model, means, np.arange(num_classes) if model.num_classes else None)
    figure = image_rows([decoded], col_labels=names,
                        title=f"decoded class means of the {encodings.latent_name(model)} of {len(images):,} images")
    return save(figure, path)


def _axis(start, stop, step, name):
    """The coordinates start, start + step, ... up to stop (inclusive, within rounding)."""
    if not (np.isfinite(start) and np.isfinite(stop)) or not start < stop:
        raise ValueError(f"the {name} range must go from a smaller to a larger finite number, got {start} to {stop}")
    return start + step * np.arange(int(np.floor((stop - start) / step + 1e-9)) + 1)


def manifold(model, x_range=(-3.0, 3.0), y_range=(-3.0, 3.0), step=0.25, dims=(0, 1), label=None, path=None):
    """Decodings of a regular grid of latent points: the learned manifold, ticks in latent units.

    The tile at (x, y) shows `decode(z)` with z[dims[0]] = x, z[dims[1]] = y and every other latent
    coordinate 0 (the prior's mean).

    Args:
        model: a zoo model.
        x_range: (x0, x1), the range of z[dims[0]], left to right.
        y_range: (y0, y1), the range of z[dims[1]], bottom to top.
        step: distance between neighbouring tiles, in latent units.
        dims: the two latent coordinates that vary.
        label: the class to decode, for a conditional model only.
        path: optional PNG to write.

    Returns:
        The matplotlib Figure; its axes' image holds the decoded grid.

    Example:
        >>> manifold(zoo.get("vae", pretrained=True), (-2, 2), (-2, 2), step=0.2, path="manifold.png")
    """
    if not (isinstance(step, (int, float)) and np.isfinite(step) and step > 0):
        raise ValueError(f"step must be a positive number, got {step!r}")
    xs, ys = _axis(*x_range, step, "x"), _axis(*y_range, step, "y")[::-1]
    if len(xs) * len(ys) > MAX_MANIFOLD_TILES:
        raise ValueError(f"a step of {step} makes a {len(ys)} x {len(xs)} grid; at most {MAX_MANIFOLD_TILES:,} "
                         f"tiles are drawn: take a larger step or a smaller range")
    dims = tuple(dims)
    if len(dims) != 2 or dims[0] == dims[1] or not all(0 <= d < model.latent_dim for d in dims):
        raise ValueError(f"dims must be two different latent coordinates in [0, {model.latent_dim}), got {dims}")
    if model.num_classes and label is None:
        raise ValueError(f"{type(model).__name__} is conditional: pass the class to decode as label=")
    z = np.zeros((len(ys) * len(xs), model.latent_dim), "float32")
    z[:, dims[0]] = np.tile(xs, len(ys))
    z[:, dims[1]] = np.repeat(ys, len(xs))
    decoded = encodings.decoded(model, z, label)
    height, width = model.image_shape[:2]
    canvas = decoded.reshape(len(ys), len(xs), height, width, -1).transpose(0, 2, 1, 3, 4).reshape(
        len(ys) * height, len(xs) * width, -1)
    tile_inches = 0.36
    figure, axes = new_figure(len(xs) * tile_inches + 1.0, len(ys) * tile_inches + 1.0)
    half = step / 2
    axes.imshow(canvas[..., 0] if canvas.shape[-1] == 1 else canvas, cmap=IMAGE_CMAP, vmin=0, vmax=1,
                extent=(xs[0] - half, xs[-1] + half, ys[-1] - half, ys[0] + half), interpolation="nearest")
    axes.set_xlabel(f"z[{dims[0]}]")
    axes.set_ylabel(f"z[{dims[1]}]")
    held = f", the other {model.latent_dim - 2} coordinates at 0" if model.latent_dim > 2 else ""
    condition = f", class {label}" if model.num_classes else ""
    axes.set_title(f"decodings over z[{dims[0]}] in [{xs[0]:.4g}, {xs[-1]:.4g}], z[{dims[1]}] in "
                   f"[{ys[-1]:.4g}, {ys[0]:.4g}]\nstep {step:.4g}{held}{condition}")
    return save(figure, path)


def _gif_frames(images, scale=4):
    """Each image enlarged `scale` times in black ink on white, above a bar showing how far along it is."""
    frames = []
    for i, image in enumerate(images):
        ink = np.clip(image[..., 0] if image.shape[-1] == 1 else image.mean(axis=-1), 0, 1)
        pixels = np.kron(255 - np.round(ink * 255), np.ones((scale, scale)))
        bar = np.full((scale * 2, pixels.shape[1]), 255.0)
        bar[:, :max(1, round(pixels.shape[1] * i / max(1, len(images) - 1)))] = 96
        frames.append(Image.fromarray(np.vstack([pixels, bar]).astype(np.uint8), mode="L"))
    return frames


def interpolation(model, images, labels, start, end, steps=10, class_names=None, path=None, gif=None,
                  frame_ms=150):
    """Decodings along the straight line between two classes' mean latent vectors, as a strip and a GIF.

    For a conditional model the condition moves too, from the one-hot vector of `start` to that of `end`.

    Args:
        model: a zoo model.
        images: float images in [0, 1] holding both classes.
        labels: their integer labels.
        start: the class the line starts from.
        end: the class it ends at.
        steps: decodings along the line, both ends included (at least 2).
        class_names: names of the classes (default: the label numbers).
        path: optional PNG of the strip.
        gif: optional path of an animated GIF with one frame per step, looping.
        frame_ms: how long each GIF frame shows, in milliseconds.

    Returns:
        The matplotlib Figure of the strip.

    Example:
        >>> interpolation(vae, x_test, y_test, start=3, end=8, steps=12, gif="3-to-8.gif")
    """
    images, labels = encodings.check_labelled(model, images, labels)
    names = class_names_for(model, labels, class_names)
    num_classes = len(names)
    for which, value in (("start", start), ("end", end)):
        if not isinstance(value, (int, np.integer)) or not 0 <= value < num_classes:
            raise ValueError(f"{which} must be a class in [0, {num_classes}), got {value!r}")
    if not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"steps must be an int of at least 2, got {steps!r}")
    means = encodings.class_means(encodings.codes(model, images, labels), labels, num_classes)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    z = (1 - t) * means[start] + t * means[end]
    condition = None
    if model.num_classes:
        one_hot = np.eye(num_classes, dtype="float32")
        condition = (1 - t) * one_hot[start] + t * one_hot[end]
    decoded = encodings.decoded(model, z, condition)
    figure = image_rows([decoded], col_labels=[f"{value:.2f}" for value in t[:, 0]],
                        title=f"from the mean of {names[start]} (t = 0)\nto the mean of {names[end]} (t = 1)")
    if gif is not None:
        first, *rest = _gif_frames(decoded)
        Path(gif).parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(gif) as tmp:
            first.save(tmp, format="GIF", save_all=True, append_images=rest, duration=frame_ms, loop=0)
    return save(figure, path)
