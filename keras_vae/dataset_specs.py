"""Plain facts about the datasets the zoo trains on, importable without keras.

The command line's parser offers these names (`keras-vae train --dataset`, `--binarize`) and recipes are checked
against them without starting a backend; `keras_vae.data` loads the datasets they describe.

Example:
    >>> from keras_vae.dataset_specs import DATASETS
    >>> DATASETS["fashion_mnist"].class_names[:2]
    ('T-shirt/top', 'Trouser')
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Plain facts about one dataset.

    Attributes:
        debian_dir: Directory name under ``/usr/share/datasets``.
        keras_cache: Location under ``$KERAS_HOME/datasets`` where
            ``keras.datasets`` caches the files (an ``.npz`` file or a
            directory of IDX files).
        num_classes: Number of label classes.
        image_shape: Shape of one image, channels last.
        keras_loader: Module name in ``keras.datasets`` that downloads it (None: none does).
        class_names: What each label means, in label order.
    """

    debian_dir: str
    keras_cache: str
    num_classes: int
    image_shape: tuple[int, int, int]
    keras_loader: str | None
    class_names: tuple[str, ...]


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        "mnist", "mnist.npz", 10, (28, 28, 1), "mnist", tuple("0123456789")
    ),
    "fashion_mnist": DatasetSpec(
        "fashion-mnist",
        "fashion-mnist",
        10,
        (28, 28, 1),
        "fashion_mnist",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
    # DeepMind's dSprites (keras_vae.data.dsprites): its "classes" are the sprites' shapes
    "dsprites": DatasetSpec(
        "dsprites", "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz", 3, (64, 64, 1), None,
        ("square", "ellipse", "heart"),
    ),
}

#: how `keras_vae.data.load` may binarise the pixels (None: keep them in [0, 1])
BINARIZE_MODES = (None, "static", "dynamic")
