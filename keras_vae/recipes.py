"""Recipes: how a zoo entry was trained and which weights it produced, as plain JSON data.

A recipe is `recipe.json` in an entry's folder (`zoo/<name>/`). It is data, never code: the entry's
registry name, the training settings `keras-vae train --recipe` uses, and the weights file with its
sha256. File names in a recipe are plain names inside the recipe's folder; a path cannot escape it.

    {
      "model": "conv_vae",
      "training": {"epochs": 30, "batch_size": 64, "learning_rate": 0.001, "schedule": "cosine", "seed": 0},
      "weights": {"file": "model.weights.h5", "sha256": "9f2c..."}
    }

Example:
    >>> recipe = read("zoo/conv_vae")
    >>> recipe["training"]["epochs"]
    30
"""

import hashlib
import json
import math
import re
import shutil
from pathlib import Path

from keras_vae.dataset_specs import BINARIZE_MODES, DATASETS
from keras_vae.files import atomic_path, write_json

RECIPE_FILE = "recipe.json"
WEIGHTS_FILE = "model.weights.h5"
#: training settings and their defaults (`dataset` None means the entry's own dataset;
#: `prior_epochs`, for a model with a learned prior (a VQ-VAE's PixelCNN), None means as many as `epochs`;
#: `kl_schedule`, for a VAE, None means none: see `KL_SCHEDULE_KEYS`; `steps_per_epoch` None means every batch once)
TRAINING_DEFAULTS = {"dataset": None, "binarize": None, "epochs": 12, "batch_size": 32, "learning_rate": 1e-3,
                     "schedule": "constant", "seed": 0, "prior_epochs": None, "kl_schedule": None,
                     "steps_per_epoch": None}
SCHEDULES = ("constant", "cosine")
#: a recipe's `kl_schedule`: `{"warmup_epochs": E}` (linear KL warm-up) or `{"cycles": M, "ratio": R}` (cyclical
#: annealing, M cycles over the run, each rising over its first R; R defaults to 0.5); see keras_vae.schedules
KL_SCHEDULE_KEYS = ("warmup_epochs", "cycles", "ratio")


class RecipeError(ValueError):
    """A recipe that is not valid JSON, has unknown keys or wrong values, or names a file outside its folder."""


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _one_of(choices):
    return lambda value: (value is None or isinstance(value, str)) and value in choices


#: training key -> (whether a value is valid, what it must be)
_TRAINING_VALUES = {
    "dataset": (_one_of((None, *DATASETS)), f"null or one of {sorted(DATASETS)}"),
    "binarize": (_one_of(BINARIZE_MODES), f"one of {', '.join(map(json.dumps, BINARIZE_MODES))}"),
    "epochs": (lambda value: _is_int(value) and value > 0, "a positive integer"),
    "batch_size": (lambda value: _is_int(value) and value > 0, "a positive integer"),
    "learning_rate": (lambda value: isinstance(value, (int, float)) and not isinstance(value, bool)
                      and math.isfinite(value) and value > 0, "a positive finite number"),
    "schedule": (_one_of(SCHEDULES), f"one of {SCHEDULES}"),
    "seed": (_is_int, "an integer"),
    "prior_epochs": (lambda value: value is None or (_is_int(value) and value > 0), "null or a positive integer"),
    "steps_per_epoch": (lambda value: value is None or (_is_int(value) and value > 0), "null or a positive integer"),
    "kl_schedule": (lambda value: _is_kl_schedule(value),
                    'null, {"warmup_epochs": E} or {"cycles": M, "ratio": R} (E, M positive integers, R in (0, 1])'),
}


def _is_kl_schedule(value):
    if value is None:
        return True
    if not isinstance(value, dict) or not value or set(value) - set(KL_SCHEDULE_KEYS):
        return False
    if "warmup_epochs" in value:
        return set(value) == {"warmup_epochs"} and _is_int(value["warmup_epochs"]) and value["warmup_epochs"] > 0
    ratio = value.get("ratio", 0.5)
    return (_is_int(value.get("cycles")) and value["cycles"] > 0 and isinstance(ratio, (int, float))
            and not isinstance(ratio, bool) and 0 < ratio <= 1)


def _check_keys(where, found, allowed, path):
    unknown = sorted(set(found) - set(allowed))
    if unknown:
        raise RecipeError(f"{path}: unknown {where} key(s) {unknown}; expected some of {sorted(allowed)}")


