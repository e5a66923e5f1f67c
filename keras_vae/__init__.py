"""keras_vae: a Keras 3 model zoo of autoencoders for images.

Example:
    >>> import keras_vae
    >>> (x_train, _), (x_test, _) = keras_vae.data.load("mnist")
    >>> model = keras_vae.zoo.get("conv_vae")
    >>> model.compile(optimizer="adam")
    >>> model.fit(x_train, epochs=12, batch_size=32)
    >>> trained = keras_vae.zoo.get("conv_vae", pretrained=True)
    >>> keras_vae.evaluate.reconstruction_error(trained, x_test)

`keras_vae.export` (TensorFlow SavedModel export) is imported on demand: it needs TensorFlow installed.
`keras_vae.plots` (the tutorials' figures) is imported on demand too, to keep matplotlib out of the way.
"""

from keras_vae import data, evaluate, losses, recipes, zoo
from keras_vae.models import VAE, Autoencoder, BetaVAE, ConditionalVAE, ConvBody, ConvVAE, DenseBody

__version__ = "0.1.0"
__all__ = ["data", "evaluate", "losses", "recipes", "zoo", "Autoencoder", "VAE", "BetaVAE", "ConvVAE", "ConditionalVAE", "DenseBody",
           "ConvBody"]
