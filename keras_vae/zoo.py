"""The model zoo's registry.

The zoo's own entries are listed in `CATALOG`, as plain data (what each is and the dataset it is trained on), so
that `keras-vae list` prints them without importing keras. Each is registered beside the family that defines it
(`register(...)` at the end of `keras_vae/models/<family>.py`): the class and the constructor arguments that differ
from its defaults. The families are imported, and so registered, when the registry is first used: importing this
module imports no backend, and keras and h5py are imported by the functions that load files. An entry with
pretrained weights has a folder in the repository's `zoo/` (installed as the data package `keras_vae.pretrained`):
its recipe, the weights with their sha256, the measured numbers (`metrics.json`, written by `keras-vae evaluate`)
and a model card. `save_preset` (in keras_vae/presets.py) writes a model in keras-hub's preset layout, and `get`
loads such a folder, or its copy on the Hugging Face Hub (`hf://OWNER/REPO`), back.

Example:
    >>> import keras_vae
    >>> keras_vae.zoo.list_models()[:3]
    ['ae', 'beta_vae', 'conv_vae']
    >>> model = keras_vae.zoo.get("conv_vae", latent_dim=8)
    >>> trained = keras_vae.zoo.get("conv_vae", pretrained=True)
    >>> keras_vae.zoo.save_preset(trained, "presets/conv_vae")
    >>> again = keras_vae.zoo.get("presets/conv_vae")
"""

import dataclasses
import difflib
import importlib
import importlib.resources
import inspect
import json
import math
import os
import zipfile
from pathlib import Path

from keras_vae import recipes

METRICS_FILE = "metrics.json"

#: The zoo's own entries: name -> what it is and the dataset it is trained on. Each one is registered with its
#: class and constructor arguments at the end of its family's file in keras_vae/models/.
CATALOG = {
    "ae": {
        "description": "dense autoencoder 784-128-16-2, the tutorials' baseline (no prior)",
        "dataset": "mnist",
    },
    "beta_vae": {
        "description": "beta-VAE (beta=4) on the tutorial conv body, latent 2",
        "dataset": "mnist",
    },
    "conv_vae": {
        "description": "Keras tutorial conv VAE: Conv2D 32/64 stride 2, Dense 16, latent 2",
        "dataset": "mnist",
    },
    "conv_vae_bn": {
        "description": "PyTorch tutorial conv VAE: 4x4 stride-2 convs 16/32/64 with batch norm on 32x32-padded "
                       "images, latent 128, Gaussian (MSE) reconstruction, KL weight 0.1",
        "dataset": "mnist",
    },
    "conv_vae_fashion": {
        "description": "the Keras tutorial conv VAE (latent 2) trained on Fashion-MNIST",
        "dataset": "fashion_mnist",
    },
    "cvae": {
        "description": "conditional dense VAE (784+10)-128-16-2: sample a chosen digit",
        "dataset": "mnist",
    },
    "iwae": {
        "description": "IWAE (k=10) on the dense 784-512-256-50 body for dynamically binarised MNIST: the "
                       "single-stochastic-layer likelihood entry",
        "dataset": "mnist",
    },
    "vae": {
        "description": "dense VAE 784-128-16-2, the Keras/PyTorch MNIST tutorials' first VAE",
        "dataset": "mnist",
    },
    "vq_vae": {
        "description": "VQ-VAE: 4x4 stride-2 convs 32/64 to a 7x7 grid of 256 codes (EMA codebook, restarts), "
                       "with a gated PixelCNN prior to sample from",
        "dataset": "mnist",
    },
    "vq_vae_fashion": {
        "description": "the vq_vae architecture and prior trained on Fashion-MNIST",
        "dataset": "fashion_mnist",
    },
    "vae_binarized": {
        "description": "dense VAE 784-512-256-32 for dynamically binarised MNIST: the likelihood (IWAE NLL) entry",
        "dataset": "mnist",
    },
}


@dataclasses.dataclass(frozen=True)
class Entry:
    """A registered model: its family, its constructor arguments, what it is and what it is trained on."""

    name: str
    model_class: type
    config: dict
    description: str
    dataset: str = "mnist"


