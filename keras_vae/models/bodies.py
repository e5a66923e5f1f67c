"""Network bodies: the encoder and decoder shapes a model family is built on.

A body is plain, serialisable configuration. Given the image shape, the latent size, the names of the
encoder's heads and the number of classes to condition on, it builds two functional Keras models:

- the encoder maps images (and, when conditioned, one-hot labels) to one tensor per head
  (`("code",)` for an autoencoder, `("z_mean", "z_log_var")` for a VAE);
- the decoder maps a latent vector (and one-hot labels) to per-pixel logits of the image shape.

Both take the model's dtype policy: the hidden layers compute under it (`mixed_bfloat16` runs them in
bfloat16), while the latent heads and the logits compute in the policy's variable dtype (float32 under mixed
precision), as Keras's mixed-precision guide advises for a model's outputs, so that the loss, the sampler and
`exp(z_log_var)` see float32.

Families decide *what* is learned (the objective); bodies decide *with what* (the architecture).
"""

import math

import keras
from keras import layers

from keras_vae.arguments import positive_ints
from keras_vae.configurable import Configurable
from keras_vae.convolutions import Conv2DTranspose


class Body(Configurable):
    """Base class of the bodies: validation, serialisation and the shared input plumbing.

    A body of your own implements both builders and passes `dtype` on to its layers (`_policies` splits it into
    the hidden layers' policy and the outputs' float policy).
    """

    def build_encoder(self, image_shape, latent_dim, heads, num_classes=0, dtype=None):
        """Returns the encoder: a functional model from images (and one-hot labels) to one tensor per head.

        Args:
            image_shape: (height, width, channels).
            latent_dim: width of each head.
            heads: the heads' names, e.g. `("z_mean", "z_log_var")`.
            num_classes: classes to condition on (0: none).
            dtype: the dtype policy (or its name) of the model; None for the global policy.
        """
        raise NotImplementedError

    def build_decoder(self, image_shape, latent_dim, num_classes=0, dtype=None):
        """Returns the decoder: a functional model from z (and one-hot labels) to logits of `image_shape`.

        Args: as `build_encoder`'s.
        """
        raise NotImplementedError


def _policies(dtype):
    """(the hidden layers' policy, the outputs' policy) for the model's policy `dtype` (None: the global one).

    Example:
        >>> _policies("mixed_bfloat16")   # (<DTypePolicy "mixed_bfloat16">, <DTypePolicy "float32">)
    """
    policy = keras.dtype_policies.get(dtype or keras.config.dtype_policy())
    return policy, keras.dtype_policies.get(policy.variable_dtype)


def _encoder_inputs(image_shape, num_classes):
    """Returns (image input, condition input or None, list of model inputs)."""
    images = keras.Input(shape=image_shape, name="images")
    if not num_classes:
        return images, None, images
    condition = keras.Input(shape=(num_classes,), name="labels_one_hot")
    return images, condition, [images, condition]


def _decoder_inputs(latent_dim, num_classes, dtype):
    """Returns (the decoder's input vector, list of model inputs); the condition is concatenated to z."""
    z = keras.Input(shape=(latent_dim,), name="z")
    if not num_classes:
        return z, z
    condition = keras.Input(shape=(num_classes,), name="labels_one_hot")
    return layers.Concatenate(dtype=dtype)([z, condition]), [z, condition]


def _encoder(inputs, outputs):
    """The encoder model: one output per head, a bare tensor when there is a single head."""
    return keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name="encoder")


