"""Running a model over many images for a figure (batched, gradient-free, NumPy out), and the latent
quantities the figures show: class means, a 2-D view of the latent space, and the range the codes cover.
"""

import numpy as np
from keras import ops

from keras_vae.data import check_images
from keras_vae.trainers import no_grad

#: inputs per model call: bounded memory whatever the number of images
BATCH_SIZE = 1000


def _numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor))


def _batched(method, inputs, labels, batch_size=BATCH_SIZE):
    """`method(inputs, labels)` over slices of `batch_size`, concatenated as one NumPy array."""
    if labels is not None and np.ndim(labels) == 0:
        labels = np.full(len(inputs), int(labels))
    with no_grad():
        return np.concatenate([
            _numpy(method(inputs[i:i + batch_size], None if labels is None else labels[i:i + batch_size]))
            for i in range(0, len(inputs), batch_size)])


def latent_name(model):
    """What a model's deterministic latents are called in titles: "codes" (autoencoder) or "latent means"."""
    return "codes" if model.encoder_heads == ("code",) else "latent means"


def check_labelled(model, images, labels):
    """Checked float32 images and int labels of the same length, as every labelled figure needs them.

    Raises:
        ValueError: if the images do not fit the model, or the labels are not one integer per image.
    """
    images = check_images(images, image_shape=model.image_shape)
    labels = np.asarray(labels)
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {len(images)} integers, one per image; got dtype {labels.dtype} and "
                         f"shape {labels.shape}")
    return images, labels


def codes(model, images, labels=None):
    """The deterministic latents of `images` (z_mean of a VAE, the code of an autoencoder), shape (n, latent_dim).

    Args:
        model: a zoo model.
        images: float images in [0, 1] of the model's image shape.
        labels: the labels, which only a conditional model uses.
    """
    return _batched(model.code, images, labels if model.num_classes else None)


def decoded(model, z, labels=None):
    """`model.decode(z, labels)` as a NumPy array of images; `labels` may be one int for all."""
    return _batched(model.decode, np.asarray(z, dtype="float32"), labels)


def reconstructed(model, images, labels=None):
    """`model.reconstruct(images, labels)` as a NumPy array of images."""
    return _batched(model.reconstruct, images, labels if model.num_classes else None)


def sampled(model, n, seed, labels=None):
    """`model.sample(n, seed, labels)` as a NumPy array; an autoencoder raises NotImplementedError."""
    with no_grad():
        return _numpy(model.sample(n, seed=seed, labels=labels))


def class_means(latents, labels, num_classes):
    """The mean latent vector of each class, shape (num_classes, latent_dim).

    Raises:
        ValueError: if a class has no example among `labels`.
    """
    missing = sorted(set(range(num_classes)) - set(np.unique(labels).tolist()))
    if missing:
        raise ValueError(f"every class needs at least one image; none of class {', '.join(map(str, missing))}")
    return np.stack([latents[labels == c].mean(axis=0) for c in range(num_classes)])


class LatentPlane:
    """A 2-D view of latent codes: the codes themselves when the latent space is 2-D, else the plane of their
    first two principal components (through their mean).

    Args:
        latents: codes of shape (n, latent_dim), n >= 2.

    Example:
        >>> plane = LatentPlane(codes(model, x_test))
        >>> points = plane.project(codes(model, x_test))     # (n, 2)
        >>> z = plane.lift(points)                            # back to (n, latent_dim), on the plane
    """

    def __init__(self, latents):
        latents = np.asarray(latents, dtype="float64")
        self.latent_dim = latents.shape[1]
        if self.latent_dim == 1:
            raise ValueError("a 1-D latent space has no plane to show; use latent_histograms")
        if self.latent_dim == 2:
            self.mean, self.axes, self.explained = np.zeros(2), np.eye(2), 1.0
            self.axis_labels = ("z[0]", "z[1]")
            return
        self.mean = latents.mean(axis=0)
        _, singular, vectors = np.linalg.svd(latents - self.mean, full_matrices=False)
        self.axes = vectors[:2]
        self.explained = float(np.sum(singular[:2] ** 2) / np.sum(singular ** 2))
        self.axis_labels = ("PC 1", "PC 2")

    @property
    def is_pca(self):
        """Whether the view is a projection (latent_dim > 2) rather than the latent axes themselves."""
        return self.latent_dim > 2

    def describe(self, what):
        """`what`, or for a projection: 'the first two principal components of the D-D `what` (P% of their
        variance)'."""
        if not self.is_pca:
            return what
        return (f"the first two principal components of the {self.latent_dim}-D {what} "
                f"({self.explained:.0%} of their variance)")

    def project(self, latents):
        """(n, latent_dim) codes -> (n, 2) coordinates in the view."""
        return (np.asarray(latents, dtype="float64") - self.mean) @ self.axes.T

    def lift(self, points):
        """(n, 2) view coordinates -> (n, latent_dim) latent vectors on the view's plane, as float32."""
        return (self.mean + np.asarray(points, dtype="float64") @ self.axes).astype("float32")


def central_box(points, coverage=0.98):
    """The box (x0, x1, y0, y1) holding the central `coverage` of the points along each axis."""
    tail = 50 * (1 - coverage)
    (x0, y0), (x1, y1) = np.percentile(points, [tail, 100 - tail], axis=0)
    return float(x0), float(x1), float(y0), float(y1)


def grid_points(box, tiles):
    """`tiles` x `tiles` points spanning `box`, row by row from the top (largest y) down: shape (tiles**2, 2)."""
    x0, x1, y0, y1 = box
    xs, ys = np.linspace(x0, x1, tiles), np.linspace(y1, y0, tiles)
    return np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
