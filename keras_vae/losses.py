"""Loss terms of the autoencoder families, written once in `keras.ops`.

Every term is computed per image (summed over pixels or latent dimensions), in float32 whatever the dtype
policy, so the numbers read as nats per image: the convention of the Keras and PyTorch VAE tutorials.
"""

from keras import ops

LIKELIHOODS = ("bernoulli", "gaussian")
#: posterior log-variances are clipped to this range before exp(): exp(20) = 4.9e8 and exp(-30) = 9.4e-14 are
#: finite in float32, and the sampler's exp(20 / 2) = 22026 in float16, so a diverging encoder cannot turn the
#: loss into Inf (the range of diffusers' DiagonalGaussianDistribution)
LOG_VAR_RANGE = (-30.0, 20.0)


def _sum_per_image(values):
    return ops.sum(values, axis=tuple(range(1, len(values.shape))))


def reconstruction_loss(images, logits, likelihood="bernoulli"):
    """Negative log-likelihood of `images` under the decoder, summed over pixels.

    Args:
        images: targets in [0, 1], shape (batch, height, width, channels).
        logits: the decoder's output before the sigmoid, same shape.
        likelihood: `"bernoulli"` for binary cross-entropy computed from the logits (stable for any
            logit), or `"gaussian"` for the squared error between `sigmoid(logits)` and the images
            (a unit-variance Gaussian up to constants).

    Returns:
        A float32 tensor of shape (batch,).

    Example:
        >>> x = ops.ones((2, 28, 28, 1))
        >>> reconstruction_loss(x, ops.zeros_like(x)).shape   # 784 * log(2) each
        (2,)
    """
    images = ops.cast(images, "float32")
    logits = ops.cast(logits, "float32")
    if likelihood == "bernoulli":
        per_pixel = ops.binary_crossentropy(images, logits, from_logits=True)
    elif likelihood == "gaussian":
        per_pixel = ops.square(ops.sigmoid(logits) - images)
    else:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    return _sum_per_image(per_pixel)


def clip_log_var(z_log_var):
    """`z_log_var` clipped to `LOG_VAR_RANGE`, so that `exp(z_log_var)` cannot overflow.

    Example:
        >>> clip_log_var(ops.convert_to_tensor([-100.0, 0.0, 100.0]))   # [-30, 0, 20]
    """
    return ops.clip(z_log_var, *LOG_VAR_RANGE)


def kl_divergence(z_mean, z_log_var):
    """KL(q(z|x) || N(0, I)) for a diagonal Gaussian posterior, summed over latent dimensions.

    Args:
        z_mean: posterior means, shape (batch, latent_dim).
        z_log_var: posterior log-variances, same shape; clipped to `LOG_VAR_RANGE`.

    Returns:
        A float32 tensor of shape (batch,).

    Example:
        >>> kl_divergence(ops.zeros((3, 2)), ops.zeros((3, 2)))   # the prior itself: 0
    """
    z_mean = ops.cast(z_mean, "float32")
    z_log_var = clip_log_var(ops.cast(z_log_var, "float32"))
    return -0.5 * _sum_per_image(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
