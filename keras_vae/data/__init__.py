"""MNIST, Fashion-MNIST and dSprites loading, binarization and input checks.

The package's modules, all re-exported here:

- `keras_vae.data.loading`: `load`, which finds, checks and converts the files
  (its docstring tells the places searched, in order);
- `keras_vae.data.sources`: the places searched (``$KERAS_VAE_DATA_DIR``, the
  Debian directory, the Keras cache) and the download;
- `keras_vae.data.canonical`: the checksums of the canonical datasets, which
  tell MNIST, Fashion-MNIST and variants apart;
- `keras_vae.data.formats`: IDX (`read_idx`) and ``.npz`` files;
- `keras_vae.data.errors`: `DataFileError` and `DatasetMismatchError`;
- `keras_vae.data.dsprites`: dSprites, from DeepMind's npz or drawn by its
  `render`, with its factors;
- `keras_vae.data.batches`: `EpochBatches` and `DynamicBinarization`;
- `keras_vae.data.checks`: `check_images` and the other input checks;
- `keras_vae.data.tfds`: `load_tfds`.

Nothing here imports TensorFlow at module import time:
`load_tfds` imports it (and ``tensorflow_datasets``) when called. The names
re-exported here are copies: to patch one in a test (say `DEBIAN_DATA_ROOT`),
patch it in the module whose functions read it (`keras_vae.data.sources`).
"""

from keras_vae.data import dsprites
from keras_vae.data.batches import DynamicBinarization, EpochBatches
from keras_vae.data.canonical import ALLOW_VARIANT_ENV_VAR
from keras_vae.data.checks import check_images
from keras_vae.data.errors import DataFileError, DatasetMismatchError
from keras_vae.data.formats import IDX_FILES, read_idx
from keras_vae.data.loading import load, load_splits
from keras_vae.data.sources import DEBIAN_DATA_ROOT, ENV_VAR
from keras_vae.data.tfds import load_tfds
from keras_vae.dataset_specs import BINARIZE_MODES, DATASETS, DatasetSpec

__all__ = [
    "DATASETS",
    "DataFileError",
    "DatasetMismatchError",
    "DatasetSpec",
    "DynamicBinarization",
    "EpochBatches",
    "IDX_FILES",
    "check_images",
    "dsprites",
    "load",
    "load_splits",
    "load_tfds",
    "read_idx",
]
