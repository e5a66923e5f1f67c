"""The tutorials' point, measured: an autoencoder's latent space is irregular, a VAE's is not.

`grid_check` decodes a regular grid over the region that a model's codes of real images cover and asks a
digit classifier about every decoding; the share that it cannot assign to any class with confidence is a
measure of how much of that region decodes to nonsense. `ae_vs_vae` draws both latent spaces side by side
with that measure.
"""

import dataclasses

import numpy as np
from matplotlib.patches import Rectangle

from keras_vae.evaluate import confidence
from keras_vae.plots import encodings
from keras_vae.plots.canvas import IMAGE_CMAP, class_colors, class_names_for, new_figure, save
from keras_vae.plots.latent import class_legend, scatter_classes


@dataclasses.dataclass
class GridCheck:
    """What `grid_check` found.

    Attributes:
        plane: the 2-D view of the latent space the grid lies in (`encodings.LatentPlane`).
        points: the images' codes in that view, shape (n, 2).
        box: (x0, x1, y0, y1), the region of the view the grid spans.
        tiles: the grid is `tiles` x `tiles`.
        decoded: the grid's decodings, row by row from the top, shape (tiles**2, height, width, channels).
        confidence: the classifier's highest class probability for each decoding, shape (tiles**2,).
        threshold: the confidence below which a decoding counts as unrecognised.
    """

    plane: encodings.LatentPlane
    points: np.ndarray
    box: tuple
    tiles: int
    decoded: np.ndarray
    confidence: np.ndarray
    threshold: float

    @property
    def unrecognised(self):
        """The fraction of the grid's decodings the classifier assigns to no class with confidence."""
        return float(np.mean(self.confidence < self.threshold))

    @property
    def extent(self):
        """(left, right, bottom, top) of the grid's cells, each centred on its grid point."""
        x0, x1, y0, y1 = self.box
        dx, dy = (x1 - x0) / (self.tiles - 1) / 2, (y1 - y0) / (self.tiles - 1) / 2
        return x0 - dx, x1 + dx, y0 - dy, y1 + dy

    @property
    def empty(self):
        """The fraction of the grid's cells that hold none of the images' codes: the holes of the latent space."""
        left, right, bottom, top = self.extent
        counts, _, _ = np.histogram2d(self.points[:, 0], self.points[:, 1], bins=self.tiles,
                                      range=[[left, right], [bottom, top]])
        return float(np.mean(counts == 0))


def grid_check(model, classifier, images, tiles=20, threshold=0.9, coverage=0.98):
    """Decodes a `tiles` x `tiles` grid over the central `coverage` of the images' codes and classifies it.

    Args:
        model: an unconditional zoo model (an autoencoder or a VAE).
        classifier: a model mapping images to class probabilities, e.g. `keras_vae.evaluate.train_classifier`'s.
        images: float images in [0, 1] whose codes mark out the region, e.g. the test set.
        tiles: grid points along each side.
        threshold: a decoding whose highest class probability is below this is unrecognised.
        coverage: the share of the codes, along each axis, that the grid's box covers.

    Returns:
        A `GridCheck`; its `unrecognised` is the measure.

    Example:
        >>> check = grid_check(zoo.get("ae", pretrained=True), train_classifier(x_train, y_train), x_test)
        >>> check.unrecognised
    """
    if model.num_classes:
        raise ValueError(f"{type(model).__name__} is conditional: its latent space is compared per class, "
                         "not here; pass an unconditional autoencoder or VAE")
    if not isinstance(tiles, (int, np.integer)) or tiles < 2:
        raise ValueError(f"tiles must be an int of at least 2, got {tiles!r}")
    if not 0 < threshold < 1 or not 0 < coverage <= 1:
        raise ValueError(f"threshold and coverage must lie in (0, 1), got {threshold!r} and {coverage!r}")
    latents = encodings.codes(model, images)
    plane = encodings.LatentPlane(latents)
    points = plane.project(latents)
    box = encodings.central_box(points, coverage)
    decoded = encodings.decoded(model, plane.lift(encodings.grid_points(box, tiles)))
    return GridCheck(plane, points, box, int(tiles), decoded, confidence(classifier, decoded), float(threshold))


