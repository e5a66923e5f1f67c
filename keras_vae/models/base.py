"""What every autoencoder family shares.

`BaseAutoencoder` builds the encoder and decoder from a body, tracks the loss terms as Keras metrics,
hands `train_step`/`test_step` to the active backend's trainer (`keras_vae.trainers`) and offers the
`encode` / `decode` / `reconstruct` / `sample` API. A family only says which encoder heads it has and how
its loss terms are computed per image (`compute_loss_terms`), in `keras.ops`, once for every backend.

What keeps Keras's contract lives here too: the batch's terms are weighed by `sample_weight`, the losses that
layers add (regularizers, `add_loss`) join the loss as on a plain `keras.Model`, the hidden layers follow the
model's dtype policy, `fit`/`evaluate` take Keras's arguments (positionally too), and `compile` refuses the
`loss` and `metrics` that a model with its own objective cannot use.
"""

import contextlib
import inspect

import keras
import numpy as np
from keras import ops

from keras_vae.arguments import positive_int
from keras_vae import trainers
from keras_vae.data import EpochBatches, check_images
from keras_vae.data.checks import check_indices
from keras_vae.distribution import check_batches
from keras_vae.losses import LIKELIHOODS
from keras_vae.models import bodies
from keras_vae.models.objective import ObjectiveModel


def _first(outputs):
    """The first encoder output: z_mean of a VAE, or the code of an autoencoder (a bare tensor)."""
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


def _check_image_shape(image_shape):
    image_shape = tuple(image_shape)
    if len(image_shape) != 3 or not all(isinstance(d, int) and d > 0 for d in image_shape):
        raise ValueError(f"image_shape must be (height, width, channels) of positive ints, got {image_shape!r}")
    return image_shape


