"""The plain autoencoder: a deterministic code, reconstruction loss only."""

import keras

from keras_vae.losses import reconstruction_loss
from keras_vae.models.base import BaseAutoencoder
from keras_vae.zoo import register


@keras.saving.register_keras_serializable(package="keras_vae")
class Autoencoder(BaseAutoencoder):
    """Deterministic autoencoder: images -> code -> images, trained on reconstruction alone.

    It has no prior, so `sample` raises; its latent space is what the VAE's KL term regularises.

    Args:
        latent_dim: size of the code.
        body: `"dense"` (784-128-16-latent, mirrored), `"conv"`, or a `Body`.
        likelihood: `"bernoulli"` (binary cross-entropy from logits) or `"gaussian"` (squared error).
        image_shape: (height, width, channels).
        **kwargs: passed to `keras.Model`.

    Example:
        >>> model = Autoencoder(latent_dim=2)
        >>> model.compile(optimizer="adam")
        >>> model.fit(x_train, epochs=10, batch_size=128)
        >>> codes = model.encode(x_test)          # (n, 2)
    """

    encoder_heads = ("code",)
    loss_terms = ("loss", "reconstruction_loss")

    def __init__(self, latent_dim=2, body="dense", likelihood="bernoulli", image_shape=(28, 28, 1), **kwargs):
        super().__init__(latent_dim=latent_dim, body=body, likelihood=likelihood, image_shape=image_shape, **kwargs)

    def compute_loss_terms(self, images, labels, training=False):
        logits = self.decoder(self.encoder(images, training=training), training=training)
        reconstruction = reconstruction_loss(images, logits, self.likelihood)
        return {"loss": reconstruction, "reconstruction_loss": reconstruction}

    def sample(self, n, seed=None, labels=None):
        """Not available: an autoencoder has no prior to draw from. Use a VAE, or `decode` chosen codes."""
        raise NotImplementedError("an Autoencoder has no prior to sample from: decode codes of your choosing "
                                  "with decode(z), or use a VAE (keras_vae.zoo.get('vae'))")


# zoo entries: their descriptions and datasets are in keras_vae.zoo.CATALOG
register("ae", Autoencoder)