def read(folder):
    """Reads and checks `folder/recipe.json`.

    Args:
        folder: an entry's folder, e.g. `"zoo/conv_vae"`.

    Returns:
        A dict with `model` (a registry name), `training` (every key of `TRAINING_DEFAULTS`, defaults filled
        in) and `weights` (`{"file", "sha256"}`, or None before the entry is trained).

    Raises:
        FileNotFoundError: if there is no recipe.json in `folder`.
        RecipeError: if it is not a JSON object of the expected form.
    """
    path = Path(folder) / RECIPE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {RECIPE_FILE} in {folder}: a recipe folder holds one (see zoo/README.md)")
    try:
        recipe = json.loads(path.read_text(), parse_constant=lambda constant: _not_json(constant, path))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RecipeError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(recipe, dict) or not isinstance(recipe.get("model"), str):
        raise RecipeError(f"{path} must be a JSON object with a \"model\" name")
    _check_keys("top-level", recipe, ("model", "training", "weights"), path)
    training = recipe.get("training", {})
    if not isinstance(training, dict):
        raise RecipeError(f"{path}: \"training\" must be an object")
    _check_keys("training", training, TRAINING_DEFAULTS, path)
    check_training(training, f"{path}: training")
    weights = recipe.get("weights")
    if weights is not None:
        if not isinstance(weights, dict) or set(weights) != {"file", "sha256"}:
            raise RecipeError(f"{path}: \"weights\" must be {{\"file\": NAME, \"sha256\": HEX}}")
        _plain_name(weights["file"], path)
        if not isinstance(weights["sha256"], str) or not re.fullmatch("[0-9a-f]{64}", weights["sha256"]):
            raise RecipeError(f"{path}: weights sha256 must be 64 lowercase hex digits, got {weights['sha256']!r}")
    return {"model": recipe["model"], "training": {**TRAINING_DEFAULTS, **training}, "weights": weights}


def check_training(settings, where):
    """Refuses training settings with wrong values.

    Args:
        settings: training key -> value, some of `TRAINING_DEFAULTS`'s keys (unknown keys are the caller's check).
        where: how the error names them, e.g. `"zoo/vae/recipe.json: training"`.

    Raises:
        RecipeError: naming the key and what its value must be.

    Example:
        >>> check_training({"epochs": 0}, "train()")    # RecipeError: train() epochs must be a positive integer, got 0
    """
    for key, value in settings.items():
        valid, expected = _TRAINING_VALUES[key]
        if not valid(value):
            raise RecipeError(f"{where} {key} must be {expected}, got {value!r}")


def _not_json(constant, path):
    raise RecipeError(f"{path} is not valid JSON: {constant} is a Python float, not a JSON number")


def _plain_name(name, path):
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise RecipeError(f"{path}: weights file must be a plain file name inside the recipe's folder, got {name!r}")
    return name


def sha256(path):
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_path(folder):
    """The verified weights file of the recipe in `folder`.

    Raises:
        FileNotFoundError: if the recipe records no weights or the file is missing.
        RecipeError: if the file is a link leading out of `folder`.
        ValueError: if the file's sha256 differs from the recorded one (a corrupt or replaced file).
    """
    recipe = read(folder)
    if recipe["weights"] is None:
        raise FileNotFoundError(f"{Path(folder) / RECIPE_FILE} records no trained weights yet")
    path = Path(folder) / recipe["weights"]["file"]
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} named by {Path(folder) / RECIPE_FILE} is missing")
    if path.resolve().parent != Path(folder).resolve():
        raise RecipeError(f"weights file {path} named by {Path(folder) / RECIPE_FILE} is a link to "
                          f"{path.resolve()}, outside the recipe's folder")
    found = sha256(path)
    if found != recipe["weights"]["sha256"]:
        raise ValueError(f"weights file {path} is corrupt or was replaced: its sha256 is {found}, "
                         f"the recipe records {recipe['weights']['sha256']}")
    return path


def record_weights(folder, weights):
    """Copies a trained `.weights.h5` into `folder` and records its sha256 in the recipe, both atomically.

    Args:
        folder: the entry's folder holding recipe.json.
        weights: the weights file a training run wrote (`model.weights.h5`).

    Example:
        >>> record_weights("zoo/conv_vae", "runs/conv_vae/model.weights.h5")
    """
    folder = Path(folder)
    raw = json.loads((folder / RECIPE_FILE).read_text())
    read(folder)  # refuse to touch an invalid recipe
    with atomic_path(folder / WEIGHTS_FILE) as tmp:
        shutil.copyfile(weights, tmp)
    raw["weights"] = {"file": WEIGHTS_FILE, "sha256": sha256(folder / WEIGHTS_FILE)}
    write_json(folder / RECIPE_FILE, raw)
