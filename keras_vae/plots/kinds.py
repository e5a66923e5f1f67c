"""Any of the tutorials' figures by its name in `KINDS`: what `keras-vae plot KIND` draws.

Example:
    >>> _, (x_test, y_test) = keras_vae.data.load("mnist")
    >>> vae = keras_vae.zoo.get("vae", pretrained=True)
    >>> figure = draw("manifold", vae, x_test, y_test)        # the prior's central +-3, as the command draws it
"""

import math

from keras_vae.models.vq_vae import is_quantized
from keras_vae.plots import KINDS, codebook, comparison, curves, encodings, images as image_figures, latent
from keras_vae.plots.dimensions import check_posterior, kl_per_dimension, traversals

#: the figures drawn in a space of latent vectors, which a VQ-VAE's grid of discrete codes has not
VECTOR_KINDS = ("latent_scatter", "latent_histograms", "manifold", "class_means", "interpolation", "ae_vs_vae",
                "traversals", "kl_per_dimension")


def check_kind(kind, model):
    """Raises ValueError if the figure `kind` does not apply to `model`: the figures of latent vectors
    (`VECTOR_KINDS`) to a VQ-VAE, codebook_usage to a model without a codebook, kl_per_dimension to a model
    without a Gaussian posterior (an autoencoder). `draw` checks it first; the command line before it loads data
    or trains anything.

    Example:
        >>> check_kind("manifold", vq_vae)        # ValueError: manifold draws latent vectors ...
    """
    if kind not in KINDS:
        raise ValueError(f"unknown figure {kind!r}; expected one of {list(KINDS)}")
    if kind == "codebook_usage":
        codebook.check_codebook(model, kind)
    elif kind in VECTOR_KINDS and is_quantized(model):
        raise ValueError(f"{kind} draws latent vectors, and {type(model).__name__} encodes to a grid of discrete "
                         f"codes: for a VQ-VAE plot reconstructions, samples, codebook_usage or training_curves")
    elif kind == "kl_per_dimension":
        check_posterior(model, kind)


def manifold_range(model, images, labels=None):
    """The latent box `manifold` shows by default: (x0, x1, y0, y1, step).

    A VAE's is its prior's central +-3 at step 0.25; an autoencoder has no prior, so its box is the central 98% of
    its codes of `images`, widened to a round step that gives about 25 tiles along the longer side.

    Args:
        model: a zoo model.
        images: images whose codes span an autoencoder's box.
        labels: their labels, for a conditional model.

    Example:
        >>> x0, x1, y0, y1, step = manifold_range(ae, x_test)
    """
    if model.encoder_heads != ("code",):
        return -3.0, 3.0, -3.0, 3.0, 0.25
    x0, x1, y0, y1 = encodings.central_box(encodings.codes(model, images, labels)[:, :2])
    least = max(x1 - x0, y1 - y0) / 24
    step = min(m * 10 ** math.floor(math.log10(least)) for m in (1, 2, 2.5, 5, 10)
               if m * 10 ** math.floor(math.log10(least)) >= least)
    return (math.floor(x0 / step) * step, math.ceil(x1 / step) * step, math.floor(y0 / step) * step,
            math.ceil(y1 / step) * step, step)


def draw(kind, model=None, images=None, labels=None, *, class_names=None, history=None, dims=None, box=None,
         label=0, between=(3, 8), n=None, seed=0, gif=None, ae=None, classifier=None, names=None):
    """Draws the figure `kind` with the command line's defaults.

    Args:
        kind: one of `KINDS`.
        model: the trained zoo model (not for training_curves).
        images, labels: test images and labels the figure encodes (latent_scatter, latent_histograms,
            class_means, interpolation, reconstructions, ae_vs_vae, codebook_usage, kl_per_dimension;
            traversals: the first image is traversed, all of them measure each dimension's KL; manifold: an
            autoencoder's box).
        class_names: the dataset's class names, for legends and titles.
        history: training_curves: a history.json path, a dict or a Keras History.
        dims: manifold, latent_histograms, traversals: the latent coordinates shown (manifold default (0, 1);
            traversals: all, the largest KL to the prior first).
        box: manifold: (x0, x1, y0, y1, step); default `manifold_range(model, images, labels)`.
        label: manifold of a conditional model: the class.
        between: interpolation: from class A to class B.
        n: samples (100), reconstructions (20), interpolation steps (10), codebook_usage: the most used codes
            decoded (8), traversals: the steps of each sweep (9).
        seed: samples' seed.
        gif: interpolation: also write the animation here.
        ae, classifier: ae_vs_vae: the autoencoder that `model` is compared with, and a digit classifier
            (`keras_vae.evaluate.train_classifier`).
        names: ae_vs_vae: the two models' names (default "ae" and `model.name`).

    Returns:
        The `matplotlib.figure.Figure`.

    Raises:
        ValueError: if the figure does not apply to the model (`check_kind`).

    Example:
        >>> figure = draw("samples", vae, n=25)
    """
    if kind == "training_curves":
        return curves.training_curves(history)
    check_kind(kind, model)
    if kind == "codebook_usage":
        return codebook.codebook_usage(model, images, top=n or 8)
    if kind in ("latent_scatter", "class_means"):
        module = latent if kind == "latent_scatter" else image_figures
        return getattr(module, kind)(model, images, labels, class_names=class_names)
    if kind == "latent_histograms":
        return latent.latent_histograms(model, images, labels, dims=dims, class_names=class_names)
    if kind == "reconstructions":
        return image_figures.reconstructions(model, images, labels, n=n or 20)
    if kind == "samples":
        return image_figures.samples(model, n=n or 100, seed=seed, class_names=class_names)
    if kind == "manifold":
        x0, x1, y0, y1, step = box or manifold_range(model, images, labels)
        return image_figures.manifold(model, (x0, x1), (y0, y1), step, dims=dims or (0, 1),
                                      label=label if model.num_classes else None)
    if kind == "interpolation":
        start, end = between
        return image_figures.interpolation(model, images, labels, start, end, steps=n or 10,
                                           class_names=class_names, gif=gif)
    if kind == "traversals":
        return traversals(model, images, labels, dims=dims, steps=n or 9)
    if kind == "kl_per_dimension":
        return kl_per_dimension(model, images, labels)
    if kind == "ae_vs_vae":
        return comparison.ae_vs_vae(ae, model, images, labels, classifier, names=names or ("ae", model.name),
                                    class_names=class_names)
    raise ValueError(f"unknown figure {kind!r}; expected one of {list(KINDS)}")
