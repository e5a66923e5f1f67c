"""Disentanglement metrics on data with known factors: MIG, the FactorVAE score and DCI.

They follow google-research/disentanglement_lib (Locatello et al., 2019) and its default settings
(`unsupervised_study_v1`'s metric configs); the differences are listed in each function's docstring. The metrics
take NumPy arrays, so they score any representation (a VAE's posterior means, a hand-made encoder) and run the same
whatever the Keras backend; `keras_vae.evaluate` re-exports them.

- `mig`: the mutual information gap (Chen et al., 2018), from codes and factors.
- `factor_vae_score`: the FactorVAE score (Kim and Mnih, 2018): a majority-vote classifier of which factor was
  held fixed, from a representation function and a way to make images from factors.
- `dci`: DCI disentanglement, completeness and informativeness (Eastwood and Williams, 2018) from gradient-boosted
  trees' feature importances (scikit-learn), and `dci_scores` from any importance matrix.
- `dsprites_scores`: the three of an encoder on dSprites, with disentanglement_lib's numbers of points.

Example:
    >>> import numpy as np
    >>> from keras_vae import disentanglement
    >>> factors = np.stack(np.meshgrid(np.arange(4), np.arange(3), indexing="ij"), -1).reshape(-1, 2)  # every pair
    >>> disentanglement.mig(factors.astype(float), factors)["mig"]     # 1.0: each code is one factor
"""

import numpy as np

from keras_vae.arguments import positive_int

#: disentanglement_lib's defaults (unsupervised_study_v1/metric_configs)
MIG_BINS = 20


def _codes_and_factors(codes, factors):
    """(codes as float64 (N, d), factors as int64 (N, F)), checked."""
    codes, factors = np.asarray(codes), np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors) or len(codes) < 2:
        raise ValueError(f"codes must have shape (N, num_codes) and factors (N, num_factors) with the same N >= 2, "
                         f"got {codes.shape} and {factors.shape}")
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes hold NaN or infinite values: a representation must be finite")
    if not np.issubdtype(factors.dtype, np.integer):
        raise ValueError(f"factors must be integer classes (each factor's value index), got dtype {factors.dtype}")
    return codes.astype(np.float64), factors.astype(np.int64)


def _discretized(codes, bins):
    """Each code column binned into `bins` equal-width bins over its range (disentanglement_lib's histogram
    discretizer)."""
    return np.stack([np.digitize(column, np.histogram(column, bins)[1][:-1]) for column in codes.T], axis=1)


def _mutual_information(a, b):
    """Mutual information in nats between two discrete columns, from their empirical joint distribution."""
    from sklearn.metrics import mutual_info_score

    return mutual_info_score(a, b)


def mig(codes, factors, bins=MIG_BINS):
    """The mutual information gap (Chen et al., 2018) as disentanglement_lib computes it.

    Each code is discretised into `bins` equal-width bins; for each factor, the gap between the two codes with the
    highest mutual information with it, divided by the factor's entropy, is averaged over factors. 1: each factor is
    captured by one code alone; 0: no code tells more about a factor than the next. disentanglement_lib draws 10,000
    points (num_train) and uses 20 bins.

    Args:
        codes: (N, num_codes) representations, num_codes >= 2 (e.g. posterior means).
        factors: (N, num_factors) integer factor classes of the same N images.
        bins: bins per code.

    Returns:
        dict: `mig` (float), `per_factor` (one gap per factor) and `mutual_information` (num_codes x num_factors,
        nats).

    Example:
        >>> mig(model.encode(images)[0], factors)["mig"]
    """
    codes, factors = _codes_and_factors(codes, factors)
    if codes.shape[1] < 2:
        raise ValueError(f"MIG compares the two most informative codes: it needs at least 2, got {codes.shape[1]}")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
        raise ValueError(f"bins must be an int >= 2, got {bins!r}")
    binned = _discretized(codes, int(bins))
    information = np.array([[_mutual_information(factor, code) for factor in factors.T] for code in binned.T])
    entropy = np.array([_mutual_information(factor, factor) for factor in factors.T])
    if np.any(entropy == 0):
        raise ValueError("a factor takes a single value in these images: its information cannot be captured")
    top = np.sort(information, axis=0)[::-1]
    per_factor = (top[0] - top[1]) / entropy
    return {"mig": float(np.mean(per_factor)), "per_factor": per_factor.tolist(),
            "mutual_information": information.tolist()}


def _representation(encode, images):
    codes = np.asarray(encode(images), dtype=np.float64)
    if codes.ndim != 2 or len(codes) != len(images):
        raise ValueError(f"encode must return one code vector per image, shape ({len(images)}, num_codes); "
                         f"got {codes.shape}")
    return codes