_REGISTRY = {}


def _registry():
    """The registered entries, the zoo's own included: importing the model families registers them."""
    importlib.import_module("keras_vae.models")
    return _REGISTRY


def register(name, model_class, *, description=None, dataset=None, **config):
    """Registers a zoo entry.

    Args:
        name: the registry name, e.g. `"conv_vae_8"`.
        model_class: the model family (a `BaseAutoencoder` subclass).
        description: one line saying what the entry is. The zoo's own entries take theirs, and their dataset,
            from `CATALOG`; any other entry must give one.
        dataset: the dataset it is meant for (`"mnist"`, the default, or `"fashion_mnist"`).
        **config: constructor arguments that differ from the class's defaults.

    Raises:
        ValueError: if `name` is already registered, if an entry of `CATALOG` is given a description or dataset
            (the catalog holds them), or if another entry is given no description.

    Example:
        >>> register("conv_vae_8", ConvVAE, description="conv VAE, latent 8", latent_dim=8)
    """
    if name in _registry():
        raise ValueError(f"zoo entry {name!r} is already registered")
    if name in CATALOG and (description or dataset):
        raise ValueError(f"{name!r} is one of the zoo's own entries: its description and dataset are in zoo.CATALOG")
    if name not in CATALOG and not description:
        raise ValueError(f"register {name!r} with a description: one line saying what the entry is")
    listing = CATALOG.get(name) or {"description": description, "dataset": dataset or "mnist"}
    _REGISTRY[name] = Entry(name, model_class, dict(config), **listing)


def list_models():
    """Returns the registered names, sorted."""
    return sorted(_registry())


def entry(name):
    """Returns the `Entry` registered as `name`; an unknown name raises a ValueError listing the known ones."""
    registry = _registry()
    if name not in registry:
        close = difflib.get_close_matches(str(name), registry, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Known models: {', '.join(list_models())}")
    return registry[name]


def folder(name):
    """The folder holding the entry's recipe, weights and model card (it may not exist).

    Args:
        name: a name from `list_models()`.
    """
    entry(name)
    return Path(str(importlib.resources.files("keras_vae.pretrained"))) / name


def get(name, pretrained=False, weights=None, **overrides):
    """Builds a model of the entry `name`: fresh, with the project's trained weights, or with those of a file; or
    loads a preset (a folder that `save_preset` wrote, or its copy on the Hugging Face Hub).

    Args:
        name: a name from `list_models()`; or a preset (see `load_preset`): a local folder holding config.json,
            or a Hugging Face Hub handle `"hf://OWNER/REPO"`. A registry name wins over a folder of that name.
        pretrained: load the weights this project trained (verified against the sha256 in the recipe).
        weights: instead, a file of this entry's model: a `.weights.h5` (checked with `load_weights`) or a
            `.keras` file (loaded with `load_model`, in safe mode; it holds its own config, so no overrides).
        **overrides: constructor arguments replacing the entry's, e.g. `latent_dim=8`; with `pretrained`
            they must keep the architecture (e.g. `beta`, `seed`).

    Returns:
        An uncompiled `keras.Model` named as the entry (`name=` overrides it); call `compile(optimizer=...)`
        before `fit`.

    Raises:
        ValueError: for an unknown name or constructor argument, a weights file whose sha256 differs from the
            recipe's, weights that do not fit the (overridden) architecture, `pretrained`, `weights` or overrides
            with a preset, a malformed handle, or a preset that does not load (see `load_preset`).
        FileNotFoundError: if the entry has no pretrained weights or their file is missing, or a preset folder
            or its config.json or model.weights.h5 is missing.
        OSError: if a preset's download from the Hugging Face Hub fails.

    Example:
        >>> model = get("vae", pretrained=True)
        >>> images = model.sample(16, seed=0)
        >>> mine = get("vae", weights="runs/vae/model.weights.h5")
        >>> preset = get("runs/vae/preset")          # a folder that keras_vae.zoo.save_preset wrote
        >>> shared = get("hf://OWNER/REPO")          # that folder, uploaded to the Hugging Face Hub
    """
    if _is_preset(name):
        if pretrained or weights is not None or overrides:
            given = [*(["pretrained"] if pretrained else []), *(["weights"] if weights is not None else []),
                     *sorted(overrides)]
            raise ValueError(f"{name} is a preset: it holds its own config and weights, so {', '.join(given)} "
                             f"cannot apply; load it with zoo.get({str(name)!r}) alone")
        return load_preset(name)
    found = entry(name)
    _check_overrides(found, overrides)
    if pretrained and weights is not None:
        raise ValueError("pass pretrained=True (the zoo's weights) or weights=FILE, not both")
    if weights is not None and Path(weights).name.endswith(".keras"):
        if overrides:
            raise ValueError(f"a .keras file holds its model's config: no overrides ({sorted(overrides)}) apply")
        return load_model(weights, name)
    if weights is not None and not Path(weights).is_dir() and not Path(weights).name.endswith(".weights.h5"):
        raise ValueError(f"weights must be a .weights.h5 or .keras file, got {weights}")
    model = found.model_class(**{"name": name, **found.config, **overrides})  # named as the entry, not "vae_2"
    if pretrained or weights is not None:
        load_weights(model, _pretrained_weights(name) if pretrained else weights,
                     f"{name!r} built with {overrides or 'no overrides'}")
    return model


def _is_preset(name):
    """Whether `get`'s `name` is a preset (a handle, a path or a folder) rather than a registry name."""
    text = str(name)
    if "://" in text or isinstance(name, os.PathLike):
        return True
    return text not in _registry() and (len(Path(text).parts) > 1 or Path(text).is_dir())


def _check_overrides(found, overrides):
    """Refuses constructor arguments the entry's class does not take (Keras would, from deep inside)."""
    known = {"name", "dtype", "trainable"}  # what keras.Model itself takes
    for cls in found.model_class.__mro__:
        if cls.__module__.startswith("keras_vae."):
            known.update(parameter.name for parameter in inspect.signature(cls.__init__).parameters.values()
                         if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY))
    known.discard("self")
    unknown = sorted(set(overrides) - known)
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown argument(s) {unknown} for {found.name!r} (a {found.model_class.__name__}).{hint} "
                         f"It takes: {', '.join(sorted(known))}")


