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


register("conv_vae", ConvVAE, description="Keras tutorial conv VAE: Conv2D 32/64 stride 2, Dense 16, latent 2")
register("conv_vae_fashion", ConvVAE, dataset="fashion_mnist",
         description="the Keras tutorial conv VAE (latent 2) trained on Fashion-MNIST")
register(
    "conv_vae_bn", ConvVAE,
    description="PyTorch tutorial conv VAE: 4x4 stride-2 convs 16/32/64 with batch norm on 32x32-padded images, "
                "latent 128, Gaussian (MSE) reconstruction, KL weight 0.1",
    body=ConvBody(filters=(16, 32, 64), kernel_size=4, dense_units=None, batch_norm=True, pad_to=32,
                  activation="leaky_relu"),
    latent_dim=128, likelihood="gaussian", beta=0.1,
)
