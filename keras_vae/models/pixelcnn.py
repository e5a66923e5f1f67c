"""The gated PixelCNN (van den Oord et al., 2016): an autoregressive prior over a grid of discrete codes.

A VQ-VAE's codes have no prior of their own: a standard normal means nothing for them, and drawing each code
uniformly decodes to noise. This model learns p(codes) = prod_i p(code_i | codes before i), in raster order,
from the codes of the training images, and draws new grids one position at a time.
"""

import math

import keras
import numpy as np
from keras import layers, ops

from keras_vae.arguments import positive_int
from keras_vae import trainers
from keras_vae.data.checks import check_indices
from keras_vae.models.objective import ObjectiveModel

#: the masks of `MaskedConv2D`
MASKS = ("vertical", "horizontal_a", "horizontal_b")


@keras.saving.register_keras_serializable(package="keras_vae")
class MaskedConv2D(layers.Conv2D):
    """A `Conv2D` ("same" padding) whose kernel is multiplied by a fixed causal mask.

    - `"vertical"`: the kernel's rows up to its centre row (the output at row i sees rows <= i);
    - `"horizontal_a"`: a 1-row kernel's taps left of its centre (the output at (i, j) sees (i, < j));
    - `"horizontal_b"`: the same, with the centre tap (sees (i, <= j)).

    Args:
        filters: output channels.
        kernel_size: int or (rows, columns); odd sizes.
        mask: one of `MASKS`.
        **kwargs: the other `keras.layers.Conv2D` arguments (not `padding`).

    Example:
        >>> layer = MaskedConv2D(64, (1, 3), mask="horizontal_a")
    """

    def __init__(self, filters, kernel_size, mask="vertical", **kwargs):
        if mask not in MASKS:
            raise ValueError(f"mask must be one of {MASKS}, got {mask!r}")
        super().__init__(filters, kernel_size, padding="same", **kwargs)
        if any(size % 2 == 0 for size in self.kernel_size):
            raise ValueError(f"a causal mask needs odd kernel sizes, got {self.kernel_size}")
        self.mask = mask

    def build(self, input_shape):
        super().build(input_shape)
        rows, columns = self.kernel_size
        keep = np.zeros((rows, columns, 1, 1), "float32")
        if self.mask == "vertical":
            keep[:rows // 2 + 1] = 1
        else:
            keep[rows // 2, :columns // 2 + (self.mask == "horizontal_b")] = 1
        self._keep = keep

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, kernel * ops.cast(self._keep, kernel.dtype))

    def get_config(self):
        config = super().get_config()
        del config["padding"]
        return {**config, "mask": self.mask}


def _gate(values):
    """tanh of the first half of the channels times the sigmoid of the second half."""
    a, b = ops.split(values, 2, axis=-1)
    return ops.tanh(a) * ops.sigmoid(b)


def _down_shift(values):
    """Moves a feature map one row down (row 0 becomes zeros): position (i, j) then sees only rows < i."""
    return ops.pad(values, ((0, 0), (1, 0), (0, 0), (0, 0)))[:, :-1]


@keras.saving.register_keras_serializable(package="keras_vae")
class GatedPixelCNN(ObjectiveModel):
    """Gated PixelCNN over (height, width) grids of integer codes, trained by its own `train_step` on their
    negative log-likelihood.

    A vertical stack (rows above) and a horizontal stack (the codes left in the same row) of gated masked
    convolutions, so that no position has a blind spot; the logits at each position depend only on the codes
    before it in raster order. `fit` reports `loss` (nats per grid) and `bits_per_code`.

    Args:
        num_codes: size of the code alphabet.
        grid_shape: (height, width) of the grids.
        filters: channels of each stack.
        num_layers: gated layers.
        kernel_size: odd kernel size of the masked convolutions.
        **kwargs: passed to `keras.Model`.

    Example:
        >>> prior = GatedPixelCNN(num_codes=256, grid_shape=(7, 7))
        >>> prior.compile(optimizer="adam")
        >>> prior.fit(codes, epochs=20, batch_size=128)            # codes: int array (n, 7, 7)
        >>> grids = prior.sample_codes(16, seed=0)
    """

    loss_terms = ("loss", "bits_per_code")

    def __init__(self, num_codes=256, grid_shape=(7, 7), filters=32, num_layers=6, kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        num_codes, filters, num_layers, kernel_size = (
            positive_int(name, value) for name, value in (("num_codes", num_codes), ("filters", filters),
                                                          ("num_layers", num_layers), ("kernel_size", kernel_size)))
        grid_shape = tuple(grid_shape)
        if len(grid_shape) != 2 or not all(isinstance(d, int) and d > 0 for d in grid_shape):
            raise ValueError(f"grid_shape must be (height, width) of positive ints, got {grid_shape!r}")
        self.num_codes, self.grid_shape, self.filters = num_codes, grid_shape, filters
        self.num_layers, self.kernel_size = num_layers, kernel_size
        hidden = self.dtype_policy
        self.embedding = layers.Embedding(num_codes, filters, dtype=hidden, name="embedding")
        self.vertical = [MaskedConv2D(2 * filters, kernel_size, "vertical", dtype=hidden) for _ in range(num_layers)]
        self.horizontal = [MaskedConv2D(2 * filters, (1, kernel_size), "horizontal_b" if index else "horizontal_a",
                                        dtype=hidden) for index in range(num_layers)]
        self.vertical_to_horizontal = [layers.Conv2D(2 * filters, 1, dtype=hidden) for _ in range(num_layers)]
        self.horizontal_out = [layers.Conv2D(filters, 1, dtype=hidden) for _ in range(num_layers)]
        self.head = layers.Conv2D(filters, 1, activation="relu", dtype=hidden)
        self.logits = layers.Conv2D(num_codes, 1, dtype=self.dtype_policy.variable_dtype, name="logits")
        self.build((None, *grid_shape))

    def build(self, input_shape):
        self.embedding.build(input_shape)
        features = (*input_shape, self.filters)
        for index in range(self.num_layers):
            self.vertical[index].build(features)
            self.horizontal[index].build(features)
            self.vertical_to_horizontal[index].build((*features[:-1], 2 * self.filters))
            self.horizontal_out[index].build(features)
        self.head.build(features)
        self.logits.build(features)
        self.built = True

    def call(self, codes, training=False):
        """The logits of every position given the codes before it: shape (batch, height, width, num_codes)."""
        vertical = horizontal = self.embedding(ops.cast(codes, "int32"))
        for index in range(self.num_layers):
            stacked = self.vertical[index](vertical)
            joined = self.horizontal[index](horizontal) + self.vertical_to_horizontal[index](_down_shift(stacked))
            vertical = _gate(stacked)
            out = self.horizontal_out[index](_gate(joined))
            horizontal = out if index == 0 else horizontal + out  # the first layer must not see its own position
        return self.logits(self.head(ops.relu(horizontal)))

    def compute_loss_terms(self, codes, labels, training=False):
        """Each grid's negative log-likelihood in nats (`loss`), and per code in bits (`bits_per_code`)."""
        logits = ops.cast(self(codes, training=training), "float32")
        per_code = keras.losses.sparse_categorical_crossentropy(ops.cast(codes, "int32"), logits, from_logits=True)
        nll = ops.sum(per_code, axis=(1, 2))
        return {"loss": nll, "bits_per_code": nll / (math.prod(self.grid_shape) * math.log(2))}

    def fit(self, x=None, *args, **kwargs):
        """`keras.Model.fit` on grids of codes (integer arrays of shape (n, height, width)), checked first."""
        return super().fit(self.check_codes(x), *args, **kwargs)

    def check_codes(self, codes, name="codes"):
        """Returns `codes` as int32 if it is a NumPy array of valid code grids (anything else unchanged).

        Raises:
            ValueError: if they are not integers of shape (n, height, width) in [0, num_codes).
        """
        if not isinstance(codes, (np.ndarray, list)):
            return codes
        height, width = self.grid_shape
        return check_indices(codes, (None, height, width), self.num_codes, name,
                             f"integer grids of shape (n, {height}, {width})")

    def sample_codes(self, n, seed=None):
        """Draws `n` grids of codes, one position at a time in raster order.

        Args:
            n: number of grids.
            seed: int for reproducible draws, a `keras.random.SeedGenerator` to draw from, or None for fresh draws.

        Returns:
            An int32 tensor of shape (n, height, width).
        """
        n = positive_int("n", n)
        generator = seed if isinstance(seed, keras.random.SeedGenerator) else keras.random.SeedGenerator(seed)
        height, width = self.grid_shape
        positions = ops.reshape(ops.arange(height * width, dtype="int32"), (1, height, width))
        codes = ops.zeros((int(n), height, width), "int32")
        with trainers.no_grad():
            for index in range(height * width):
                logits = ops.cast(self(codes, training=False)[:, index // width, index % width], "float32")
                drawn = ops.cast(keras.random.categorical(logits, 1, seed=generator), "int32")
                codes = ops.where(positions == index, ops.reshape(drawn, (-1, 1, 1)), codes)
        return codes

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes, "grid_shape": self.grid_shape,
                "filters": self.filters, "num_layers": self.num_layers, "kernel_size": self.kernel_size}