def load_weights(model, path, what=None):
    """`model.load_weights(path)`, refusing a file whose variables are not exactly the model's.

    Keras loads a file holding more variables than the model (say a VAE's into an autoencoder) without a
    word; this compares every stored variable's shape with the model's first.

    Args:
        model: a built model.
        path: a `.weights.h5` file.
        what: how to name the model in an error (default: its class).

    Raises:
        FileNotFoundError: if there is no file at `path` (IsADirectoryError: a directory).
        ValueError: if the file is not a readable (say truncated or corrupt) weights file or does not fit
            the model.

    Example:
        >>> load_weights(zoo.get("vae"), "runs/vae/model.weights.h5")
    """
    what = what or type(model).__name__
    path = _existing_file(path, ".weights.h5", "weights file")
    stored = _stored_shapes(path)
    expected = [tuple(weight.shape) for weight in model.weights]
    if sorted(stored) != sorted(expected):
        raise ValueError(f"weights file {path} does not fit {what}: it holds {len(stored)} variables with "
                         f"{sum(map(math.prod, stored)):,} values, the model has {len(expected)} with "
                         f"{sum(map(math.prod, expected)):,}")
    try:
        model.load_weights(path)
    except ValueError as error:
        raise ValueError(f"weights file {path} does not fit {what}: {_one_line(error)}") from None
    except (OSError, RuntimeError, KeyError) as error:
        raise ValueError(f"weights file {path} is not a readable .weights.h5 file ({error})") from None


