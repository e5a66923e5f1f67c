"""The VQ-VAE (van den Oord et al., 2017): a grid of discrete codes, and a gated PixelCNN prior to sample them."""

import keras
import numpy as np
from keras import layers, ops

from keras_vae.arguments import positive_int
from keras_vae.losses import reconstruction_loss
from keras_vae.models.base import BaseAutoencoder
from keras_vae.models.bodies import ConvBody
from keras_vae.models.pixelcnn import GatedPixelCNN
from keras_vae.zoo import register

#: added to the EMA cluster sizes before normalising them (Laplace smoothing), so that no code divides by zero
EPSILON = 1e-5


def _sum_per_image(values):
    return ops.sum(values, axis=tuple(range(1, len(values.shape))))


@keras.saving.register_keras_serializable(package="keras_vae")
class VectorQuantizer(layers.Layer):
    """Replaces each vector of a grid by its nearest code of a learned codebook, with a straight-through
    gradient.

    With `ema=True` the codebook is not trained by the optimizer: each code moves to the exponential moving average
    of the vectors assigned to it (van den Oord et al. 2017, appendix; Razavi et al. 2019). Otherwise it is a
    trained weight, pulled towards its vectors by the codebook loss. In both modes the layer tracks how often each
    code is chosen (`cluster_size`, a moving average of the counts per batch), and when `restart_threshold` > 0, a
    code chosen less often than that is restarted at a random vector of the batch: the codebook starts from the
    data, and dead codes come back.

    Called with a grid `z` of shape (batch, height, width, code_dim), it returns `(quantized, codes, vq_loss,
    counts)`: the straight-through quantized grid, the int32 codes (batch, height, width), each image's
    `commitment * ||z - sg(e)||^2` (plus `||sg(z) - e||^2` without EMA), summed over the grid, and how often the
    batch chose each code.

    Args:
        num_codes: codebook size.
        code_dim: length of each code vector.
        commitment: weight of the commitment loss (beta in the paper).
        ema: update the codebook by moving averages instead of gradients.
        decay: the moving averages' decay.
        restart_threshold: restart a code whose moving-average count per batch falls below this (0: never).
        seed: optional int seeding the restarts' random choice.
        **kwargs: passed to `keras.layers.Layer`.

    Example:
        >>> quantizer = VectorQuantizer(num_codes=256, code_dim=16)
        >>> quantized, codes, vq_loss, counts = quantizer(z, training=True)
    """

    def __init__(self, num_codes, code_dim, commitment=0.25, ema=True, decay=0.99, restart_threshold=1.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.num_codes, self.code_dim = num_codes, code_dim
        self.commitment, self.ema, self.decay = float(commitment), bool(ema), float(decay)
        self.restart_threshold, self.seed = float(restart_threshold), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape=None):
        shape = (self.num_codes, self.code_dim)
        limit = 1.0 / self.num_codes  # the paper's implementation: uniform in +-1/K
        self.codebook = self.add_weight(shape=shape, initializer=keras.initializers.RandomUniform(-limit, limit),
                                        trainable=not self.ema, name="codebook")
        self.cluster_size = self.add_weight(shape=(self.num_codes,), initializer="zeros", trainable=False,
                                            name="cluster_size")
        if self.ema:
            self.code_sum = self.add_weight(shape=shape, initializer="zeros", trainable=False, name="code_sum")
        else:  # where restarts moved the trained codes to
            self.offset = self.add_weight(shape=shape, initializer="zeros", trainable=False, name="offset")
        self.built = True

    def codes_table(self):
        """The codebook as the layer quantizes with it: (num_codes, code_dim)."""
        return self.codebook if self.ema else self.codebook + self.offset

    def nearest_codes(self, z):
        """The int32 codes (batch, height, width) of the nearest codebook vectors to `z`'s."""
        flat = ops.reshape(ops.cast(z, "float32"), (-1, self.code_dim))
        table = ops.convert_to_tensor(self.codes_table())
        distances = (ops.sum(ops.square(flat), axis=1, keepdims=True) - 2 * ops.matmul(flat, ops.transpose(table))
                     + ops.sum(ops.square(table), axis=1)[None])
        return ops.reshape(ops.cast(ops.argmin(distances, axis=1), "int32"), ops.shape(z)[:-1])

    def lookup(self, codes):
        """The codebook vectors of int `codes`: shape (*codes.shape, code_dim)."""
        return ops.take(self.codes_table(), ops.cast(codes, "int32"), axis=0)

    def call(self, z, training=False):
        z = ops.cast(z, "float32")
        codes = self.nearest_codes(z)
        chosen = self.lookup(codes)
        one_hot = ops.one_hot(ops.reshape(codes, (-1,)), self.num_codes, dtype="float32")
        counts = ops.sum(one_hot, axis=0)
        vq_loss = self.commitment * _sum_per_image(ops.square(z - ops.stop_gradient(chosen)))
        if not self.ema:
            vq_loss = vq_loss + _sum_per_image(ops.square(ops.stop_gradient(z) - chosen))
        if training:
            self._update(ops.stop_gradient(ops.reshape(z, (-1, self.code_dim))), one_hot, counts)
        quantized = z + ops.stop_gradient(chosen - z)
        return quantized, codes, vq_loss, counts

    def _update(self, flat, one_hot, counts):
        """The moving averages of a training batch, the EMA codebook, and the restarts of rarely chosen codes."""
        cluster_size = self.decay * self.cluster_size.value + (1 - self.decay) * counts
        if self.ema:
            code_sum = self.decay * self.code_sum.value + (1 - self.decay) * ops.matmul(ops.transpose(one_hot), flat)
            total = ops.sum(cluster_size)
            smoothed = (cluster_size + EPSILON) / (total + self.num_codes * EPSILON) * total
            codebook = code_sum / smoothed[:, None]
        if self.restart_threshold > 0:
            dead = (cluster_size < self.restart_threshold)[:, None]
            picks = keras.random.randint((self.num_codes,), 0, ops.shape(flat)[0], seed=self.seed_generator)
            fresh = ops.take(flat, picks, axis=0)
            cluster_size = ops.where(dead[:, 0], self.restart_threshold, cluster_size)
            if self.ema:
                codebook = ops.where(dead, fresh, codebook)
                code_sum = ops.where(dead, fresh * self.restart_threshold, code_sum)
            else:
                self.offset.assign(ops.where(dead, fresh - ops.stop_gradient(self.codebook.value), self.offset.value))
        self.cluster_size.assign(cluster_size)
        if self.ema:
            self.code_sum.assign(code_sum)
            self.codebook.assign(codebook)

    def compute_output_spec(self, z, training=False):
        grid = z.shape[:-1]
        return (keras.KerasTensor(z.shape, "float32"), keras.KerasTensor(grid, "int32"),
                keras.KerasTensor(grid[:1], "float32"), keras.KerasTensor((self.num_codes,), "float32"))

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes, "code_dim": self.code_dim,
                "commitment": self.commitment, "ema": self.ema, "decay": self.decay,
                "restart_threshold": self.restart_threshold, "seed": self.seed}


