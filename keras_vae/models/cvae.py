"""The conditional VAE: encoder and decoder both see the one-hot class label."""

import keras

from keras_vae.arguments import positive_int
from keras_vae.models.vae import VAE
from keras_vae.zoo import register


@keras.saving.register_keras_serializable(package="keras_vae")
class ConditionalVAE(VAE):
    """Conditional VAE (Sohn et al., 2015): q(z | x, y) and p(x | z, y) with y a one-hot class label.

    `fit(x, labels)` trains on integer labels; `sample(n, labels=7)` draws images of a chosen class;
    `encode`, `decode` and `reconstruct` take `labels` too.

    Args:
        num_classes: number of classes of the labels.
        latent_dim: size of the latent space.
        body: `"dense"` (default), `"conv"` (with a Dense bottleneck), or a `Body`.
        **kwargs: the other `VAE` arguments.

    Example:
        >>> model = ConditionalVAE(num_classes=10)
        >>> model.compile(optimizer="adam")
        >>> model.fit(x_train, y_train, epochs=10, batch_size=128)
        >>> sevens = model.sample(8, labels=7, seed=0)
    """

    def __init__(self, num_classes=10, latent_dim=2, body="dense", **kwargs):
        num_classes = positive_int("num_classes", num_classes)
        super().__init__(latent_dim=latent_dim, body=body, num_classes=num_classes, **kwargs)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


# zoo entries: their descriptions and datasets are in keras_vae.zoo.CATALOG
register("cvae", ConditionalVAE)