def factor_vae_score(encode, images_of, factor_sizes, seed=0, batch_size=64, train=10000, evaluate=5000,
                     variance_estimate=10000, prune_threshold=0.05):
    """The FactorVAE score (Kim and Mnih, 2018) as disentanglement_lib computes it.

    Each vote draws `batch_size` images with one random factor held at one random value, divides each code's
    variance over them by its variance over all images, and votes (factor, code with the smallest ratio); codes
    whose standard deviation over all images is under `prune_threshold` (collapsed to the prior) take no part. A
    majority-vote classifier from `train` votes (each code predicts the factor that voted for it most) is scored on
    `evaluate` fresh votes. 1: holding any factor fixed stills one code of its own; 1/num_factors: chance. Factors
    are drawn uniformly over their classes, as disentanglement_lib samples dSprites.

    Args:
        encode: function from images to (n, num_codes) codes (e.g. `lambda x: model.encode(x)[0]`).
        images_of: function from (n, num_factors) integer factor classes to n images that `encode` takes.
        factor_sizes: number of classes of each factor.
        seed: seeds the factors drawn.
        batch_size, train, evaluate, variance_estimate: images per vote, votes to train and to score the
            classifier, images for the global variances (disentanglement_lib's 64, 10,000, 5,000, 10,000).
        prune_threshold: the smallest standard deviation of an active code (0.05).

    Returns:
        dict: `train_accuracy`, `eval_accuracy` (the score) and `active_codes`.

    Example:
        >>> factor_vae_score(lambda x: model.encode(x)[0], dsprites.images_of, dsprites.factor_sizes)["eval_accuracy"]
    """
    sizes = np.asarray([positive_int("each factor size", size) for size in factor_sizes])
    if len(sizes) < 2:
        raise ValueError(f"the score tells factors apart: it needs at least 2, got factor_sizes={factor_sizes!r}")
    batch_size = positive_int("batch_size", batch_size)
    if batch_size < 2:
        raise ValueError("batch_size must be at least 2: a vote compares variances over the batch")
    rng = np.random.default_rng(seed)

    def draw(n):
        return rng.integers(0, sizes, size=(n, len(sizes)))

    global_variance = np.var(_representation(encode, images_of(draw(positive_int("variance_estimate",
                                                                                   variance_estimate)))),
                             axis=0, ddof=1)
    active = np.sqrt(global_variance) >= prune_threshold
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "active_codes": 0}

    def votes(n):
        counts = np.zeros((len(sizes), len(global_variance)), dtype=np.int64)
        for _ in range(positive_int("train and evaluate", n)):
            factor = rng.integers(len(sizes))
            classes = draw(batch_size)
            classes[:, factor] = classes[0, factor]
            variance = np.var(_representation(encode, images_of(classes)), axis=0, ddof=1)
            ratio = np.where(active, variance / np.where(active, global_variance, 1.0), np.inf)
            counts[factor, np.argmin(ratio)] += 1
        return counts

    training = votes(train)
    predicted = np.argmax(training, axis=0)  # the factor each code stands for
    scoring = votes(evaluate)
    codes = np.arange(len(global_variance))
    return {"train_accuracy": float(training[predicted, codes].sum() / training.sum()),
            "eval_accuracy": float(scoring[predicted, codes].sum() / scoring.sum()),
            "active_codes": int(active.sum())}


def _normalized_entropy(weights, axis):
    """1 - the entropy of `weights` normalised along `axis`, in the base of that axis's length (as
    disentanglement_lib, with its 1e-11 added to every weight)."""
    p = weights + 1e-11
    p = p / p.sum(axis=axis, keepdims=True)
    return 1.0 - (-(p * np.log(p)).sum(axis=axis) / np.log(weights.shape[axis]))


def dci_scores(importance):
    """DCI disentanglement and completeness of an importance matrix (Eastwood and Williams, 2018).

    Disentanglement: for each code, 1 minus the entropy (base num_factors) of its importance over the factors,
    averaged with weights proportional to the code's total importance; completeness: the same per factor over the
    codes (base num_codes).

    Args:
        importance: (num_codes, num_factors) non-negative importances of each code for predicting each factor.

    Returns:
        dict: `disentanglement` and `completeness`, each in [0, 1].

    Example:
        >>> dci_scores(np.eye(3))    # {'disentanglement': 1.0, 'completeness': 1.0}
    """
    importance = np.asarray(importance, dtype=np.float64)
    if importance.ndim != 2 or min(importance.shape) < 2 or np.any(importance < 0) or not np.all(
            np.isfinite(importance)):
        raise ValueError(f"importance must be a finite, non-negative (num_codes, num_factors) matrix with at least "
                         f"2 of each, got shape {importance.shape}")
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    return {"disentanglement": float(np.sum(_normalized_entropy(importance, 1) * weights.sum(1) / weights.sum())),
            "completeness": float(np.sum(_normalized_entropy(importance, 0) * weights.sum(0) / weights.sum()))}