def codebook_statistics(counts):
    """(perplexity, share of codes used) of code counts: exp of the entropy of their frequencies, and the
    fraction of codes chosen at least once.

    Example:
        >>> codebook_statistics(ops.convert_to_tensor([5.0, 5.0, 0.0, 0.0]))    # (2.0, 0.5)
    """
    counts = ops.cast(counts, "float32")
    frequencies = counts / ops.maximum(ops.sum(counts), 1.0)
    entropy = -ops.sum(ops.where(counts > 0, frequencies * ops.log(ops.maximum(frequencies, 1e-30)), 0.0))
    return ops.exp(entropy), ops.mean(ops.cast(counts > 0, "float32"))


@keras.saving.register_keras_serializable(package="keras_vae")
class VQVAE(BaseAutoencoder):
    """VQ-VAE (van den Oord et al., 2017): a convolutional encoder to a grid of vectors, each replaced by its
    nearest code of a learned codebook, a decoder from the quantized grid, and a gated PixelCNN prior over the
    codes (`prior`), trained after the autoencoder on its codes, to sample new images.

    `fit` trains the autoencoder (the prior's weights are not its own: `prior.fit` trains them) and reports
    `perplexity` and `codebook_usage`, the batch's code perplexity and share of codes used. `encode` returns
    codes, int32 of shape (n, height, width); `decode` takes them; `sample(n, seed)` draws codes from the prior
    and decodes them.

    Args:
        num_codes: codebook size.
        code_dim: length of each code vector.
        body: a `ConvBody` with `grid=True` (default: 4x4 stride-2 convolutions 32 and 64, a 7x7 grid for MNIST).
        likelihood: `"bernoulli"` (binary cross-entropy from logits) or `"gaussian"` (squared error).
        image_shape: (height, width, channels).
        commitment: weight of the commitment loss.
        ema: update the codebook by exponential moving averages (else by gradients).
        decay: the moving averages' decay.
        restart_threshold: restart codes chosen less often than this per batch (moving average); 0 never.
        prior: the `GatedPixelCNN` arguments (`filters`, `num_layers`, `kernel_size`) as a dict.
        seed: optional int seeding the restarts.
        **kwargs: passed to `keras.Model`.

    Example:
        >>> model = VQVAE(num_codes=256, code_dim=16)
        >>> model.compile(optimizer="adam")
        >>> model.fit(x_train, epochs=10, batch_size=128)
        >>> model.prior.compile(optimizer="adam")
        >>> model.prior.fit(model.codes(x_train), epochs=20, batch_size=128)
        >>> images = model.sample(16, seed=0)
    """

    encoder_heads = ("z",)
    loss_terms = ("loss", "reconstruction_loss", "vq_loss", "perplexity", "codebook_usage")

    def __init__(self, num_codes=256, code_dim=16, body=None, likelihood="bernoulli", image_shape=(28, 28, 1),
                 commitment=0.25, ema=True, decay=0.99, restart_threshold=1.0, prior=None, seed=None, **kwargs):
        if "latent_dim" in kwargs:
            raise ValueError("a VQ-VAE's latent is a grid of codes, not a vector of latent_dim: set code_dim (the "
                             "length of each code vector) and num_codes (the codebook's size)")
        num_codes, code_dim = positive_int("num_codes", num_codes), positive_int("code_dim", code_dim)
        if not 0 <= decay < 1 or commitment < 0 or restart_threshold < 0:
            raise ValueError(f"expected 0 <= decay < 1, commitment >= 0 and restart_threshold >= 0, got decay={decay}, "
                             f"commitment={commitment}, restart_threshold={restart_threshold}")
        body = body or ConvBody(filters=(32, 64), kernel_size=4, dense_units=None, grid=True)
        super().__init__(latent_dim=code_dim, body=body, likelihood=likelihood, image_shape=image_shape, **kwargs)
        if not getattr(self.body, "grid", False):
            raise ValueError(f"a VQ-VAE needs a body with a grid latent (ConvBody(..., grid=True)), got {self.body}")
        self.num_codes, self.code_dim, self.seed = num_codes, code_dim, seed
        self.grid_shape = tuple(self.encoder.output.shape[1:3])
        self.quantizer = VectorQuantizer(num_codes, code_dim, commitment=commitment, ema=ema, decay=decay,
                                         restart_threshold=restart_threshold, seed=seed, name="quantizer",
                                         dtype=self.dtype_policy.variable_dtype)
        self.quantizer.build()
        self.prior_config = dict(prior or {})
        self.prior = GatedPixelCNN(num_codes, self.grid_shape, **self.prior_config, name="prior", dtype=self.dtype)

    @property
    def trainable_variables(self):
        """The autoencoder's trainable variables, without the prior's (which `prior.fit` trains)."""
        prior = {id(variable) for variable in self.prior.variables}
        return [variable for variable in super().trainable_variables if id(variable) not in prior]

    @property
    def trainable_weights(self):
        return self.trainable_variables

    def compute_loss_terms(self, images, labels, training=False):
        quantized, _, vq_loss, counts = self.quantizer(self.encoder(images, training=training), training=training)
        reconstruction = reconstruction_loss(images, self.decoder(quantized, training=training), self.likelihood)
        perplexity, usage = codebook_statistics(counts)
        return {"loss": reconstruction + vq_loss, "reconstruction_loss": reconstruction, "vq_loss": vq_loss,
                "perplexity": perplexity, "codebook_usage": usage}

    def encode(self, images, labels=None):
        """The codes of images: int32 of shape (n, height, width) (see `grid_shape`).

        Args:
            images: float images in [0, 1], shape (batch, *image_shape).
            labels: not taken (the VQ-VAE is unconditional).
        """
        return self.quantizer.nearest_codes(super().encode(images, labels))

    def codes(self, images, batch_size=500):
        """`encode` over many images, a batch at a time: a NumPy int32 array of shape (n, height, width).

        Example:
            >>> codes = model.codes(x_train)          # (60000, 7, 7), to train the prior on
        """
        return np.concatenate([ops.convert_to_numpy(self.encode(images[start:start + batch_size]))
                               for start in range(0, len(images), batch_size)])

    def decode(self, codes, labels=None):
        """Decodes grids of codes, ints of shape (n, height, width) in [0, num_codes), to images in [0, 1].

        Args:
            codes: the code grids.
            labels: not taken (the VQ-VAE is unconditional).
        """
        self._check_condition(labels, None)
        if not hasattr(codes, "shape") or isinstance(codes, np.ndarray):
            codes = self.prior.check_codes(np.asarray(codes))
        elif tuple(codes.shape[1:]) != self.grid_shape:
            raise ValueError(f"codes must have shape (n, {', '.join(map(str, self.grid_shape))}), "
                             f"got {tuple(codes.shape)}")
        return ops.sigmoid(self.decoder(self.quantizer.lookup(codes), training=False))

    def reconstruct(self, images, labels=None):
        """Decodes the codes of `images`: images in [0, 1] of the same shape."""
        return self.decode(self.encode(images, labels))

    def sample(self, n, seed=None, labels=None):
        """Decodes `n` grids of codes drawn from the prior (train it first: `prior.fit`).

        Args:
            n: number of images.
            seed: int for reproducible draws; None draws fresh ones.
            labels: not taken (the VQ-VAE is unconditional).
        """
        self._check_condition(labels, None)
        return self.decode(self.prior.sample_codes(n, seed))

    def call(self, inputs, training=False):
        """Reconstructs images through the quantized grid."""
        quantized = self.quantizer(self.encoder(inputs, training=training), training=False)[0]
        return ops.sigmoid(self.decoder(quantized, training=training))

    def get_config(self):
        config = super().get_config()
        config["code_dim"] = config.pop("latent_dim")
        quantizer = self.quantizer
        return {**config, "num_codes": self.num_codes, "commitment": quantizer.commitment, "ema": quantizer.ema,
                "decay": quantizer.decay, "restart_threshold": quantizer.restart_threshold,
                "prior": self.prior_config, "seed": self.seed}



def is_quantized(model):
    """Whether `model` is a VQ-VAE: its latent is a grid of codes of a `quantizer`, sampled from a learned `prior`.

    Example:
        >>> is_quantized(zoo.get("vq_vae")), is_quantized(zoo.get("vae"))
        (True, False)
    """
    return isinstance(model, VQVAE)

# zoo entries: their descriptions and datasets are in keras_vae.zoo.CATALOG
register("vq_vae", VQVAE)
register("vq_vae_fashion", VQVAE)
