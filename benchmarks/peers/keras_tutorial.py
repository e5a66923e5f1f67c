"""The Keras tutorial's VAE ("Variational AutoEncoder", keras.io/examples/generative/vae), as users copy it:
functional encoder and decoder, a `Sampling` layer, a `keras.Model` whose `train_step` uses `tf.GradientTape`,
trained with `fit` on NumPy arrays. TensorFlow backend only, like the tutorial.
"""

import keras
import tensorflow as tf
from keras import layers, ops

import timing


class Sampling(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(shape=ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def _networks(architecture, latent_dim=2):
    inputs = keras.Input(shape=(28, 28, 1))
    if architecture == "conv":
        x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(inputs)
        x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
        x = layers.Dense(16, activation="relu")(layers.Flatten()(x))
    else:
        x = layers.Dense(128, activation="relu")(layers.Flatten()(inputs))
        x = layers.Dense(16, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    encoder = keras.Model(inputs, [z_mean, z_log_var, Sampling()([z_mean, z_log_var])], name="encoder")
    latent_inputs = keras.Input(shape=(latent_dim,))
    if architecture == "conv":
        x = layers.Reshape((7, 7, 64))(layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs))
        x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
        x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
        outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    else:
        x = layers.Dense(128, activation="relu")(layers.Dense(16, activation="relu")(latent_inputs))
        outputs = layers.Reshape((28, 28, 1))(layers.Dense(784, activation="sigmoid")(x))
    return encoder, keras.Model(latent_inputs, outputs, name="decoder")


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(
                ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {"loss": self.total_loss_tracker.result(),
                "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                "kl_loss": self.kl_loss_tracker.result()}


def measure(architecture, images, steps, settings):
    """`fit` of the tutorial's VAE on NumPy copies of `images` (one batch), timed by epochs as keras_vae's is."""
    model = VAE(*_networks(architecture))
    model.compile(optimizer=keras.optimizers.Adam())
    return timing.measure_fit(model, images.repeat(steps, axis=0), None, len(images), settings["repeats"],
                              settings["epoch_seconds"])
