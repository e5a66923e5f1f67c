"""The codebook of a VQ-VAE: how often each code is chosen, and what its most used codes decode to."""

import numpy as np
from keras import ops

from keras_vae.arguments import positive_int
from keras_vae.evaluate import code_counts
from keras_vae.models.vq_vae import codebook_statistics, is_quantized
from keras_vae.plots import encodings
from keras_vae.plots.canvas import IMAGE_CMAP, new_figure, save, tile
from keras_vae.trainers import no_grad


def check_codebook(model, figure="codebook_usage"):
    """Raises ValueError unless `model` is a VQ-VAE, naming the `figure` that needs one."""
    if not is_quantized(model):
        raise ValueError(f"{figure} needs a VQ-VAE (a model with a codebook); {type(model).__name__} has none")


def codebook_usage(model, images, top=8, path=None):
    """How often a VQ-VAE chooses each code over every grid position of `images`, codes sorted from the most to
    the least used, with the share of codes used and the perplexity in the title; below, what the `top` most
    used codes decode to: the image decoded from a grid filled entirely with that code.

    Args:
        model: a VQ-VAE. Any other model raises ValueError.
        images: float images in [0, 1], e.g. the test set.
        top: how many of the most used codes to decode (fewer if fewer are used).
        path: optional PNG to write.

    Returns:
        The matplotlib Figure: its first axes holds one bar per code (the sorted counts), its second the
        decoded codes, each labelled with its number and share of the positions.

    Example:
        >>> codebook_usage(zoo.get("vq_vae", pretrained=True), x_test, path="codebook.png")
    """
    top = positive_int("top", top)
    check_codebook(model)
    counts = code_counts(model, images, encodings.BATCH_SIZE)
    perplexity, used = (float(value) for value in codebook_statistics(counts))
    order = np.argsort(-counts, kind="stable")  # most used first; ties by code number
    shown = order[:min(int(top), int(np.count_nonzero(counts)))]
    height, width = model.grid_shape
    with no_grad():
        decoded = np.asarray(ops.convert_to_numpy(model.decode(np.repeat(shown, height * width).reshape(
            len(shown), height, width).astype("int32"))))

    figure, (bars, panel) = new_figure(9.0, 5.5, nrows=2, height_ratios=(2.2, 1.0))
    ranks = np.arange(1, model.num_codes + 1)
    colors = ["C1" if rank <= len(shown) else "C0" for rank in ranks]
    bars.bar(ranks, counts[order], width=1.0 if model.num_codes > 64 else 0.8, color=colors)
    bars.set_xlim(0.5, model.num_codes + 0.5)
    bars.set_xlabel(f"codes ranked from the most used (1) to the least; the {len(shown)} decoded below in orange")
    bars.set_ylabel("times chosen")
    total = int(counts.sum())
    bars.set_title(f"{int(np.count_nonzero(counts))} of {model.num_codes} codes used ({used:.0%}), perplexity "
                   f"{perplexity:.1f},\nover the {total:,} grid positions of {total // (height * width):,} images")

    panel.imshow(tile([decoded]), cmap=IMAGE_CMAP, vmin=0, vmax=1, interpolation="nearest")
    gap, tile_width = 2, decoded.shape[2]
    panel.set_xticks([c * (tile_width + gap) + (tile_width - 1) / 2 for c in range(len(shown))],
                     [f"code {code}\n{counts[code] / total:.1%}" for code in shown])
    panel.set_yticks([])
    panel.tick_params(length=0)
    for spine in panel.spines.values():
        spine.set_visible(False)
    panel.set_title("the most used codes, each decoded from a grid filled with it")
    return save(figure, path)
