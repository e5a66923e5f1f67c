"""keras_vae: a Keras 3 model zoo of autoencoders for images.

Example:
    >>> import keras_vae
    >>> run = keras_vae.train("conv_vae", epochs=12, out="runs/conv_vae")   # what `keras-vae train` runs
    >>> run.test_metrics["loss"]
    >>> (x_train, _), (x_test, _) = keras_vae.data.load("mnist")
    >>> model = keras_vae.zoo.get("conv_vae")
    >>> model.compile(optimizer="adam")
    >>> model.fit(x_train, epochs=12, batch_size=32)
    >>> trained = keras_vae.zoo.get("conv_vae", pretrained=True)
    >>> keras_vae.evaluate.reconstruction_error(trained, x_test)
    >>> keras_vae.export.export(trained, "exported/conv_vae")                # or format="onnx" / "litert"

Importing the package starts no backend: each module (and each model class) is imported when it is first used,
so `keras_vae.export` (SavedModel, ONNX and LiteRT export) needs TensorFlow only once it is called, and
`keras_vae.plots` (the tutorials' figures) loads matplotlib only then. To load a `.keras` file with Keras's own
`keras.saving.load_model`, import the classes first (`import keras_vae.models`), or use
`keras_vae.zoo.load_model`, which does.
"""

from keras_vae import _lazy

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=["callbacks", "data", "disentanglement", "distribution", "evaluate", "export", "losses", "models",
                "plots", "recipes", "schedules", "tensorboard", "training", "zoo"],
    attributes={"models": ["Autoencoder", "VAE", "BetaVAE", "BetaTCVAE", "ConvVAE", "ConditionalVAE", "FactorVAE",
                           "IWAE", "HierarchicalVAE", "VQVAE", "GatedPixelCNN", "DenseBody", "ConvBody"],
                "training": ["train", "TrainingRun"]},
)
