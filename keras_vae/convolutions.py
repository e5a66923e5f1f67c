"""Keras's transposed convolution layer, with the same weights, computed the way each backend runs it fastest.

XLA on a CPU differentiates a strided transposed convolution very slowly: for conv_vae's 14x14x64 -> 28x28x32
layer at batch 128, the forward pass and gradients take several times what the same arithmetic takes as matrix
products. `Conv2DTranspose` here therefore computes a strided, `"same"`-padded transposed convolution as its
sub-pixel (phase) decomposition where that is faster: each of the `s * s` output phases is a stride-1
correlation of the input with a sub-kernel of taps, all phases are computed as one matrix product over the
input's patches, and `depth_to_space` interleaves them. It is the same linear map, so outputs and gradients
equal Keras's to rounding.

The layer keeps Keras's class name, variables and shapes, so `.weights.h5` files from a model built with
`keras.layers.Conv2DTranspose` load into one built with this layer unchanged, and vice versa. Where the phase path
runs is `PHASES_ON`, chosen by measurement (`benchmarks/convolutions.py`, results in
`benchmarks/results/*-convolutions.md`).
"""

import functools

import keras
import numpy as np
from keras import ops

from keras_vae import trainers

#: the (backend, device type) pairs on which a strided "same" transposed convolution runs as its phases. Measured
#: on CPUs only (XLA's GPU convolutions keep Keras's op): on JAX the phases made conv_vae's whole training step
#: 2.96x faster and conv_vae_bn's 1.48x (benchmarks/results/cpu-epyc-2-cores-convolutions.md); TensorFlow and
#: PyTorch showed no case for them. (The same patch product for the strided `Conv2D` layers as well lost on JAX.)
PHASES_ON = {("jax", "cpu")}


@functools.cache
def platform():
    """This process's (Keras backend, its default device's type), e.g. ("jax", "cpu"): see `PHASES_ON`."""
    return keras.backend.backend(), trainers.device_type()


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


def _patches_matmul(inputs, kernel):
    """A stride-1 "valid" correlation of NHWC `inputs` with an HWIO `kernel`, as one matrix product over patches."""
    kh, kw, channels, filters = kernel.shape
    rows, cols = inputs.shape[1] - kh + 1, inputs.shape[2] - kw + 1
    patches = [inputs[:, i:i + rows, j:j + cols] for i in range(kh) for j in range(kw)]
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
    """`keras.layers.Conv2DTranspose`, computed as its phases on the platforms of `PHASES_ON`.

    Same arguments, variables and saved layout as Keras's layer. The phase path covers strides above 1 with
    `padding="same"`, channels last, no `output_padding` or dilation, and static spatial sizes; anything else,
    and the other platforms, run Keras's own `call`.

    Example:
        >>> layer = Conv2DTranspose(32, 3, strides=2, padding="same")
        >>> layer(ops.zeros((8, 14, 14, 64))).shape
        (8, 28, 28, 32)
    """

    def _phased(self, inputs):
        return (platform() in PHASES_ON and self.padding == "same" and max(self.strides) > 1
                and self.data_format == "channels_last" and self.output_padding is None
                and set(self.dilation_rate) == {1} and None not in inputs.shape[1:3])

    def call(self, inputs):
        if not self._phased(inputs):
            return super().call(inputs)
        outputs = conv_transpose_phases(inputs, self.kernel, tuple(self.strides))
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        return outputs if self.activation is None else self.activation(outputs)

