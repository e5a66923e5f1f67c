"""Floating-point operations per image of a keras_vae model, counted from its layers.

Only the layers that multiply (Dense, Conv2D, Conv2DTranspose) are counted, at 2 FLOPs per multiply-add;
the element-wise rest is a few percent. A training step costs about three forward passes (the forward, and
the gradients with respect to the activations and to the weights).
"""

import math

import keras


def layer_flops(layer):
    """FLOPs of one image through `layer` (0 for layers that do not multiply)."""
    if isinstance(layer, keras.layers.Dense):
        return 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
    if isinstance(layer, keras.layers.Conv2DTranspose):  # each input position scatters a k x k x out patch
        return 2 * math.prod(layer.input.shape[1:3]) * math.prod(layer.kernel.shape)
    if isinstance(layer, keras.layers.Conv2D):  # each output position gathers a k x k x in patch
        return 2 * math.prod(layer.output.shape[1:3]) * math.prod(layer.kernel.shape)
    return 0


def network_flops(network):
    """FLOPs of one image through a functional `keras.Model` (the encoder or the decoder)."""
    return sum(layer_flops(layer) for layer in network.layers)


def model_flops(model):
    """Per-image FLOPs of a keras_vae model: `encode`, `decode`, `reconstruct` and a `train` step."""
    encode, decode = network_flops(model.encoder), network_flops(model.decoder)
    return {"encode": encode, "decode": decode, "reconstruct": encode + decode, "train": 3 * (encode + decode)}