def check_pair(ae, vae):
    """Raises a ValueError unless `ae` is an autoencoder and `vae` an unconditional VAE."""
    if ae.encoder_heads != ("code",):
        raise ValueError(f"the first model must be an autoencoder (zoo 'ae'), got a {type(ae).__name__}")
    if vae.encoder_heads == ("code",) or vae.num_classes:
        raise ValueError(f"the second model must be an unconditional VAE (zoo 'vae', 'conv_vae', ...), got a "
                         f"{type(vae).__name__}")


def _draw_grid(axes, check):
    height, width, channels = check.decoded.shape[1:]
    tiles = check.tiles
    canvas = check.decoded.reshape(tiles, tiles, height, width, channels).transpose(0, 2, 1, 3, 4).reshape(
        tiles * height, tiles * width, channels)
    extent = check.extent
    axes.imshow(canvas[..., 0] if channels == 1 else canvas, cmap=IMAGE_CMAP, vmin=0, vmax=1, extent=extent,
                aspect="auto", interpolation="nearest")
    marks = np.zeros((tiles, tiles, 4))
    marks[(check.confidence < check.threshold).reshape(tiles, tiles)] = (0.9, 0.1, 0.1, 0.35)
    axes.imshow(marks, extent=extent, aspect="auto", interpolation="nearest")
    axes.set_xlabel(check.plane.axis_labels[0])
    axes.set_ylabel(check.plane.axis_labels[1])
    axes.set_title(f"{check.unrecognised:.0%} of the {check.tiles} x {check.tiles} decodings unrecognised (red)\n"
                   f"{check.empty:.0%} of the grid's cells hold no code")


def ae_vs_vae(ae, vae, images, labels, classifier, tiles=20, threshold=0.9, coverage=0.98, names=("AE", "VAE"),
              class_names=None, path=None):
    """An autoencoder's and a VAE's latent spaces side by side, with how much of each decodes to nonsense.

    Top: each model's codes of `images`, coloured by label, and the box covering their central `coverage`.
    Bottom: the decodings of a grid over that box; red marks those that `classifier` cannot assign to any
    class with probability `threshold` (the measure of `grid_check`, in each panel's title).

    Args:
        ae: an autoencoder (zoo `"ae"`).
        vae: an unconditional VAE (zoo `"vae"`).
        images: float images in [0, 1], e.g. the test set.
        labels: their integer labels, for the colours.
        classifier: a model mapping images to class probabilities (`keras_vae.evaluate.train_classifier`).
        tiles: grid points along each side.
        threshold: the confidence below which a decoding is unrecognised.
        coverage: the share of the codes the grid's box covers along each axis.
        names: what to call the two models.
        class_names: names of the classes (default: the label numbers).
        path: optional PNG to write.

    Returns:
        The matplotlib Figure.

    Example:
        >>> classifier = keras_vae.evaluate.train_classifier(x_train, y_train)
        >>> ae_vs_vae(zoo.get("ae", pretrained=True), zoo.get("vae", pretrained=True), x_test, y_test,
        ...           classifier, path="ae_vs_vae.png")
    """
    check_pair(ae, vae)
    images, labels = encodings.check_labelled(ae, images, labels)
    checks = [grid_check(model, classifier, images, tiles, threshold, coverage) for model in (ae, vae)]
    class_names = class_names_for(vae, labels, class_names)
    colors = class_colors(len(class_names))
    figure, axes = new_figure(12.0, 11.0, nrows=2, ncols=2)
    for column, name, model, check in zip(axes.T, names, (ae, vae), checks):
        scatter_classes(column[0], check.points, labels, colors)
        x0, x1, y0, y1 = check.box
        column[0].add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="black", linestyle="--"))
        column[0].set_xlabel(check.plane.axis_labels[0])
        column[0].set_ylabel(check.plane.axis_labels[1])
        column[0].set_title(f"{name}: {check.plane.describe(encodings.latent_name(model))}", wrap=True)
        _draw_grid(column[1], check)
    class_legend(axes[0, 1], class_names, colors)
    figure.suptitle(f"decodings of a grid over the central {coverage:.0%} of each model's codes (dashed box)\n"
                    f"unrecognised: the digit classifier gives no class {threshold:.0%} probability or more")
    return save(figure, path)
