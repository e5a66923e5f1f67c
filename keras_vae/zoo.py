"""The model zoo's registry.

Every entry is registered beside the family that defines it (`register(...)` at the end of
`keras_vae/models/<family>.py`), as plain data: the class and the constructor arguments that differ from
its defaults.

Example:
    >>> import keras_vae
    >>> keras_vae.zoo.list_models()[:3]
    ['ae', 'beta_vae', 'conv_vae']
    >>> model = keras_vae.zoo.get("conv_vae", latent_dim=8)
"""

import dataclasses
import difflib


@dataclasses.dataclass(frozen=True)
class Entry:
    """A registered model: its family, its constructor arguments, what it is and what it is trained on."""

    name: str
    model_class: type
    config: dict
    description: str
    dataset: str = "mnist"


_REGISTRY = {}


def register(name, model_class, *, description, dataset="mnist", **config):
    """Registers a zoo entry.

    Args:
        name: the registry name, e.g. `"conv_vae"`.
        model_class: the model family (a `BaseAutoencoder` subclass).
        description: one line saying what the entry is.
        dataset: the dataset it is meant for (`"mnist"` or `"fashion_mnist"`).
        **config: constructor arguments that differ from the class's defaults.

    Example:
        >>> register("conv_vae_8", ConvVAE, description="conv VAE, latent 8", latent_dim=8)
    """
    if name in _REGISTRY:
        raise ValueError(f"zoo entry {name!r} is already registered")
    _REGISTRY[name] = Entry(name, model_class, dict(config), description, dataset)


def list_models():
    """Returns the registered names, sorted."""
    return sorted(_REGISTRY)


def entry(name):
    """Returns the `Entry` registered as `name`; an unknown name raises a ValueError listing the known ones."""
    if name not in _REGISTRY:
        close = difflib.get_close_matches(str(name), _REGISTRY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Known models: {', '.join(list_models())}")
    return _REGISTRY[name]


def get(name, **overrides):
    """Builds a fresh model of the entry `name`.

    Args:
        name: a name from `list_models()`.
        **overrides: constructor arguments replacing the entry's, e.g. `latent_dim=8`.

    Returns:
        An uncompiled `keras.Model`; call `compile(optimizer=...)` before `fit`.
    """
    found = entry(name)
    return found.model_class(**{**found.config, **overrides})


def describe(name):
    """Returns a dict describing the entry: class, description, dataset and the full model config."""
    found = entry(name)
    return {
        "name": found.name,
        "class": found.model_class.__name__,
        "description": found.description,
        "dataset": found.dataset,
        "config": get(name).get_config(),
    }