@keras.saving.register_keras_serializable(package="keras_vae")
class DenseBody(Body):
    """Fully connected body: flatten, Dense layers of `hidden_units`, mirrored in the decoder.

    The default is the classic MNIST tutorial's 784-128-16-latent encoder and latent-16-128-784 decoder.

    Args:
        hidden_units: widths of the hidden layers, from the image towards the latent.
        activation: activation of the hidden layers.

    Example:
        >>> encoder = DenseBody().build_encoder((28, 28, 1), 2, ("z_mean", "z_log_var"))
    """

    def __init__(self, hidden_units=(128, 16), activation="relu"):
        self.hidden_units = positive_ints("hidden_units", hidden_units)
        self.activation = activation

    def build_encoder(self, image_shape, latent_dim, heads, num_classes=0, dtype=None):
        hidden, output = _policies(dtype)
        images, condition, inputs = _encoder_inputs(image_shape, num_classes)
        h = layers.Flatten(dtype=hidden)(images)
        if condition is not None:
            h = layers.Concatenate(dtype=hidden)([h, condition])
        for units in self.hidden_units:
            h = layers.Dense(units, activation=self.activation, dtype=hidden)(h)
        return _encoder(inputs, [layers.Dense(latent_dim, name=head, dtype=output)(h) for head in heads])

    def build_decoder(self, image_shape, latent_dim, num_classes=0, dtype=None):
        hidden, output = _policies(dtype)
        h, inputs = _decoder_inputs(latent_dim, num_classes, hidden)
        for units in reversed(self.hidden_units):
            h = layers.Dense(units, activation=self.activation, dtype=hidden)(h)
        h = layers.Dense(math.prod(image_shape), name="logits", dtype=output)(h)
        return keras.Model(inputs, layers.Reshape(image_shape, dtype=output)(h), name="decoder")


