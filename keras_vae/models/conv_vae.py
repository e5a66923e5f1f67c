"""The convolutional VAE: the Keras tutorial's model and the PyTorch tutorial's batch-norm design."""

import keras

from keras_vae.models.bodies import ConvBody
from keras_vae.models.vae import VAE
from keras_vae.zoo import register


@keras.saving.register_keras_serializable(package="keras_vae")
class ConvVAE(VAE):
    """A VAE on a convolutional body.

    The defaults are the Keras tutorial's conv VAE: Conv2D 32 and 64 (3x3, stride 2, same), Dense 16, a
    2-d latent, and a decoder Dense 7x7x64, Conv2DTranspose 64 and 32 (stride 2), 1 output channel.

    Args:
        latent_dim: size of the latent space.
        body: a `ConvBody` (or its config); defaults to `ConvBody()`.
        **kwargs: the other `VAE` arguments (`beta`, `likelihood`, `image_shape`, `seed`, ...).

    Example:
        >>> model = ConvVAE()                      # the Keras tutorial
        >>> model = ConvVAE(latent_dim=16, body=ConvBody(filters=(32, 64, 128), pad_to=32))
    """

    def __init__(self, latent_dim=2, body="conv", **kwargs):
        super().__init__(latent_dim=latent_dim, body=body, **kwargs)


# zoo entries: their descriptions and datasets are in keras_vae.zoo.CATALOG
register("conv_vae", ConvVAE)
register("conv_vae_fashion", ConvVAE)
register(
    "conv_vae_bn", ConvVAE,
    body=ConvBody(filters=(16, 32, 64), kernel_size=4, dense_units=None, batch_norm=True, pad_to=32,
                  activation="leaky_relu"),
    latent_dim=128, likelihood="gaussian", beta=0.1,
)
