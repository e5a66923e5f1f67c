"""Package attributes imported on first access (PEP 562), so that importing a package starts no backend.

`import keras_vae` runs no Keras, TensorFlow, JAX or PyTorch code: the `keras-vae` command lists the zoo and
prints its help without them, and `keras_vae.zoo`, `keras_vae.export` or `keras_vae.VAE` are imported when a
program first uses them.
"""

import importlib
import sys


def attach(package, submodules=(), attributes=None):
    """The `__getattr__`, `__dir__` and `__all__` of a package whose attributes are imported on first access.

    Args:
        package: the package's `__name__`.
        submodules: names of its submodules, each an attribute of the package once imported.
        attributes: submodule name -> the names it defines that the package offers as its own.

    Returns:
        `(__getattr__, __dir__, __all__)`, to assign at the package's top level.

    Example:
        >>> __getattr__, __dir__, __all__ = attach(__name__, ["zoo"], {"models": ["VAE"]})
    """
    origins = {name: None for name in submodules}
    origins.update({name: module for module, names in (attributes or {}).items() for name in names})

    def __getattr__(name):
        if name not in origins:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if origins[name] is None:
            return importlib.import_module(f"{package}.{name}")
        return getattr(importlib.import_module(f"{package}.{origins[name]}"), name)

    def __dir__():
        return sorted({*vars(sys.modules[package]), *origins})

    return __getattr__, __dir__, sorted(origins)
