"""Test-set numbers for model cards: ELBO terms, reconstruction error, IWAE likelihood, class accuracy.

Every computation runs eagerly in `keras.ops`, on the tensorflow, jax and torch backends, in batches so
that memory stays bounded whatever the test set or the number of importance samples.

- `elbo`: the model's own loss terms on a test set (nats per image), via `model.evaluate`.
- `reconstruction_error`: per-pixel squared and absolute error of `model.reconstruct`.
- `iwae_log_likelihood` / `iwae_nll`: the importance-weighted estimate of log p(x) (Burda et al., 2015)
  on binarised images, for Bernoulli VAEs.
- `train_classifier` / `class_accuracy`: how often a digit classifier recognises a conditional model's
  samples as the class that was asked for; `recognised_share`: how often it assigns any model's samples a class
  with confidence.
- `codebook_use` / `prior_bits`: a VQ-VAE's codebook use and its prior's likelihood of the test codes.
- `report`: all of the above that apply to a model, as a JSON-ready dict.
- `mig`, `factor_vae_score`, `dci` / `dci_scores`: disentanglement metrics on data with known factors (from
  `keras_vae.disentanglement`).

Example:
    >>> from keras_vae import data, evaluate, zoo
    >>> model = zoo.get("vae_binarized")          # then train it, or load its weights
    >>> _, (x_test, _) = data.load("mnist", binarize="dynamic")
    >>> nll = evaluate.iwae_nll(model, x_test, k=5000)   # nats per image; 784 log 2 = 543.4 untrained
"""

import math
import time

import keras
import numpy as np
from keras import layers, ops

from keras_vae import data
from keras_vae.arguments import positive_int
from keras_vae.disentanglement import (dci, dci_scores, dsprites_scores, factor_vae_score,  # noqa: F401  (re-exported)
                                       mig)
from keras_vae.models.vq_vae import codebook_statistics, is_quantized
from keras_vae.plots.encodings import codes
from keras_vae.trainers import no_grad

#: the binarisation of the test set that `report` estimates the likelihood on
BINARIZATION = "dynamic, seed 0, test set drawn once"
#: activation memory that one decoder call of `iwae_log_likelihood` may use when `max_decodes` is None
DECODE_BUDGET_BYTES = 96 * 2**20


# --- shared plumbing --------------------------------------------------------------------------------


def _numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor))


def _inputs(model, images, labels):
    """Checked float32 images and, for a conditional model, checked int32 labels (else None)."""
    images = data.check_images(np.asarray(images), image_shape=model.image_shape)
    return images, model._check_condition(labels, len(images))


