"""Figures for disentanglement work: how much each latent dimension carries (its KL to the prior, per dimension)
and what it draws (latent traversals: one dimension swept, the others held at an image's code).
"""

import numpy as np
from keras import ops
from matplotlib.ticker import MaxNLocator

from keras_vae.data import check_images
from keras_vae.losses import LOG_VAR_RANGE
from keras_vae.plots import encodings
from keras_vae.plots.canvas import image_rows, new_figure, save

#: the encoder heads of a diagonal Gaussian posterior q(z|x)
GAUSSIAN_HEADS = ("z_mean", "z_log_var")
#: most latent dimensions whose bars get their number and value written on them
LABELLED_BARS = 16


def check_posterior(model, figure="kl_per_dimension"):
    """Raises ValueError unless `model` encodes to a diagonal Gaussian posterior (z_mean, z_log_var), naming the
    `figure` that needs one."""
    if tuple(model.encoder_heads) != GAUSSIAN_HEADS:
        raise ValueError(f"{figure} needs a Gaussian posterior q(z|x) (encoder heads z_mean and z_log_var); "
                         f"{type(model).__name__} encodes to {' and '.join(model.encoder_heads)} alone and has no KL "
                         f"to a prior")


def dimension_kl(z_mean, z_log_var):
    """The mean KL(q(z_i|x) || N(0, 1)) of each latent dimension over a batch of posteriors, in nats.

    Each image's is 0.5 * (mu^2 + exp(log_var) - 1 - log_var); the log-variances are clipped to
    `keras_vae.losses.LOG_VAR_RANGE` as the training loss clips them, so the sum over dimensions is the loss's
    KL term (before `beta`).

    Args:
        z_mean: posterior means, shape (n, latent_dim).
        z_log_var: posterior log-variances, the same shape.

    Returns:
        A float64 array of shape (latent_dim,).

    Example:
        >>> dimension_kl(np.array([[0.0, 2.0]]), np.zeros((1, 2)))       # [0.0, 2.0]
    """
    z_mean = np.asarray(z_mean, dtype="float64")
    z_log_var = np.clip(np.asarray(z_log_var, dtype="float64"), *LOG_VAR_RANGE)
    return (0.5 * (np.square(z_mean) + np.exp(z_log_var) - 1.0 - z_log_var)).mean(axis=0)


def _posterior(model, images, labels=None):
    """The posterior `(z_mean, z_log_var)` of `images` (a model with a Gaussian posterior) as NumPy arrays of shape
    (n, latent_dim), encoded in batches."""
    both = encodings._batched(lambda x, y: ops.concatenate(model.encode(x, y), axis=-1), images,
                              labels if model.num_classes else None)
    return both[:, :model.latent_dim], both[:, model.latent_dim:]


def kl_per_dimension(model, images, labels=None, *, path=None):
    """A bar per latent dimension: its mean KL(q(z_i|x) || N(0, 1)) over `images`, in nats, the total in the title.

    A dimension the model does not use has its posterior at the prior for every image, and a bar at 0.

    Args:
        model: a zoo model with a Gaussian posterior (a VAE of any kind); an autoencoder or a VQ-VAE raises
            ValueError.
        images: float images in [0, 1], e.g. the test set.
        labels: their integer labels, needed by a conditional model only.
        path: optional PNG to write.

    Returns:
        The matplotlib Figure; its axes holds one bar per dimension, in the dimensions' order.

    Example:
        >>> kl_per_dimension(zoo.get("beta_vae", pretrained=True), x_test, path="kl.png")
    """
    check_posterior(model)
    images = check_images(images, image_shape=model.image_shape)
    kl = dimension_kl(*_posterior(model, images, labels))
    dims = np.arange(model.latent_dim)
    figure, axes = new_figure(min(16.0, max(6.0, 0.3 * len(dims) + 1.5)), 4.0)
    bars = axes.bar(dims, kl, width=0.8)
    if len(dims) <= LABELLED_BARS:
        axes.set_xticks(dims)
        axes.bar_label(bars, fmt="%.2f", fontsize="small")
    else:
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlim(-0.6, len(dims) - 0.4)
    axes.set_xlabel("latent dimension i")
    axes.set_ylabel("KL(q(z_i|x) || N(0, 1)), nats")
    axes.set_title(f"KL to the prior per latent dimension, mean over {len(images):,} images:\n"
                   f"{kl.sum():.2f} nats in all")
    return save(figure, path)


