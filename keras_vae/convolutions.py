"""Keras's convolution layers, with the same weights, computed the way each backend runs them fastest.

XLA on a CPU differentiates a strided transposed convolution very slowly: for conv_vae's 14x14x64 -> 28x28x32
layer at batch 128, the forward pass and gradients take several times what the same arithmetic takes as matrix
products. `Conv2DTranspose` here therefore computes a strided, `"same"`-padded transposed convolution as its
sub-pixel (phase) decomposition where that is faster: each of the `s * s` output phases is a stride-1
correlation of the input with a sub-kernel of taps, all phases are computed as one matrix product over the
input's patches, and `depth_to_space` interleaves them. It is the same linear map, so outputs and gradients
equal Keras's to rounding.

The layers keep Keras's class names, variables and shapes, so `.weights.h5` files and `.keras` configs from
`keras.layers.Conv2DTranspose` / `keras.layers.Conv2D` load into them unchanged and vice versa. Which backend
takes which path is `FAST_PATHS`, chosen by measurement (`benchmarks/convolutions.py`, results in
`benchmarks/results/*-convolutions.md`).
"""

import functools

import keras
import numpy as np
from keras import ops

from keras_vae import trainers

#: per (backend, device type), the layers ("conv", "transpose") whose strided "same" convolution is computed as
#: patches times a matrix rather than by Keras's op. Measured on CPUs only (XLA's GPU convolutions keep Keras's
#: op): on JAX the transposed path made conv_vae's step 3.8x faster and conv_vae_bn's 1.2x, the strided Conv2D
#: path on top of it lost (3.0x and 0.6x); on TensorFlow and PyTorch Keras's op was the faster.
FAST_PATHS = {("jax", "cpu"): ("transpose",)}


@functools.cache
def platform():
    """The key of `FAST_PATHS` for this process: (Keras backend, its default device's type), e.g. ("jax", "cpu")."""
    return keras.backend.backend(), trainers.device_type()


def _fast(kind):
    return kind in FAST_PATHS.get(platform(), ())