def _stored_shapes(path):
    """The shapes of the variables in the `.weights.h5` file `path` (not the optimizer's).

    Raises:
        ValueError: naming the file, if it is not a readable (say truncated or corrupt) HDF5 file.
    """
    import h5py

    try:
        with h5py.File(path, "r") as file:
            stored = []
            file.visititems(lambda key, item: stored.append(tuple(item.shape))
                            if isinstance(item, h5py.Dataset) and not key.startswith("optimizer") else None)
    except (OSError, RuntimeError, KeyError, ValueError) as error:  # h5py's errors on truncated or corrupt files
        raise ValueError(f"weights file {path} is not a readable .weights.h5 file ({error})") from None
    return stored


def load_model(path, name=None):
    """Loads a zoo model saved as a `.keras` file (by `keras-vae train` or `model.save`), in Keras's safe mode.

    Safe mode refuses a file whose config holds Python code (a `Lambda` layer's bytecode), so a `.keras`
    file from elsewhere cannot run code as it loads; the file must hold a model of the zoo's classes.

    Args:
        path: a `.keras` file.
        name: the zoo entry the file must hold (its class is checked); None accepts any zoo model.

    Returns:
        The model, as it was saved.

    Raises:
        FileNotFoundError: if there is no file at `path` (IsADirectoryError: a directory).
        ValueError: if the file is not a readable (say truncated) `.keras` file, holds Python code, holds
            weights that do not fit its config, or holds another model than `name`'s.

    Example:
        >>> model = load_model("runs/conv_vae/model.keras", "conv_vae")
    """
    path = _existing_file(path, ".keras", "model file")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"model file {path} is not a readable .keras file: it is not a zip archive "
                         "(truncated or corrupt?)")
    return _load_checked(path, f"model file {path}", name)


def load_preset(source, name=None):
    """Loads a zoo model saved as a preset by `save_preset`, from a local folder or the Hugging Face Hub.

    Both go through `keras.saving.load_model(..., safe_mode=True)`, as `load_model` does: a config holding Python
    code is refused, and the preset must hold a model of the zoo's classes. A `hf://OWNER/REPO` handle is
    downloaded by Keras (with huggingface_hub's `snapshot_download`, into its cache; `HF_HUB_OFFLINE=1` loads
    only what is cached there).

    Args:
        source: a preset folder (holding config.json, metadata.json and model.weights.h5) or `"hf://OWNER/REPO"`.
        name: the zoo entry the preset must hold (its class is checked); None accepts any zoo model.

    Returns:
        The model, uncompiled.

    Raises:
        ValueError: if a handle is malformed or not `hf://` (before any download), the weights file is not a
            readable .weights.h5 file, or the preset does not load as a zoo model (`name`'s).
        FileNotFoundError: if the folder, its config.json or its model.weights.h5 is missing (NotADirectoryError:
            `source` is a file).
        OSError: if the download fails (offline, no such repository, no access); the error names the handle
            and is chained from huggingface_hub's.

    Example:
        >>> model = load_preset("runs/vae/preset", "vae")
        >>> model = load_preset("hf://OWNER/REPO")
    """
    if "://" in str(source):
        handle = str(source)
        _check_handle(handle)
        download_errors = _download_errors()
        try:
            return _load_checked(handle, f"preset {handle}", name, passthrough=download_errors)
        except download_errors as error:
            raise OSError(f"the download of preset {handle} from the Hugging Face Hub failed: "
                          f"{_one_line(error)}") from error
    folder = Path(source)
    if folder.is_file():
        raise NotADirectoryError(f"preset folder {folder} is a file; load a .keras file with zoo.load_model, or "
                                 "zoo.get(NAME, weights=FILE)")
    if not folder.is_dir():
        raise FileNotFoundError(f"preset folder {folder}: no such folder")
    for file in ("config.json", recipes.WEIGHTS_FILE):
        if not (folder / file).is_file():
            raise FileNotFoundError(f"preset folder {folder} has no {file} ({folder / file}): a preset folder holds "
                                    "config.json, metadata.json and model.weights.h5 (see zoo.save_preset)")
    _stored_shapes(folder / recipes.WEIGHTS_FILE)  # a truncated or corrupt file: an error naming it
    return _load_checked(folder, f"preset folder {folder}", name)