def _check_traversal(model, count, dims, steps, span, index):
    """The dims as a list of ints (None stays None), after checking every argument of `traversals`."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < count:
        raise ValueError(f"index must be an image in [0, {count}), got {index!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"steps must be an int of at least 2, got {steps!r}")
    if isinstance(span, bool) or not isinstance(span, (int, float, np.number)) or not 0 < span < np.inf:
        raise ValueError(f"span must be a positive finite number, got {span!r}")
    if dims is None:
        return None
    dims = [int(d) for d in dims]
    if not dims or not all(0 <= d < model.latent_dim for d in dims) or len(set(dims)) != len(dims):
        raise ValueError(f"dims must be different latent dimensions in [0, {model.latent_dim}), got {dims}")
    return dims


def traversals(model, images, labels=None, *, dims=None, steps=9, span=2.5, index=0, path=None):
    """Latent traversals of one image: each row sweeps one latent dimension, the others held at the image's code.

    The image `images[index]` is encoded (a VAE: its latent mean; a conditional model: with its label, which also
    conditions every decoding). For a VAE, the row of dimension i decodes that code with z[i] set to `steps` values
    evenly spaced over [-span, +span] of the prior N(0, 1), and is labelled with the dimension's mean KL to the
    prior over `images` (`dimension_kl`); by default every dimension is shown, the largest KL first, so the
    dimensions the model uses come before the collapsed ones. An autoencoder has no prior: its row of dimension i
    moves z[i] from -span to +span standard deviations of the codes of `images` along i, around the image's code,
    and is labelled and ordered by that standard deviation.

    Args:
        model: a zoo model with a latent vector (a VQ-VAE's grid of codes has none: `plots.draw` refuses it).
        images: float images in [0, 1]; all of them measure each dimension's KL (or spread), `images[index]` is
            traversed.
        labels: their integer labels, needed by a conditional model only.
        dims: the latent dimensions to sweep, one row each in this order (default: all, by KL or spread).
        steps: decodings per row, both ends included (at least 2).
        span: how far each sweep goes either side: prior units (a VAE), standard deviations (an autoencoder).
        index: which image is traversed.
        path: optional PNG to write.

    Returns:
        The matplotlib Figure; its axes' image holds one row of `steps` decodings per dimension, each row
        labelled "z[i]: KL nats" (an autoencoder: "z[i]: σ=std"), each column with its value.

    Example:
        >>> traversals(zoo.get("beta_vae", pretrained=True), x_test, steps=11, span=3, index=7, path="walk.png")
    """
    images = check_images(images, image_shape=model.image_shape)
    chosen = _check_traversal(model, len(images), dims, steps, span, index)
    offsets = np.linspace(-float(span), float(span), int(steps))
    if tuple(model.encoder_heads) == GAUSSIAN_HEADS:
        z_mean, z_log_var = _posterior(model, images, labels)
        center, score = z_mean[index], dimension_kl(z_mean, z_log_var)
        values = np.tile(offsets, (model.latent_dim, 1))  # the prior's +-span, whatever the image's code
        row_label = "z[{}]: {:.2f} nats".format
        col_labels = [f"{value:.3g}" for value in offsets]
        sweep = f"one latent dimension per row set to {steps} values in [{-span:g}, {span:g}]"
        held, ranked = "its latent mean", f"; KL to the prior over {len(images):,} images"
    else:  # an autoencoder: its codes' spread stands in for the prior
        codes = encodings.codes(model, images, labels)
        center, score = codes[index], codes.std(axis=0)
        values = center[:, None] + score[:, None] * offsets
        row_label = "z[{}]: σ={:.2f}".format
        col_labels = [f"{offset:.3g}σ" for offset in offsets]
        sweep = f"one code dimension per row moved by {-span:g} to {span:g} σ"
        held, ranked = "its code", f"; σ of {len(images):,} images' codes"
    order = list(np.argsort(-score, kind="stable")) if chosen is None else chosen
    z = np.tile(center, (len(order), len(offsets), 1))
    for row, dim in enumerate(order):
        z[row, :, dim] = values[dim]
    label = int(np.asarray(labels)[index]) if model.num_classes else None
    decoded = encodings.decoded(model, z.reshape(-1, model.latent_dim), label)
    condition = "" if label is None else f" (class {label})"
    title = (f"image {index}{condition}: {sweep},\nthe others at {held}{ranked}"
             f"{', largest first' if chosen is None else ''}")
    figure = image_rows(list(decoded.reshape(len(order), len(offsets), *decoded.shape[1:])),
                        row_labels=[row_label(dim, score[dim]) for dim in order], col_labels=col_labels, title=title)
    return save(figure, path)