class BaseAutoencoder(ObjectiveModel):
    """Base class of the model families; not registered, not used directly.

    Args:
        latent_dim: size of the latent code.
        body: a `keras_vae.models.bodies.Body`, its name (`"dense"`, `"conv"`) or its config.
        likelihood: `"bernoulli"` (binary cross-entropy from logits) or `"gaussian"` (squared error).
        image_shape: (height, width, channels) of the images.
        num_classes: number of classes the encoder and decoder are conditioned on; 0 for none.
        **kwargs: passed to `keras.Model` (`name`, `dtype`, ...). `dtype` (else the global policy) is the policy
            of the body's hidden layers; the latent heads, the logits, the sampler and the loss stay in its
            variable dtype (float32 for `mixed_bfloat16` and `mixed_float16`).
    """

    #: names of the encoder's outputs
    encoder_heads = ("z_mean", "z_log_var")
    #: names of the metrics `train_step` and `test_step` report
    loss_terms = ("loss", "reconstruction_loss", "kl_loss")

    def __init__(self, *, latent_dim, body, likelihood, image_shape, num_classes=0, **kwargs):
        super().__init__(**kwargs)
        latent_dim = positive_int("latent_dim", latent_dim)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if not isinstance(num_classes, int) or num_classes < 0:
            raise ValueError(f"num_classes must be a non-negative int, got {num_classes!r}")
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.image_shape = _check_image_shape(image_shape)
        self.num_classes = num_classes
        self.body = bodies.get(body)
        self.encoder = self.body.build_encoder(self.image_shape, latent_dim, self.encoder_heads, num_classes,
                                               dtype=self.dtype_policy)
        self.decoder = self.body.build_decoder(self.image_shape, latent_dim, num_classes, dtype=self.dtype_policy)
        self.built = True

    # --- training -------------------------------------------------------------------------------

    def compute_loss_terms(self, images, labels, training=False):
        """Returns a dict with a tensor of shape (batch,) for each name in `loss_terms`: each image's terms (or a
        scalar: a statistic of the whole batch, such as a VQ-VAE's codebook perplexity).

        Args:
            images: a batch of images.
            labels: their integer labels for a conditional model, else None.
            training: whether layers run in training mode (batch norm statistics, sampling).
        """
        raise NotImplementedError

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`, with the same arguments, after checking in-memory data.

        Arrays are checked for shape, range and NaN before a compiled step sees them; `sample_weight`
        weighs each image's loss terms; `class_weight` is refused (the loss is not a classification loss:
        turn it into `sample_weight`).
        """
        arguments = _bind(keras.Model.fit, self, args, kwargs)
        if arguments.get("class_weight") is not None:
            raise ValueError(f"{type(self).__name__} does not take class_weight: its loss is not a classification "
                             "loss. Weigh images by their class with sample_weight instead, e.g. "
                             "sample_weight=np.vectorize(class_weight.get)(labels)")
        self._check_arguments(arguments)
        validation = arguments.get("validation_data")
        if isinstance(validation, (tuple, list)) and validation:
            validation = self._check_data(*validation)[:len(validation)]  # (x,), (x, y) or (x, y, sample_weight)
            arguments["validation_data"] = validation
            _check_split(validation[0], arguments.get("validation_batch_size") or arguments.get("batch_size"),
                         "validation_batch_size")
        with trainers.synchronized_batch_norm(self):
            return super().fit(**arguments)

    def evaluate(self, *args, **kwargs):
        """`keras.Model.evaluate`, with the same arguments, after checking in-memory data.

        The posterior samples of the loss are drawn from the model's `seed` (0 if it has none), and the
        generators' states are put back afterwards: the same weights and data give the same numbers every
        time, and evaluating (or validating during `fit`) leaves training's noise as it was.
        """
        arguments = _bind(keras.Model.evaluate, self, args, kwargs)
        self._check_arguments(arguments)
        with self._evaluation_noise():
            return super().evaluate(**arguments)

    def _check_arguments(self, arguments):
        """Checks the data arguments of a `fit` or `evaluate` call, in place."""
        x, y, weights = self._check_data(arguments.get("x"), arguments.get("y"), arguments.get("sample_weight"))
        if weights is not None and y is None:  # Keras drops the weights of data without y: give it labels to ignore
            y = _ignored_labels(len(x))
        arguments.update(x=x, y=y, sample_weight=weights)
        _check_split(x, arguments.get("batch_size"))

    @contextlib.contextmanager
    def _evaluation_noise(self):
        """Seeds the model's random generators for an evaluation, then puts their states back."""
        states = self.random_states()
        saved = [ops.convert_to_numpy(state) for state in states]
        seed = getattr(self, "seed", None) or 0
        for index, state in enumerate(states):  # what keras.random.SeedGenerator(seed + index) starts from
            state.assign(ops.convert_to_tensor(np.array([seed + index, 0]), dtype=state.dtype))
        try:
            yield
        finally:
            for state, value in zip(states, saved):
                state.assign(value)

    def random_states(self):
        """The state variables of the model's `keras.random.SeedGenerator`s (the sampler's noise)."""
        return [v for v in self.non_trainable_variables if v.name == "seed_generator_state"]

    def _check_data(self, x, y=None, sample_weight=None):
        """Checks in-memory arrays before they reach a compiled step, where errors are unreadable."""
        if isinstance(x, list):  # nested lists of pixels; Keras itself would refuse them
            x = np.asarray(x)
        if not isinstance(x, np.ndarray):
            return x, y, sample_weight
        x = check_images(x, image_shape=self.image_shape)
        if y is None and self.num_classes:
            raise ValueError(f"{type(self).__name__} is conditioned on labels: pass them as y, "
                             f"integers in [0, {self.num_classes})")
        if y is not None and not self.num_classes and not (sample_weight is not None and _is_ignored_labels(y)):
            raise ValueError(f"{type(self).__name__} learns from images alone; y must be None, "
                             f"got an array of shape {np.shape(y)}")
        if y is not None:
            y = self._check_labels(y, len(x)) if self.num_classes else None
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, len(x))
        return x, y, sample_weight

    def _check_labels(self, labels, count):
        return check_indices(labels, (count,), self.num_classes, "labels", f"{count} integers (shape ({count},))")

    def _unpack(self, data):
        """Unpacks `data` into (images, labels or None, sample weights or None)."""
        images, labels, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if self.num_classes and labels is None:
            raise ValueError(f"{type(self).__name__} needs (images, labels) batches, got images alone")
        return images, (labels if self.num_classes else None), sample_weight

    def _conditioned(self, tensor, labels):
        """Adds the condition to a network's input when the model is conditional: the one-hot vector of
        integer labels, or class weights of shape (batch, num_classes) as they are."""
        if not self.num_classes:
            return tensor
        if len(labels.shape) == 2:
            return [tensor, ops.cast(labels, tensor.dtype)]
        return [tensor, ops.one_hot(ops.cast(labels, "int32"), self.num_classes, dtype=tensor.dtype)]

    # --- inference API --------------------------------------------------------------------------

    def _check_condition(self, labels, count):
        if self.num_classes:
            if labels is None:
                raise ValueError(f"{type(self).__name__} needs labels: integers in [0, {self.num_classes})")
            if not hasattr(labels, "shape") or isinstance(labels, np.generic):  # not a tensor: check it as an array
                labels = np.asarray(labels)
            if isinstance(labels, np.ndarray) and labels.ndim == 0:  # one class for every image
                labels = np.full((count,), labels)
            if isinstance(labels, np.ndarray) and labels.ndim == 2:
                return self._check_class_weights(labels, count)
            return self._check_labels(labels, count) if isinstance(labels, np.ndarray) else labels
        if labels is not None:
            raise ValueError(f"{type(self).__name__} is unconditional: it takes no labels")
        return None

    def _check_class_weights(self, weights, count):
        weights = np.asarray(weights)
        expected = (count, self.num_classes)
        if weights.shape != expected or weights.dtype.kind not in "biuf":
            raise ValueError(f"class weights must be numbers of shape {expected}, got dtype {weights.dtype} "
                             f"and shape {weights.shape}")
        if not (np.all(weights >= 0) and np.allclose(weights.sum(axis=1), 1, atol=1e-4)):
            raise ValueError("class weights must be non-negative and sum to 1 in each row")
        return weights.astype("float32")

    def _images_in(self, images, labels):
        if not (hasattr(images, "shape") or isinstance(images, (list, tuple))):
            raise TypeError(f"images must be an array of shape (N, {', '.join(map(str, self.image_shape))}), "
                            f"got {type(images).__name__}")
        if isinstance(images, tuple):
            images = list(images)
        images = ops.convert_to_tensor(check_images(images, image_shape=self.image_shape))
        return self._conditioned(images, self._check_condition(labels, images.shape[0]))

    def encode(self, images, labels=None):
        """Encodes images: returns `(z_mean, z_log_var)` (the autoencoder returns its code).

        Args:
            images: float images in [0, 1], shape (batch, *image_shape).
            labels: integer class labels, for a conditional model only.
        """
        return self.encoder(self._images_in(images, labels), training=False)

    def decode(self, z, labels=None):
        """Decodes latent vectors `z` of shape (batch, latent_dim) to images in [0, 1].

        Args:
            z: latent vectors.
            labels: for a conditional model only: integer class labels (or one int for all), or class
                weights of shape (batch, num_classes), rows summing to 1, to decode a blend of classes.
        """
        z = self._latent_in(z)
        labels = self._check_condition(labels, z.shape[0])
        return ops.sigmoid(self.decoder(self._conditioned(z, labels), training=False))

    def _latent_in(self, z):
        """`z` as a tensor, checked: finite numbers of shape (batch, latent_dim)."""
        if not hasattr(z, "shape") or isinstance(z, np.ndarray):  # not a tensor: numbers, finite
            z = np.asarray(z)
            if z.dtype.kind not in "biuf":
                raise ValueError(f"z must be numbers, got dtype {z.dtype}")
            if not np.isfinite(z).all():
                raise ValueError(f"z must be finite; found {np.isnan(z).sum()} NaN and {np.isinf(z).sum()} Inf values")
        z = ops.convert_to_tensor(z)
        if len(z.shape) != 2 or z.shape[-1] != self.latent_dim:
            raise ValueError(f"z must have shape (batch, {self.latent_dim}), got {tuple(z.shape)}")
        return z

    def code(self, images, labels=None):
        """The deterministic latent of `images`: the posterior mean (the autoencoder's code)."""
        return _first(self.encode(images, labels))

    def reconstruct(self, images, labels=None):
        """Decodes the deterministic latent of `images`: images in [0, 1] of the same shape."""
        return self.decode(self.code(images, labels), labels)

    def sample(self, n, seed=None, labels=None):
        """Decodes `n` draws from the prior N(0, I).

        Args:
            n: number of images.
            seed: int for reproducible draws; None draws fresh ones.
            labels: for a conditional model, the classes to draw (one int or `n` ints).
        """
        return self.decode(keras.random.normal((positive_int("n", n), self.latent_dim), seed=seed), labels)

    def call(self, inputs, training=False):
        """Reconstructs images (deterministically; `inputs` is `[images, labels]` when conditional)."""
        images, labels = inputs if self.num_classes else (inputs, None)
        latent = _first(self.encoder(self._conditioned(images, labels), training=training))
        return ops.sigmoid(self.decoder(self._conditioned(latent, labels), training=training))

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "body": keras.saving.serialize_keras_object(self.body),
            "likelihood": self.likelihood,
            "image_shape": self.image_shape,
        }


def _bind(method, model, args, kwargs):
    """The arguments of `model.method(*args, **kwargs)` by name, as Keras's `method` binds them."""
    arguments = inspect.signature(method).bind(model, *args, **kwargs).arguments
    del arguments["self"]
    arguments.update(arguments.pop("kwargs", {}))
    return arguments


def _ignored_labels(count):
    """Labels an unconditional model ignores, for Keras to keep sample weights (it drops them when y is None)."""
    return np.zeros(count, "int8")


def _is_ignored_labels(y):
    """Whether `y` is (a split of) `_ignored_labels`: what `fit(..., validation_split=...)` passes on to evaluate."""
    return isinstance(y, np.ndarray) and y.dtype == np.int8 and y.ndim == 1 and not y.any()


def _check_sample_weight(weights, count):
    weights = np.asarray(weights)
    if weights.shape != (count,) or weights.dtype.kind not in "biuf":
        raise ValueError(f"sample_weight must be {count} numbers, one per image (shape ({count},)), "
                         f"got dtype {weights.dtype} and shape {weights.shape}")
    if not (np.isfinite(weights).all() and (weights >= 0).all()):
        raise ValueError("sample_weight must be finite and non-negative")
    return weights.astype("float32")


def _check_split(x, batch_size, what="batch_size"):
    """Under data parallelism, refuses in-memory data whose batches the replicas cannot share evenly."""
    if isinstance(x, EpochBatches):
        check_batches(x.batch_size, len(x.images), "the batches' batch_size")
    elif isinstance(x, np.ndarray):
        check_batches(batch_size or 32, len(x), what)  # 32: Keras's default
