"""Figures of where the encoder puts images: the latent scatter and per-class histograms of each coordinate."""

import numpy as np
from matplotlib.lines import Line2D

from keras_vae.plots import encodings
from keras_vae.plots.canvas import class_colors, class_names_for, new_figure, save


def class_legend(axes, names, colors, **kwargs):
    """A legend with one round marker per class, outside the axes on the right."""
    handles = [Line2D([], [], marker="o", linestyle="", color=color, label=name)
               for name, color in zip(names, colors)]
    return axes.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, **kwargs)


def scatter_classes(axes, points, labels, colors):
    """Draws `points` coloured by label, in a shuffled order so that no class hides the others."""
    order = np.random.default_rng(0).permutation(len(points))
    axes.scatter(points[order, 0], points[order, 1], c=np.asarray(colors)[labels[order]], s=3, alpha=0.6,
                 linewidths=0, rasterized=True)


def latent_scatter(model, images, labels, class_names=None, path=None):
    """The encodings of `images` coloured by label: the latent means (a VAE) or codes (an autoencoder).

    A 2-D latent space is drawn as it is; a larger one through its first two principal components, which
    the title says, with the share of the variance they hold.

    Args:
        model: a zoo model (a conditional one encodes each image with its label).
        images: float images in [0, 1], e.g. the test set.
        labels: their integer labels.
        class_names: names of the classes for the legend (default: the label numbers).
        path: optional PNG to write.

    Returns:
        The matplotlib Figure.

    Example:
        >>> (_, _), (x_test, y_test) = keras_vae.data.load("mnist")
        >>> latent_scatter(zoo.get("vae", pretrained=True), x_test, y_test, path="latent.png")
    """
    images, labels = encodings.check_labelled(model, images, labels)
    latents = encodings.codes(model, images, labels)
    plane = encodings.LatentPlane(latents)
    points = plane.project(latents)
    names = class_names_for(model, labels, class_names)
    colors = class_colors(len(names))
    figure, axes = new_figure(7.5, 6.0)
    scatter_classes(axes, points, labels, colors)
    class_legend(axes, names, colors)
    axes.set_xlabel(plane.axis_labels[0])
    axes.set_ylabel(plane.axis_labels[1])
    axes.set_title(f"{len(images):,} images: {plane.describe(encodings.latent_name(model))}", wrap=True)
    return save(figure, path)


def latent_histograms(model, images, labels, dims=None, bins=40, class_names=None, path=None):
    """Per-class density histograms of each latent coordinate, with each class's mean and std in the legend.

    Args:
        model: a zoo model.
        images: float images in [0, 1].
        labels: their integer labels.
        dims: the latent coordinates to show (default: all of them up to 4, else the first 4).
        bins: histogram bins, shared by the classes of a coordinate.
        class_names: names of the classes (default: the label numbers).
        path: optional PNG to write.

    Returns:
        The matplotlib Figure, one row of axes per coordinate.

    Example:
        >>> latent_histograms(zoo.get("vae", pretrained=True), x_test, y_test, path="histograms.png")
    """
    images, labels = encodings.check_labelled(model, images, labels)
    dims = list(range(min(model.latent_dim, 4))) if dims is None else [int(d) for d in dims]
    if not dims or not all(0 <= d < model.latent_dim for d in dims) or len(set(dims)) != len(dims):
        raise ValueError(f"dims must be different latent coordinates in [0, {model.latent_dim}), got {dims}")
    latents = encodings.codes(model, images, labels)
    names = class_names_for(model, labels, class_names)
    colors = class_colors(len(names))
    figure, axes = new_figure(9.0, 2.4 * len(dims) + 0.5, nrows=len(dims), squeeze=False)
    for row, dim in zip(axes[:, 0], dims):
        values = latents[:, dim]
        edges = np.histogram_bin_edges(values, bins=bins)
        for c in range(len(names)):
            mine = values[labels == c]
            if len(mine):
                row.hist(mine, bins=edges, density=True, histtype="step", color=colors[c], linewidth=1.2,
                         label=f"{names[c]}: μ={mine.mean():.2f}, σ={mine.std():.2f}")
        row.set_xlabel(f"z[{dim}]")
        row.set_ylabel("density")
        row.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize="small")
    shown = "" if len(dims) == model.latent_dim else f" ({len(dims)} of {model.latent_dim} coordinates)"
    figure.suptitle(f"{encodings.latent_name(model)} of {len(images):,} images per class{shown}")
    return save(figure, path)