def _check_handle(handle):
    """Refuses, before any download, a handle that is not `hf://OWNER/REPO`."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    scheme, _, repo = handle.partition("://")
    if scheme != "hf":
        raise ValueError(f"preset handle {handle!r}: {scheme}:// is not supported; keras_vae loads presets from the "
                         "Hugging Face Hub (hf://OWNER/REPO) and from local folders")
    problem = None if repo.count("/") == 1 else "the repository must be OWNER/REPO"
    if problem is None:
        try:
            validate_repo_id(repo)  # the Hub's rules: characters, length, no "--" or ".."
        except HFValidationError as error:
            problem = _one_line(error)
    if problem:
        raise ValueError(f"malformed preset handle {handle!r}: expected hf://OWNER/REPO, e.g. hf://alice/my-vae "
                         f"({problem})")


def _download_errors():
    """The errors of huggingface_hub's download: offline, unreachable, no such repository or no access."""
    from huggingface_hub import errors

    return errors.HfHubHTTPError, errors.LocalEntryNotFoundError, errors.OfflineModeIsEnabled


def _load_checked(source, what, name=None, passthrough=()):
    """`keras.saving.load_model(source, safe_mode=True)`, refusing a model that is not of the zoo (`name`'s).

    Keras's errors become a ValueError naming `what`, except those of the classes `passthrough`.
    """
    import keras

    registry = _registry()  # registers the zoo's classes with Keras before it reads the file
    expected = entry(name).model_class if name is not None else None
    try:
        model = keras.saving.load_model(source, safe_mode=True)
    except passthrough:
        raise
    except (ValueError, TypeError, KeyError, OSError, RuntimeError, zipfile.BadZipFile) as error:
        raise ValueError(f"{what} could not be loaded (safe_mode=True): {_one_line(error)}") from None
    allowed = {expected} if expected else {found.model_class for found in registry.values()}
    if type(model) not in allowed:
        held = type(model).__name__
        wanted = f"the {expected.__name__} of {name!r}" if expected else "a model of the zoo"
        raise ValueError(f"{what} holds {'an' if held[0] in 'AEIOU' else 'a'} {held}, not {wanted}")
    return model


def _one_line(error):
    """Keras's message of `error` on one line (some span several, listing every layer)."""
    return " ".join(str(error).split())


def _existing_file(path, suffix, what):
    """`path` as a Path if it is a file named `*suffix`, else a FileNotFoundError or ValueError naming it."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{what} {path} is a directory, not a {suffix} file")
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path}: no such file")
    if not path.name.endswith(suffix):
        raise ValueError(f"{what} {path} must be a {suffix} file")
    return path


def _pretrained_weights(name):
    try:
        return recipes.weights_path(folder(name))
    except FileNotFoundError as error:
        trained = [n for n in list_models() if has_pretrained(n)]
        raise FileNotFoundError(f"no pretrained weights for {name!r} ({error}); entries with weights: "
                                f"{', '.join(trained) or 'none'}") from None


def has_pretrained(name):
    """Whether the entry's folder records trained weights (their sha256 is checked when they load)."""
    try:
        return recipes.read(folder(name))["weights"] is not None
    except FileNotFoundError:
        return False


def describe(name):
    """Returns a dict describing the entry: class, description, dataset, full config, recipe and card numbers.

    Example:
        >>> describe("conv_vae")["card"]["test_elbo"]["loss"]     # measured by `keras-vae evaluate`
    """
    found = entry(name)
    place = folder(name)
    recipe = recipes.read(place) if (place / recipes.RECIPE_FILE).is_file() else None
    return {
        "name": found.name,
        "class": found.model_class.__name__,
        "description": found.description,
        "dataset": found.dataset,
        "config": get(name).get_config(),
        "pretrained": recipe is not None and recipe["weights"] is not None,
        "recipe": recipe,
        "card": json.loads((place / METRICS_FILE).read_text()) if (place / METRICS_FILE).is_file() else None,
    }


def __dir__():
    return sorted([*globals(), "save_preset"])


def __getattr__(attribute):
    """`save_preset` is defined in keras_vae.presets, which imports this module: it is imported on first use."""
    if attribute == "save_preset":
        from keras_vae.presets import save_preset

        return save_preset
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
