"""Training curves: loss, reconstruction and KL per epoch, for training and validation."""

import json
import os
from pathlib import Path

from matplotlib.ticker import MaxNLocator

from keras_vae.plots.canvas import new_figure, save

#: the terms drawn, each in its own panel, when the history has them
TERMS = ("loss", "reconstruction_loss", "kl_loss")


def _history_dict(history):
    """The `{name: [value per epoch]}` of a History, a dict, or a history.json path."""
    if isinstance(history, (str, os.PathLike)):
        path = Path(history)
        try:
            history = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"no history file at {path}") from None
        except IsADirectoryError:
            raise IsADirectoryError(f"{path} is a directory, not a history file (the history.json of "
                                    "`keras-vae train`)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path} is not a JSON history ({error})") from None
    history = getattr(history, "history", history)  # keras.callbacks.History
    if not isinstance(history, dict):
        raise ValueError(f"history must be a keras History, a dict or a JSON file, got {type(history).__name__}")
    return history


def _values(history, key):
    values = history[key]
    if (not isinstance(values, list) or not values
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)):
        raise ValueError(f"history[{key!r}] must be a non-empty list of numbers, one per epoch, got {values!r:.80}")
    return values


def training_curves(history, path=None):
    """Loss, reconstruction and KL per epoch, training solid and validation dashed, one panel per term.

    Args:
        history: the `keras.callbacks.History` that `fit` returns, its `.history` dict, or the path of the
            `history.json` that `keras-vae train` writes.
        path: optional PNG to write.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: if the history holds none of `TERMS`, or a term is not a list of numbers.

    Example:
        >>> history = model.fit(x_train, epochs=10, validation_data=(x_test,))
        >>> training_curves(history, path="curves.png")
    """
    history = _history_dict(history)
    terms = [term for term in TERMS if term in history]
    if not terms:
        found = ", ".join(map(str, history)) or "nothing"
        raise ValueError(f"the history has none of {', '.join(TERMS)}; it has {found}")
    figure, axes = new_figure(4.0 * len(terms), 3.4, ncols=len(terms), squeeze=False)
    for panel, term in zip(axes[0], terms):
        for key, style, name in ((term, "-", "training"), (f"val_{term}", "--", "validation")):
            if key in history:
                values = _values(history, key)
                panel.plot(range(1, len(values) + 1), values, style, marker="o", markersize=3, label=name)
        panel.set_title(term.replace("_", " "))
        panel.set_xlabel("epoch")
        panel.set_ylabel("nats per image")
        panel.xaxis.set_major_locator(MaxNLocator(integer=True))
        panel.grid(alpha=0.3)
        panel.legend()
    epochs = max(len(history[t]) for t in terms)
    figure.suptitle(f"training curves over {epochs} epoch{'s' if epochs != 1 else ''}")
    return save(figure, path)