def _phase_taps(size, stride):
    """One spatial axis of a "same" transposed convolution as phases: ({(phase, offset): tap}, offsets' range).

    Output `i * stride + phase` receives input `i + offset` times kernel tap `tap`; the padding before the input
    is Keras's (and TensorFlow's) `(size - stride) // 2`.
    """
    before = max(size - stride, 0) // 2
    taps = {(phase, (phase + before - tap) // stride): tap
            for phase in range(stride) for tap in range(size) if (tap - phase - before) % stride == 0}
    offsets = [offset for _, offset in taps]
    return taps, min(offsets), max(offsets)


def _phase_kernel(kernel, strides):
    """A transposed convolution's kernel `(kh, kw, out, in)` as the stride-1 kernel of its phases.

    Returns the kernel `(u, v, in, sy * sx * out)` (phase-major output channels) and the input's padding.
    """
    kh, kw, filters, channels = kernel.shape
    (rows, top, bottom), (cols, left, right) = map(_phase_taps, (kh, kw), strides)
    index = np.full((bottom - top + 1, right - left + 1, *strides), kh * kw)  # kh * kw: a zero tap
    for (row_phase, row), i in rows.items():
        for (col_phase, col), j in cols.items():
            index[row - top, col - left, row_phase, col_phase] = i * kw + j
    taps = ops.concatenate([ops.reshape(kernel, (kh * kw, filters, channels)),
                            ops.zeros((1, filters, channels), kernel.dtype)])
    phases = ops.reshape(ops.take(taps, index.reshape(-1), axis=0), (*index.shape, filters, channels))
    phases = ops.transpose(phases, (0, 1, 5, 2, 3, 4))
    return ops.reshape(phases, (*index.shape[:2], channels, -1)), ((-top, bottom), (-left, right))


def _patches_matmul(inputs, kernel, strides=(1, 1)):
    """A "valid" correlation of NHWC `inputs` with an HWIO `kernel`, as one matrix product over the patches."""
    kh, kw, channels, filters = kernel.shape
    height, width = inputs.shape[1:3]
    rows, cols = (height - kh) // strides[0] + 1, (width - kw) // strides[1] + 1
    patches = [inputs[:, i:i + (rows - 1) * strides[0] + 1:strides[0], j:j + (cols - 1) * strides[1] + 1:strides[1]]
               for i in range(kh) for j in range(kw)]
    return ops.matmul(ops.concatenate(patches, axis=-1), ops.reshape(kernel, (kh * kw * channels, filters)))


def conv_transpose_phases(inputs, kernel, strides):
    """`ops.conv_transpose(inputs, kernel, strides, "same")` (channels last) computed as its phases.

    Args:
        inputs: images `(batch, height, width, in)` with static height and width.
        kernel: Keras's transposed-convolution kernel `(kh, kw, out, in)`.
        strides: `(sy, sx)`.

    Example:
        >>> conv_transpose_phases(ops.ones((1, 7, 7, 4)), ops.ones((3, 3, 2, 4)), (2, 2)).shape
        (1, 14, 14, 2)
    """
    phases, padding = _phase_kernel(kernel, strides)
    outputs = _patches_matmul(ops.pad(inputs, ((0, 0), *padding, (0, 0))), phases)
    batch, height, width = ops.shape(outputs)[:3]
    outputs = ops.reshape(outputs, (batch, height, width, *strides, kernel.shape[2]))
    outputs = ops.transpose(outputs, (0, 1, 3, 2, 4, 5))
    return ops.reshape(outputs, (batch, height * strides[0], width * strides[1], kernel.shape[2]))


@keras.saving.register_keras_serializable(package="keras_vae")
class Conv2DTranspose(keras.layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose`, computed as its phases on the backends of `FAST_PATHS`.

    Same arguments, variables and saved layout as Keras's layer. The phase path covers strides above 1 with
    `padding="same"`, channels last, no `output_padding` or dilation, and static spatial sizes; anything else,
    and the other backends, run Keras's own `call`.

    Example:
        >>> layer = Conv2DTranspose(32, 3, strides=2, padding="same")
        >>> layer(ops.zeros((8, 14, 14, 64))).shape
        (8, 28, 28, 32)
    """

    def _phased(self, inputs):
        return (_fast("transpose") and self.padding == "same" and max(self.strides) > 1
                and self.data_format == "channels_last" and self.output_padding is None
                and set(self.dilation_rate) == {1} and None not in inputs.shape[1:3])

    def call(self, inputs):
        if not self._phased(inputs):
            return super().call(inputs)
        outputs = conv_transpose_phases(inputs, self.kernel, tuple(self.strides))
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        return outputs if self.activation is None else self.activation(outputs)


@keras.saving.register_keras_serializable(package="keras_vae")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D`, computed as one matrix product over the input's patches on the backends of
    `FAST_PATHS`.

    Same arguments, variables and saved layout as Keras's layer. The patch path covers strides above 1 with
    `padding="same"`, channels last, no dilation or groups, and static spatial sizes; anything else, and the
    other backends, run Keras's own convolution.

    Example:
        >>> Conv2D(32, 3, strides=2, padding="same")(ops.zeros((8, 28, 28, 1))).shape
        (8, 14, 14, 32)
    """

    def convolution_op(self, inputs, kernel):
        if not (_fast("conv") and self.padding == "same" and max(self.strides) > 1 and self.groups == 1
                and self.data_format == "channels_last" and set(self.dilation_rate) == {1}
                and None not in inputs.shape[1:3]):
            return super().convolution_op(inputs, kernel)
        padding = []
        for size, taps, stride in zip(inputs.shape[1:3], kernel.shape[:2], self.strides):
            total = max((-(-size // stride) - 1) * stride + taps - size, 0)
            padding.append((total // 2, total - total // 2))
        return _patches_matmul(ops.pad(inputs, ((0, 0), *padding, (0, 0))), kernel, tuple(self.strides))