def _seed_generator(seed):
    """A `keras.random.SeedGenerator` for the int `seed`, whose stream shares no draws with another seed's.

    The torch backend seeds each draw with the sum of the generator's seed and its counter, so the streams
    of seeds s and s + 1 would be the same draws shifted by one; hashing the seed keeps them apart.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, got {seed!r}")
    return keras.random.SeedGenerator(int(np.random.SeedSequence(int(seed) % 2**64).generate_state(1)[0] >> 1))


def _batches(images, labels, batch_size):
    """Yields `(images, labels)` slices of at most `batch_size` images; labels stay None if None."""
    batch_size = positive_int("batch_size", batch_size)
    for start in range(0, len(images), batch_size):
        stop = start + batch_size
        yield images[start:stop], (None if labels is None else labels[start:stop])


# --- the model's own terms and reconstructions ----------------------------------------------------------


def elbo(model, images, labels=None, batch_size=500):
    """The model's own test-set loss terms, via `model.evaluate` (its `test_step`).

    For the VAE family these are the negative ELBO (`loss`), the reconstruction term and the analytic KL
    term, each in nats per image: binary cross-entropy summed over pixels (or the squared error of a
    Gaussian model) plus `beta` times KL(q(z|x) || N(0, I)), with one posterior sample per image. These
    are the numbers the Keras and PyTorch VAE tutorials report on continuous MNIST. The autoencoder
    reports `loss` and `reconstruction_loss`. An uncompiled model is compiled first (`compile()` with no
    arguments), as Keras needs that to evaluate.

    Args:
        model: a zoo model.
        images: float images in [0, 1], shape (N, *model.image_shape).
        labels: N integer labels, for a conditional model only.
        batch_size: images per evaluation step. Keras averages the batch means, so a batch size that
            divides N gives exactly the mean over images.

    Returns:
        A dict of floats keyed by `model.loss_terms`.

    Example:
        >>> terms = elbo(model, x_test)   # {'loss': ..., 'reconstruction_loss': ..., 'kl_loss': ...}
    """
    images, labels = _inputs(model, images, labels)
    if not model.compiled:
        model.compile()
    results = model.evaluate(images, labels, batch_size=positive_int("batch_size", batch_size), verbose=0,
                             return_dict=True)
    return {name: float(value) for name, value in results.items()}


def reconstruction_error(model, images, labels=None, batch_size=500):
    """Per-pixel error of the deterministic reconstruction `model.reconstruct(images)`.

    Args:
        model: any zoo model, the autoencoder included.
        images: float images in [0, 1], shape (N, *model.image_shape).
        labels: N integer labels, for a conditional model only.
        batch_size: images reconstructed per call.

    Returns:
        `{"pixel_mse": ..., "pixel_mae": ...}`: the squared and absolute differences between the
        reconstructions (in [0, 1]) and the images, averaged over every pixel of every image.

    Example:
        >>> errors = reconstruction_error(model, x_test)   # {'pixel_mse': ..., 'pixel_mae': ...}
    """
    images, labels = _inputs(model, images, labels)
    squared = absolute = 0.0
    with no_grad():
        for batch, batch_labels in _batches(images, labels, batch_size):
            error = ops.cast(model.reconstruct(batch, labels=batch_labels), "float32") - batch
            squared += float(ops.sum(ops.square(error)))
            absolute += float(ops.sum(ops.abs(error)))
    return {"pixel_mse": squared / images.size, "pixel_mae": absolute / images.size}


# --- importance-weighted likelihood ---------------------------------------------------------------------


def _likelihood_problem(model):
    """Why the IWAE NLL is not defined for `model`, or None when it is (a Bernoulli VAE)."""
    if not hasattr(model, "importance_terms"):
        return (f"{type(model).__name__} has no posterior q(z|x) (its encoder gives a deterministic code), "
                f"so it defines no likelihood p(x): the IWAE NLL needs a VAE")
    if model.likelihood != "bernoulli":
        return (f"the IWAE NLL needs a Bernoulli decoder; this model's likelihood is {model.likelihood!r}, "
                f"whose squared-error loss is not a normalised density over binary pixels")
    return None


def _check_binary(images):
    values = np.unique(images)
    if not np.isin(values, (0.0, 1.0)).all():
        raise ValueError(f"the IWAE NLL is defined on binarised images (every pixel 0 or 1), found "
                         f"{len(values)} distinct values in [{values.min()}, {values.max()}]; use the "
                         f"dynamically binarised test set: data.load(name, binarize='dynamic')")


def _decode_bytes(model):
    """Bytes of decoder activations (plus the log-likelihood's temporaries) per decoded image."""
    floats = sum(math.prod(layer.output.shape[1:]) for layer in model.decoder.layers
                 if not isinstance(layer, layers.InputLayer))
    return 4 * (floats + 2 * math.prod(model.image_shape))


def _group_log_likelihood(model, images, labels, noise, max_decodes):
    """log (1/k) sum_i w_i for each of g images, decoding at most `max_decodes` samples per call."""
    g, k, _ = noise.shape
    chunk = math.ceil(k / math.ceil(k / max(1, max_decodes // g)))  # equal chunks of at most max_decodes // g
    total = None
    for start in range(0, k, chunk):
        log_likelihood, log_ratio = model.importance_terms(images, labels, noise[:, start:start + chunk])
        part = ops.logsumexp(log_likelihood + log_ratio, axis=1)
        total = part if total is None else ops.logaddexp(total, part)
    return _numpy(total).astype(np.float64) - math.log(k)


def iwae_log_likelihood(model, images, labels=None, k=5000, seed=0, max_decodes=None):
    """Per-image importance-weighted estimates of log p(x) (Burda et al., 2015), in nats.

    For each image, k latents z_i ~ q(z|x) are drawn and log p(x) is estimated by
    log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x), with p(x|z) the decoder's Bernoulli likelihood (minus the
    binary cross-entropy from its logits, summed over pixels) and p(z) = N(0, I). The estimate is a lower
    bound in expectation that tightens as k grows; k=1 is the single-sample ELBO. The model computes the
    weights' parts from standard normal noise (`model.importance_terms`), so a model with several latent layers
    gives its own.

    The noise of image n is the n-th draw `keras.random.normal((k, model.noise_dim), seed=generator)` of one
    `keras.random.SeedGenerator` made from `seed`, so the estimates depend on the seed and the order of
    the images, not on `max_decodes`. The samples are decoded in chunks of at most
    `max_decodes` images and combined with a running log-sum-exp in float32.

    Args:
        model: a Bernoulli VAE (any body; a conditional one estimates log p(x|y)).
        images: binary images (every pixel 0 or 1), shape (N, *model.image_shape): the dynamically
            binarised test set of `data.load(name, binarize="dynamic")`.
        labels: N integer labels, for a conditional model only.
        k: importance samples per image.
        seed: int seed of the samples.
        max_decodes: most images decoded per decoder call, which bounds the memory whatever k; None picks
            as many as fit in `DECODE_BUDGET_BYTES` of decoder activations.

    Returns:
        A float64 NumPy array of shape (N,).

    Raises:
        ValueError: for a model without a posterior (the autoencoder), a Gaussian (squared-error) model,
            or images that are not binary.

    Example:
        >>> log_px = iwae_log_likelihood(model, x_test_binary[:10], k=1000)   # shape (10,)
    """
    problem = _likelihood_problem(model)
    if problem:
        raise ValueError(problem)
    images, labels = _inputs(model, images, labels)
    _check_binary(images)
    k = positive_int("k", k)
    max_decodes = positive_int("max_decodes", max_decodes or DECODE_BUDGET_BYTES // _decode_bytes(model))
    group_size = max(1, max_decodes // k)
    generator = _seed_generator(seed)
    estimates = []
    with no_grad():
        for start in range(0, len(images), group_size):
            rows = slice(start, start + group_size)
            noise = ops.stack([keras.random.normal((k, model.noise_dim), seed=generator)
                               for _ in range(len(images[rows]))])
            estimates.append(_group_log_likelihood(model, ops.convert_to_tensor(images[rows]),
                                                   None if labels is None else ops.convert_to_tensor(labels[rows]),
                                                   noise, max_decodes))
    return np.concatenate(estimates)


def iwae_nll(model, images, labels=None, k=5000, seed=0, max_decodes=None):
    """The importance-weighted negative log-likelihood -log p(x), in nats per image (Burda et al., 2015).

    The mean of `-iwae_log_likelihood(...)`: see there for the estimator, the seeding and the arguments.
    k=5000 on the dynamically binarised MNIST test set is the standard way to report a VAE's likelihood.

    Args:
        model: a Bernoulli VAE.
        images: binary images, shape (N, *model.image_shape).
        labels: N integer labels, for a conditional model only (the estimate is then -log p(x|y)).
        k: importance samples per image.
        seed: int seed of the samples; the same seed gives the same number.
        max_decodes: most images decoded per decoder call (None: fit `DECODE_BUDGET_BYTES`).

    Returns:
        A float: the mean over images.

    Raises:
        ValueError: for the autoencoder, a Gaussian model or non-binary images.

    Example:
        >>> _, (x_test, _) = data.load("mnist", binarize="dynamic")
        >>> nll = iwae_nll(model, x_test, k=5000)   # -log p(x) in nats per image, lower is better
    """
    return float(-np.mean(iwae_log_likelihood(model, images, labels, k=k, seed=seed, max_decodes=max_decodes)))


# --- class accuracy of conditional samples --------------------------------------------------------------


def train_classifier(images, labels, epochs=2, batch_size=128, seed=0):
    """Trains a small CNN digit classifier: Conv 32 - pool - Conv 64 - pool - Dense 128 - softmax 10.

    Its weights and the order of the training images are seeded, and the global random state is left
    alone. Two epochs of batch 32 on 3,000 MNIST images give about 93% test accuracy; see `report` for
    the whole training set.

    Args:
        images: float images in [0, 1], shape (N, 28, 28, 1).
        labels: N integer labels in [0, 10).
        epochs: passes over the images.
        batch_size: images per training step.
        seed: int seed of the initial weights and of the order of the images.

    Returns:
        A compiled `keras.Model` mapping images to 10 class probabilities, with an `accuracy` metric.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = data.load("mnist")
        >>> classifier = train_classifier(x_train, y_train)
        >>> accuracy = classifier.evaluate(x_test, y_test, return_dict=True)["accuracy"]
    """
    images = data.check_images(np.asarray(images), image_shape=(28, 28, 1))
    labels = np.asarray(labels)
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {len(images)} integers, got dtype {labels.dtype} and shape "
                         f"{labels.shape}")
    if labels.min() < 0 or labels.max() >= 10:  # JAX would train on them silently, the others fail deep inside
        raise ValueError(f"labels must lie in [0, 10), got values from {labels.min()} to {labels.max()}")
    init = keras.initializers.GlorotUniform(seed=seed)
    classifier = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu", kernel_initializer=init),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu", kernel_initializer=init),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(128, activation="relu", kernel_initializer=init),
        layers.Dense(10, activation="softmax", kernel_initializer=init),
    ], name="digit_classifier")
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                       metrics=["accuracy"])
    order = np.random.default_rng(seed)
    for _ in range(positive_int("epochs", epochs)):
        shuffled = order.permutation(len(images))
        classifier.fit(images[shuffled], labels[shuffled], batch_size=batch_size, epochs=1, shuffle=False,
                       verbose=0)
    return classifier


def _predicted_classes(classifier, images, batch_size):
    with no_grad():
        return np.concatenate([_numpy(ops.argmax(classifier(batch, training=False), axis=-1))
                               for batch, _ in _batches(images, None, batch_size)])


def confidence(classifier, images, batch_size=500):
    """The classifier's highest class probability for each image, in batches: a NumPy array of shape (N,)."""
    with no_grad():
        return np.concatenate([_numpy(ops.max(classifier(batch, training=False), axis=-1))
                               for batch, _ in _batches(images, None, batch_size)])


def recognised_share(model, classifier, n=1000, seed=0, threshold=0.9, batch_size=500):
    """The share of `n` samples of `model` that a classifier assigns to some class with probability at least
    `threshold`: the measure the AE-vs-VAE figure applies to decoded latent grids, here to the model's prior.

    Args:
        model: a model that samples (a VAE, a VQ-VAE with a trained prior; unconditional).
        classifier: a model mapping images to class probabilities, e.g. `train_classifier`'s.
        n: samples drawn, in batches from one `keras.random.SeedGenerator` made from `seed`.
        seed: int seed of the samples.
        threshold: the confidence a sample needs to count as recognised.
        batch_size: images sampled and classified per call.

    Returns:
        A float in [0, 1].

    Example:
        >>> share = recognised_share(vq_vae, train_classifier(x_train, y_train), n=1000)
    """
    n, batch_size = positive_int("n", n), positive_int("batch_size", batch_size)
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be a probability in (0, 1], got {threshold!r}")
    generator = _seed_generator(seed)
    recognised = 0
    for start in range(0, n, batch_size):
        with no_grad():
            samples = _numpy(model.sample(min(batch_size, n - start), seed=generator))
        recognised += int(np.sum(confidence(classifier, samples, batch_size) >= threshold))
    return recognised / n


def _check_vq(model):
    if not is_quantized(model):
        raise ValueError(f"{type(model).__name__} has no codebook: codebook_use and prior_bits measure a VQ-VAE")


def code_counts(model, images, batch_size=500):
    """How often a VQ-VAE chooses each code over every grid position of `images`: int64 of shape (num_codes,).

    Args:
        model: a VQ-VAE.
        images: float images in [0, 1], shape (N, *model.image_shape).
        batch_size: images encoded per call.
    """
    _check_vq(model)
    images, _ = _inputs(model, images, None)
    with no_grad():
        return np.bincount(model.codes(images, batch_size).reshape(-1), minlength=model.num_codes)


def codebook_use(model, images, batch_size=500):
    """How a VQ-VAE uses its codebook on `images`: the codes of every position of every image, counted.

    Args:
        model: a VQ-VAE.
        images: float images in [0, 1], shape (N, *model.image_shape).
        batch_size: images encoded per call.

    Returns:
        `{"codes_used": share of the codebook chosen at least once, "perplexity": exp of the entropy of the codes'
        frequencies (num_codes when all are equally used), "num_codes": the codebook's size}`.

    Example:
        >>> codebook_use(vq_vae, x_test)        # {'codes_used': 0.98, 'perplexity': 180.2, 'num_codes': 256}
    """
    perplexity, used = codebook_statistics(code_counts(model, images, batch_size))
    return {"codes_used": float(used), "perplexity": float(perplexity), "num_codes": int(model.num_codes)}


def prior_bits(model, images, batch_size=500):
    """The negative log-likelihood that a VQ-VAE's prior gives the codes of `images`.

    Args:
        model: a VQ-VAE (its prior trained).
        images: float images in [0, 1], shape (N, *model.image_shape).
        batch_size: images per call.

    Returns:
        `{"bits_per_code": ..., "nats_per_image": ...}` (nats per image: the whole grid's NLL).

    Example:
        >>> prior_bits(vq_vae, x_test)["bits_per_code"]     # 8.0 for a uniform prior over 256 codes
    """
    _check_vq(model)
    images, _ = _inputs(model, images, None)
    codes = model.codes(images, batch_size)
    if not model.prior.compiled:
        model.prior.compile()
    terms = model.prior.evaluate(codes, batch_size=positive_int("batch_size", batch_size), verbose=0,
                                 return_dict=True)
    return {"bits_per_code": float(terms["bits_per_code"]), "nats_per_image": float(terms["loss"])}


def class_accuracy(model, classifier, per_class=1000, seed=0, batch_size=500):
    """The fraction of a conditional model's samples that a classifier assigns to the class asked for.

    For each class c, `per_class` images are drawn with `model.sample(n, seed=..., labels=c)` (in batches,
    all seeded from one `keras.random.SeedGenerator` made from `seed`) and classified.

    Args:
        model: a conditional model (`model.num_classes > 0`), e.g. the CVAE.
        classifier: a model mapping images to `model.num_classes` class scores, e.g. `train_classifier`'s.
        per_class: samples drawn for each class.
        seed: int seed of the samples.
        batch_size: images sampled and classified per call.

    Returns:
        A float in [0, 1].

    Raises:
        ValueError: for an unconditional model.

    Example:
        >>> accuracy = class_accuracy(cvae, train_classifier(x_train, y_train), per_class=1000)
    """
    if not model.num_classes:
        raise ValueError(f"{type(model).__name__} is unconditional: class accuracy needs a model whose samples "
                         f"are drawn for a chosen class (num_classes > 0), such as the CVAE")
    per_class, batch_size = positive_int("per_class", per_class), positive_int("batch_size", batch_size)
    generator = _seed_generator(seed)
    correct = 0
    for label in range(model.num_classes):
        for start in range(0, per_class, batch_size):
            with no_grad():
                samples = _numpy(model.sample(min(batch_size, per_class - start), seed=generator, labels=label))
            correct += int(np.sum(_predicted_classes(classifier, samples, batch_size) == label))
    return correct / (per_class * model.num_classes)


# --- the model card -------------------------------------------------------------------------------------


def _timed(seconds, part, function, *args, **kwargs):
    """Calls `function`, recording its duration as `seconds[part]`; returns its result."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    seconds[part] = round(time.perf_counter() - start, 3)
    return result


def _head(limit, *arrays):
    """The first `limit` rows of each array (all of them when `limit` is None)."""
    return [array if limit is None else array[:positive_int("limit", limit)] for array in arrays]


def _classifier(dataset, seed, classifier, epochs, images):
    """`(classifier, its training record)` for a part of `report`: the given classifier (trained elsewhere: the record
    says nothing), else one trained on the first `images` training images of `dataset` (None: all)."""
    if classifier is not None:
        return classifier, {"classifier_epochs": None, "classifier_images": None}
    (x_train, y_train), _ = data.load(dataset)
    x_train, y_train = _head(images, x_train, y_train)
    return (train_classifier(x_train, y_train, epochs=epochs, seed=seed),
            {"classifier_epochs": epochs, "classifier_images": len(x_train)})


def _class_accuracy_part(model, dataset, x_test, y_test, seed, classifier, classifier_epochs, classifier_images,
                         per_class):
    """The `class_accuracy` entry of `report`: trains the classifier unless one is given."""
    classifier, trained = _classifier(dataset, seed, classifier, classifier_epochs, classifier_images)
    return {
        "accuracy": class_accuracy(model, classifier, per_class=per_class, seed=seed),
        "per_class": per_class,
        "classifier_test_accuracy": float(np.mean(_predicted_classes(classifier, x_test, 500) == y_test)),
        **trained,
    }


def _recognised_part(model, dataset, seed, classifier, classifier_epochs, classifier_images, n):
    """The `recognised_samples` entry of `report`: trains the classifier unless one is given."""
    classifier, trained = _classifier(dataset, seed, classifier, classifier_epochs, classifier_images)
    return {"share": recognised_share(model, classifier, n=n, seed=seed), "samples": n, "threshold": 0.9, **trained,
            "seed": seed}


def report(model, dataset="mnist", k=5000, limit=None, seed=0, classifier_epochs=2, classifier=None,
           per_class=1000, classifier_images=None, recognised=False):
    """Everything that applies to `model`, as a JSON-ready dict for its model card.

    - `test_elbo`: `elbo` on the continuous test set (a VQ-VAE's own loss terms);
    - `reconstruction_error`: `reconstruction_error` on the same images;
    - `iwae_nll` (Bernoulli VAEs only, not on dSprites): `iwae_nll` with k samples on the dynamically binarised
      test set (`BINARIZATION`), given the labels for a conditional model;
    - `disentanglement` (on dSprites, but not for VQ-VAEs): `dsprites_scores` of the model's codes (`codes`), with
      `limit` points (and half as many test points) when a limit is given;
    - `class_accuracy` (conditional models only): `class_accuracy` with a classifier trained on the
      dataset's training set, and that classifier's accuracy on the test images;
    - `codebook` and `prior` (VQ-VAEs only): `codebook_use` and `prior_bits` on the test images;
    - `recognised_samples` (VQ-VAEs, and any unconditional model with `recognised=True`): `recognised_share` of
      1,000 samples, with a classifier trained on the dataset's training set.

    Parts that do not apply are absent. `seconds` holds the time each part took.

    Args:
        model: a zoo model.
        dataset: `"mnist"`, `"fashion_mnist"` or `"dsprites"` (its test images: `keras_vae.data.dsprites.test_split`).
        k: importance samples per image for `iwae_nll`.
        limit: use the first `limit` test images; None for all 10,000.
        seed: int seed of the importance samples, the samples and the classifier.
        classifier_epochs: epochs of `train_classifier` on the whole training set.
        classifier: an already trained classifier to use instead (then `classifier_epochs` is not used).
        classifier_images: train the classifier on the first N training images; None for all of them.
        per_class: samples per class for `class_accuracy`.
        recognised: measure `recognised_samples` for a model that is not a VQ-VAE too.

    Returns:
        A dict with `model`, `dataset`, `test_images`, `backend`, the parts and `seconds`.

    Example:
        >>> card = report(model, k=5000)
        >>> sorted(card["iwae_nll"])                   # for a Bernoulli VAE
        ['binarization', 'estimates', 'k', 'nll', 'seed']
    """
    conditional = bool(model.num_classes)
    vq = is_quantized(model)
    x_test, y_test = data.dsprites.test_split() if dataset == "dsprites" else data.load(dataset)[1]
    x_test, y_test = _head(limit, x_test, y_test)
    labels = y_test if conditional else None
    seconds = {}
    card = {
        "model": model.name,
        "dataset": dataset,
        "test_images": len(x_test),
        "backend": keras.config.backend(),
        "test_elbo": _timed(seconds, "test_elbo", elbo, model, x_test, labels),
        "reconstruction_error": _timed(seconds, "reconstruction_error", reconstruction_error, model, x_test,
                                       labels),
    }
    if dataset == "dsprites" and not vq:
        points = {} if limit is None else {"points": len(x_test), "test_points": max(1, len(x_test) // 2)}
        card["disentanglement"] = _timed(seconds, "disentanglement", dsprites_scores,
                                         lambda images: codes(model, images), seed=seed, **points)
    elif _likelihood_problem(model) is None:
        _, (x_binary, _) = data.load(dataset, binarize="dynamic", seed=0)
        (x_binary,) = _head(limit, x_binary)
        nll = _timed(seconds, "iwae_nll", iwae_nll, model, x_binary, labels, k=k, seed=seed)
        card["iwae_nll"] = {"nll": nll, "estimates": "-log p(x|y)" if conditional else "-log p(x)", "k": k,
                            "binarization": BINARIZATION, "seed": seed}
    if conditional:
        card["class_accuracy"] = _timed(
            seconds, "class_accuracy", _class_accuracy_part, model, dataset, x_test, y_test, seed,
            classifier, classifier_epochs, classifier_images, per_class)
    if vq:
        card["codebook"] = _timed(seconds, "codebook", codebook_use, model, x_test)
        card["prior"] = _timed(seconds, "prior", prior_bits, model, x_test)
    if (vq or recognised) and not conditional:
        card["recognised_samples"] = _timed(seconds, "recognised_samples", _recognised_part, model, dataset, seed,
                                            classifier, classifier_epochs, classifier_images, 1000)
    card["seconds"] = seconds
    return card