def dci(codes, factors, test_codes, test_factors, seed=0):
    """DCI disentanglement, completeness and informativeness as disentanglement_lib computes them.

    One scikit-learn `GradientBoostingClassifier` (its defaults) per factor predicts the factor's class from the
    codes; its feature importances make the importance matrix that `dci_scores` scores, and its accuracy on the
    training and test points is the informativeness. disentanglement_lib uses 10,000 training and 5,000 test points;
    it leaves the trees' random state unset, here it is `seed`.

    Args:
        codes, factors: (N, num_codes) codes and (N, num_factors) integer factor classes to fit the trees on.
        test_codes, test_factors: held-out points of the same shapes, for the informativeness on unseen images.
        seed: the trees' random state.

    Returns:
        dict: `disentanglement`, `completeness`, `informativeness_train`, `informativeness_test` (mean accuracy
        over factors) and `importance` (num_codes x num_factors).

    Example:
        >>> dci(encode(x_train), y_train, encode(x_test), y_test)["disentanglement"]
    """
    from sklearn.ensemble import GradientBoostingClassifier

    codes, factors = _codes_and_factors(codes, factors)
    test_codes, test_factors = _codes_and_factors(test_codes, test_factors)
    if codes.shape[1] != test_codes.shape[1] or factors.shape[1] != test_factors.shape[1]:
        raise ValueError(f"training and test points differ in their codes or factors: {codes.shape[1:]} and "
                         f"{test_codes.shape[1:]} codes, {factors.shape[1:]} and {test_factors.shape[1:]} factors")
    importance = np.zeros((codes.shape[1], factors.shape[1]))
    train_accuracy, test_accuracy = [], []
    for j, factor in enumerate(factors.T):
        trees = GradientBoostingClassifier(random_state=seed).fit(codes, factor)
        importance[:, j] = np.abs(trees.feature_importances_)
        train_accuracy.append(np.mean(trees.predict(codes) == factor))
        test_accuracy.append(np.mean(trees.predict(test_codes) == test_factors[:, j]))
    return {**dci_scores(importance), "informativeness_train": float(np.mean(train_accuracy)),
            "informativeness_test": float(np.mean(test_accuracy)), "importance": importance.tolist()}


def dsprites_scores(encode, seed=0, points=10000, test_points=5000, images_of=None):
    """MIG, the FactorVAE score and DCI of a representation of dSprites, as disentanglement_lib scores a model.

    MIG and DCI's training points are `points` images of factors drawn uniformly at random (with replacement),
    DCI's test points `test_points` more; the FactorVAE score takes `points` votes to train its classifier and
    `test_points` to score it, and `points` images for the codes' variances (disentanglement_lib's 10,000 and
    5,000). All draws come from `seed`.

    Args:
        encode: images (N, 64, 64, 1) float32 -> codes (N, num_codes), e.g. a VAE's posterior means.
        seed: seed of the draws and of the trees.
        points, test_points: as above.
        images_of: factor classes (N, 5) -> images; default `keras_vae.data.dsprites.images_of` (the npz's
            images when it is found, else rendered).

    Returns:
        dict: `mig`, `factor_vae_score` (its evaluation accuracy), `dci`'s `disentanglement`, `completeness`,
        `informativeness_train`, `informativeness_test` and `importance` (codes x factors), and the details:
        `mig_per_factor`, `factor_vae_train_accuracy`, `active_codes`, `factors` (their names), `points`,
        `test_points`, `seed`.

    Example:
        >>> scores = dsprites_scores(lambda x: evaluate.codes(model, x))  # doctest: +SKIP
    """
    from keras_vae.data import dsprites

    points, test_points = positive_int("points", points), positive_int("test_points", test_points)
    images_of = images_of or dsprites.images_of
    rng = np.random.default_rng(seed)
    factors, test_factors = (rng.integers(0, dsprites.SIZES, size=(n, len(dsprites.SIZES)))
                             for n in (points, test_points))
    codes, test_codes = (_representation(encode, images_of(f)) for f in (factors, test_factors))
    gap = mig(codes, factors)
    votes = factor_vae_score(encode, images_of, dsprites.SIZES, seed=seed, train=points, evaluate=test_points,
                             variance_estimate=points)
    return {"mig": gap["mig"], "factor_vae_score": votes["eval_accuracy"],
            **dci(codes, factors, test_codes, test_factors, seed=seed),
            "mig_per_factor": gap["per_factor"], "factor_vae_train_accuracy": votes["train_accuracy"],
            "active_codes": votes["active_codes"], "factors": list(dsprites.NAMES), "points": points,
            "test_points": test_points, "seed": seed}