@keras.saving.register_keras_serializable(package="keras_vae")
class ConvBody(Body):
    """Convolutional body: stride-2 convolutions down, stride-2 transposed convolutions back up.

    With a `dense_units` bottleneck this is the Keras tutorial's conv VAE (Conv2D 32, 64, 3x3, stride 2,
    Dense 16; decoder Dense 7x7x64, Conv2DTranspose 64, 32, then a 1-channel output). With
    `dense_units=None` the latent is reached by a convolution covering the last feature map, as in the
    PyTorch tutorials (4x4 kernels, batch norm, images padded to 32x32).

    With `grid=True` the latent is a grid of vectors, one per position of the last feature map (a VQ-VAE's):
    each head is a 1x1 convolution to `latent_dim` channels, and the decoder starts from such a grid with a 3x3
    convolution.

    Args:
        filters: channels of the stride-2 convolutions; the decoder mirrors them.
        kernel_size: kernel size of the convolutions.
        dense_units: width of the Dense layer before the latent heads, or None for convolutional heads.
        grid: the latent is a (height / 2**len(filters), width / 2**len(filters), latent_dim) grid; needs
            `dense_units=None`.
        batch_norm: put BatchNormalization between each convolution and its activation.
        pad_to: zero-pad images to this square size inside the encoder (the decoder crops back), so
            that the size divides by 2 ** len(filters); None to use the image as it is.
        activation: activation after each convolution.

    Example:
        >>> body = ConvBody(filters=(16, 32, 64), kernel_size=4, dense_units=None, batch_norm=True, pad_to=32)
    """

    def __init__(self, filters=(32, 64), kernel_size=3, dense_units=16, batch_norm=False, pad_to=None,
                 activation="relu", grid=False):
        self.filters = positive_ints("filters", filters)
        (self.kernel_size,) = positive_ints("kernel_size", [kernel_size])
        self.dense_units = None if dense_units is None else positive_ints("dense_units", [dense_units])[0]
        self.batch_norm = bool(batch_norm)
        self.pad_to = None if pad_to is None else positive_ints("pad_to", [pad_to])[0]
        self.activation = activation
        self.grid = bool(grid)
        if self.grid and self.dense_units is not None:
            raise ValueError("a grid latent (grid=True) has no Dense bottleneck: set dense_units=None")

    def _padding(self, image_shape):
        """Returns ((top, bottom), (left, right)) zero padding, checking the size suits the strides."""
        height, width = image_shape[:2]
        size = (self.pad_to, self.pad_to) if self.pad_to else (height, width)
        if size[0] < height or size[1] < width:
            raise ValueError(f"pad_to={self.pad_to} is smaller than the image size {height}x{width}")
        stride = 2 ** len(self.filters)
        if size[0] % stride or size[1] % stride:
            raise ValueError(
                f"{len(self.filters)} stride-2 convolutions need an image size divisible by {stride}, "
                f"got {size[0]}x{size[1]}; set pad_to (e.g. pad_to={math.ceil(max(size) / stride) * stride})")
        return tuple((d // 2, d - d // 2) for d in (size[0] - height, size[1] - width))

    def _feature_shape(self, image_shape):
        padding = self._padding(image_shape)
        stride = 2 ** len(self.filters)
        return tuple((image_shape[i] + sum(padding[i])) // stride for i in (0, 1))

    def _conv_block(self, layer, h, dtype):
        h = layer(h)
        if self.batch_norm:
            h = layers.BatchNormalization(dtype=dtype)(h)
        return layers.Activation(self.activation, dtype=dtype)(h)

    def _conv(self, filters, kernel_size, dtype, strides=1, padding="same", transpose=False):
        conv = Conv2DTranspose if transpose else layers.Conv2D
        return conv(filters, kernel_size, strides=strides, padding=padding, use_bias=not self.batch_norm, dtype=dtype)

    def build_encoder(self, image_shape, latent_dim, heads, num_classes=0, dtype=None):
        hidden, output = _policies(dtype)
        images, condition, inputs = _encoder_inputs(image_shape, num_classes)
        padding = self._padding(image_shape)
        h = layers.ZeroPadding2D(padding, dtype=hidden)(images) if any(map(sum, padding)) else images
        for filters in self.filters:
            h = self._conv_block(self._conv(filters, self.kernel_size, hidden, strides=2), h, hidden)
        if self.dense_units is None:
            if condition is not None:
                raise ValueError("a conditional model needs a ConvBody with dense_units set")
            if self.grid:
                return _encoder(inputs, [layers.Conv2D(latent_dim, 1, name=head, dtype=output)(h) for head in heads])
            kernel = self._feature_shape(image_shape)
            return _encoder(inputs, [layers.Flatten(name=head, dtype=output)(
                layers.Conv2D(latent_dim, kernel, dtype=output)(h)) for head in heads])
        h = layers.Flatten(dtype=hidden)(h)
        if condition is not None:
            h = layers.Concatenate(dtype=hidden)([h, condition])
        h = layers.Dense(self.dense_units, activation=self.activation, dtype=hidden)(h)
        return _encoder(inputs, [layers.Dense(latent_dim, name=head, dtype=output)(h) for head in heads])

    def build_decoder(self, image_shape, latent_dim, num_classes=0, dtype=None):
        hidden, output = _policies(dtype)
        feature_shape = (*self._feature_shape(image_shape), self.filters[-1])
        if self.grid:
            h = inputs = keras.Input(shape=(*feature_shape[:2], latent_dim), name="z")
            h = self._conv_block(self._conv(feature_shape[-1], 3, hidden), h, hidden)
        elif self.dense_units is None:
            h, inputs = _decoder_inputs(latent_dim, num_classes, hidden)
            h = layers.Reshape((1, 1, h.shape[-1]), dtype=hidden)(h)
            h = self._conv_block(self._conv(feature_shape[-1], feature_shape[:2], hidden, padding="valid",
                                            transpose=True), h, hidden)
        else:
            h, inputs = _decoder_inputs(latent_dim, num_classes, hidden)
            h = layers.Dense(math.prod(feature_shape), activation=self.activation, dtype=hidden)(h)
            h = layers.Reshape(feature_shape, dtype=hidden)(h)
        for filters in reversed(self.filters):
            h = self._conv_block(self._conv(filters, self.kernel_size, hidden, strides=2, transpose=True), h, hidden)
        logits = Conv2DTranspose(image_shape[-1], self.kernel_size, padding="same", name="logits",
                                        dtype=output)(h)
        padding = self._padding(image_shape)
        if any(map(sum, padding)):
            logits = layers.Cropping2D(padding, dtype=output)(logits)
        return keras.Model(inputs, logits, name="decoder")


_BODIES = {"dense": DenseBody, "conv": ConvBody}


def get(identifier):
    """Returns a Body from a Body, a name (`"dense"`, `"conv"`) or a serialised config dict.

    Args:
        identifier: a `Body` instance, one of the names above, or the output of
            `keras.saving.serialize_keras_object(body)`.

    Example:
        >>> get("conv").filters
        (32, 64)
    """
    if isinstance(identifier, Body):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _BODIES:
            raise ValueError(f"unknown body {identifier!r}; known bodies: {sorted(_BODIES)}")
        return _BODIES[identifier]()
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    raise TypeError(f"body must be a Body, a name in {sorted(_BODIES)} or a config dict, got {identifier!r}")
