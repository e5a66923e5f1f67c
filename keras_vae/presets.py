"""Presets: a model saved in keras-hub's folder layout, with a model card for the Hugging Face Hub.

A preset folder holds what Keras's `model.save(folder, zipped=False)` writes, as keras-hub's presets do:
`config.json` (the model's config), `metadata.json` (the Keras version, here also keras_vae's and the parameter
count) and `model.weights.h5`, without the optimizer's state; and a `README.md` model card whose YAML front matter
carries the Hugging Face metadata (`library_name: keras`, license, datasets, tags and a `model-index` with the
measured numbers), written with huggingface_hub's `ModelCard`. Upload the folder to the Hub as it is
(`huggingface_hub.upload_folder`); `keras_vae.zoo.get` loads it back from the folder or from its `hf://OWNER/REPO`
handle, with Keras's loader in safe mode.

Example:
    >>> from keras_vae import zoo
    >>> zoo.save_preset(zoo.get("vae", pretrained=True), "presets/vae")   # numbers from zoo/vae/metrics.json
    >>> model = zoo.get("presets/vae")
    >>> # huggingface_hub.upload_folder(repo_id="OWNER/vae", folder_path="presets/vae"), then anywhere:
    >>> model = zoo.get("hf://OWNER/vae")
"""

import json
import numbers
import re
from pathlib import Path

import huggingface_hub
import numpy as np

import keras_vae
from keras_vae import zoo
from keras_vae.files import atomic_directory, check_destination
from keras_vae.models.base import BaseAutoencoder

CARD_FILE = "README.md"
LICENSE = "apache-2.0"
_DATASET_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}

#: the numbers a card reports: (section of `keras-vae evaluate`'s metrics.json, key, model-index metric type, name);
#: `keras_vae.train`'s test metrics hold the test_elbo section's keys at their top level
_METRICS = (
    ("test_elbo", "loss", "loss", "test loss per image (the model's objective: reconstruction term + beta x KL term, "
                                  "or an IWAE's k-sample bound)"),
    ("test_elbo", "reconstruction_loss", "reconstruction_loss", "reconstruction term per image"),
    ("test_elbo", "kl_loss", "kl_divergence", "KL term per image, nats"),
    ("reconstruction_error", "pixel_mse", "mse", "per-pixel squared error of the reconstructions"),
    ("reconstruction_error", "pixel_mae", "mae", "per-pixel absolute error of the reconstructions"),
    ("iwae_nll", "nll", "nll", "IWAE bound of {estimates}, k = {k}, nats per image (test set binarised: "
                               "{binarization})"),
    ("class_accuracy", "accuracy", "accuracy", "a classifier's accuracy on class-conditional samples"),
)
#: what a metrics dict may record beside the numbers, said in the card: how and on what they were measured
_CONTEXT = ("test_images", "backend", "weights", "binarize", "epochs", "batch_size", "learning_rate", "schedule",
            "seed", "replicas")


def save_preset(model, folder, *, name=None, metrics=None, dataset=None, overwrite=False):
    """Writes `model` as a preset folder: config.json, metadata.json, model.weights.h5 and a README.md model card.

    The folder is written beside `folder` under a temporary name and renamed into place once complete: a failed
    save leaves nothing, and with `overwrite=True` an existing preset is replaced only then.

    Args:
        model: a keras_vae model. A compiled one is saved without its optimizer.
        folder: the folder to write (`str` or `Path`); its parent is created if missing.
        name: the model's name in the card (default `model.name`). If it names a zoo entry and `model` holds
            that entry's pretrained weights, the card describes the entry and `metrics` and `dataset` default to
            its measurements (`zoo.describe(name)["card"]`, zoo/<name>/metrics.json).
        metrics: the measured numbers: a `keras-vae evaluate` report (the zoo's metrics.json) or the test
            metrics of `keras_vae.train` (`run.test_metrics`, or its test_metrics.json); `{}` for none.
        dataset: the dataset the model was trained and measured on (`"mnist"`, `"fashion_mnist"`); default the
            one `metrics` records, else the zoo entry's.
        overwrite: replace an existing preset folder instead of raising FileExistsError.

    Returns:
        `folder` as a `Path`.

    Raises:
        TypeError: if `model` is not a keras_vae model.
        ValueError: if `folder` is a `hf://` handle, a metric is not a finite number, `metrics` holds none of the
            numbers a card reports, or `dataset` differs from the one `metrics` records.
        FileExistsError: if `folder` exists and `overwrite` is False, or, with `overwrite`, is something other
            than a preset folder (a file, or a non-empty folder without config.json and metadata.json).
        NotADirectoryError: if a folder above `folder` is a file.

    Example:
        >>> save_preset(keras_vae.zoo.get("vae", pretrained=True), "presets/vae")
        >>> run = keras_vae.train("conv_vae", epochs=12)
        >>> save_preset(run.model, "presets/my_conv_vae", name="my_conv_vae", metrics=run.test_metrics,
        ...             dataset="mnist")
    """
    if str(folder).startswith("hf://"):
        raise ValueError(f"save_preset writes a local folder, not {folder}: upload the folder with "
                         "huggingface_hub.upload_folder(repo_id=..., folder_path=...)")
    folder = Path(folder)
    check_destination(folder, overwrite, is_preset, "preset folder")
    if not isinstance(model, BaseAutoencoder):
        raise TypeError(f"save_preset needs a keras_vae model (e.g. keras_vae.zoo.get('vae')), "
                        f"got {type(model).__name__}")
    name = name or model.name
    entry = name if _holds_pretrained(model, name) else None
    if metrics is None:
        metrics = (zoo.describe(entry)["card"] if entry else None) or {}
    dataset = _dataset(dataset, metrics, entry)
    card = _card(model, name, metrics, dataset, entry)  # before writing: a bad metric leaves nothing
    with atomic_directory(folder) as tmp:
        _without_optimizer(model).save(tmp, zipped=False)
        assets = tmp / "assets"
        if assets.is_dir() and not any(assets.iterdir()):  # Keras writes an empty assets/ (for an absolute path)
            assets.rmdir()
        metadata = json.loads((tmp / "metadata.json").read_text())
        metadata.update(keras_vae_version=keras_vae.__version__, parameter_count=model.count_params())
        (tmp / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
        card.save(tmp / CARD_FILE)
    return folder


def is_preset(folder):
    """Whether `folder` holds a preset (config.json and metadata.json), which `overwrite=True` may replace.

    Example:
        >>> is_preset(Path("runs/vae/preset"))
    """
    return folder.is_dir() and (folder / "config.json").is_file() and (folder / "metadata.json").is_file()


def _holds_pretrained(model, name):
    """Whether `model` holds the pretrained weights of the zoo entry `name`: then the entry's card applies."""
    if name not in zoo.list_models() or not zoo.has_pretrained(name):
        return False
    pretrained = zoo.get(name, pretrained=True)
    mine, theirs = model.get_weights(), pretrained.get_weights()
    return type(model) is type(pretrained) and len(mine) == len(theirs) and all(map(np.array_equal, mine, theirs))


def _dataset(dataset, metrics, entry):
    """The dataset the card names: the given one, else the one the metrics record, else the zoo entry's."""
    recorded = metrics.get("dataset")
    if dataset is not None and recorded is not None and dataset != recorded:
        raise ValueError(f"dataset={dataset!r}, but the metrics were measured on {recorded!r}")
    return dataset or recorded or (zoo.entry(entry).dataset if entry else None)


def _without_optimizer(model):
    """`model`, or an uncompiled copy of a compiled one: a preset holds no optimizer state."""
    if not model.compiled:
        return model
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def _card(model, name, metrics, dataset, entry):
    """The preset's README.md: Hugging Face metadata as YAML front matter, then what the model is, how to load
    it and what it measured (see `save_preset`'s arguments; `entry`: the zoo entry whose pretrained weights
    `model` holds, or None)."""
    measured = _measured(metrics) if metrics else []
    if measured and dataset is None:
        raise ValueError("pass dataset=...: the model-index says which dataset the metrics were measured on")
    task_type, task = _task(model)
    results = [huggingface_hub.EvalResult(task_type=task_type, task_name=task, dataset_type=dataset,
                                          dataset_name=_DATASET_NAMES.get(dataset, dataset), dataset_split="test",
                                          metric_type=kind, metric_name=label, metric_value=value)
               for kind, label, value in measured]
    data = huggingface_hub.ModelCardData(library_name="keras", license=LICENSE, datasets=[dataset] if dataset else None,
                                         tags=_tags(model, dataset), model_name=name, eval_results=results or None)
    body = _body(model, name, entry, dataset, measured, metrics)
    return huggingface_hub.ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")


class _Fields(dict):
    """A metrics section for `str.format_map`: a field it lacks reads as "?"."""

    def __missing__(self, key):
        return "?"


def _measured(metrics):
    """[(model-index metric type, name, value)] of the numbers in `metrics` (see `_METRICS`)."""
    sections = metrics if "test_elbo" in metrics else {**metrics, "test_elbo": metrics}
    measured = []
    for section, key, kind, label in _METRICS:
        part = sections.get(section)
        if not isinstance(part, dict) or key not in part:
            continue
        value = part[key]
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not np.isfinite(value):
            raise ValueError(f"metric {key!r} is {value!r}: a model card reports finite numbers")
        measured.append((kind, label.format_map(_Fields(part)), float(value)))
    if not measured:
        known = ", ".join(key for _, key, _, _ in _METRICS)
        raise ValueError(f"metrics hold none of the numbers a card reports ({known}): pass a `keras-vae evaluate` "
                         "report (metrics.json) or keras_vae.train's test metrics")
    return measured


def _task(model):
    """The model-index task (type, name) that the model's numbers measure."""
    if "z_log_var" not in model.encoder_heads:  # the autoencoder: no prior, reconstruction only
        return "image-to-image", "image reconstruction"
    if model.num_classes:
        return "image-generation", "class-conditional image generation"
    return "unconditional-image-generation", "image generation"


def _tags(model, dataset):
    family = re.sub(r"(?<=[a-z])(?=[A-Z])", "-", type(model).__name__).lower()  # ConvVAE -> conv-vae
    kind = "autoencoder" if "z_log_var" not in model.encoder_heads else "variational-autoencoder"
    return list(dict.fromkeys(["keras", "keras-vae", family, kind, *([dataset] if dataset else [])]))


def _body(model, name, entry, dataset, measured, metrics):
    """The card's Markdown, below the front matter."""
    data = _DATASET_NAMES.get(dataset, dataset)
    what = zoo.entry(entry).description if entry else f"A {type(model).__name__} of keras_vae"
    facts = [f"latent dimension {model.latent_dim}", f"{model.likelihood} likelihood",
             f"{'x'.join(map(str, model.image_shape))} images", f"{model.count_params():,} parameters"]
    if model.num_classes:
        facts.insert(3, f"conditioned on {model.num_classes} classes")
    labels = ", labels" if model.num_classes else ""
    shape = ", ".join(map(str, model.image_shape))
    lines = [
        f"# {name}", "",
        f"{what[0].upper()}{what[1:]}: {', '.join(facts)}" + (f"; trained on {data}." if dataset else "."), "",
        "A keras_vae preset in keras-hub's layout: Keras's config.json, metadata.json and model.weights.h5, and "
        "this card.", "",
        "## Load", "",
        "With keras_vae installed (`pip install keras-vae`), from this folder or from its copy on the Hugging Face "
        "Hub; Keras loads it in safe mode, which refuses a config that holds code:", "",
        "```python",
        "import keras_vae",
        "",
        'model = keras_vae.zoo.get("path/to/folder")',
        'model = keras_vae.zoo.get("hf://owner/repo")',
        f"reconstructions = model.reconstruct(images{labels})  # images: (batch, {shape}) in [0, 1]",
        "```", "",
    ]
    if not measured:
        return "\n".join([*lines, "## Measured", "", "No measurements were given (`keras_vae.zoo.save_preset(..., "
                           "metrics=...)`).", ""])
    table = ["| metric | value |", "|---|---|", *(f"| {label} | {value:.6g} |" for _, label, value in measured)]
    return "\n".join([*lines, f"## Measured on the {data} test set", "", *table, "", _source(metrics, entry), ""])


def _source(metrics, entry):
    """Where the numbers come from, and what was recorded with them."""
    if entry:
        origin = (f"keras_vae {keras_vae.__version__}'s measurements of its pretrained `{entry}` (zoo/{entry}/"
                  f"metrics.json in its repository), by `keras-vae evaluate {entry} --pretrained`")
    elif "test_elbo" in metrics:
        origin = "measured by `keras-vae evaluate` (`keras_vae.evaluate.report`)"
    elif "epochs" in metrics:
        origin = "measured by `keras_vae.train` on the test set at the end of its run"
    else:
        origin = "as given to `keras_vae.zoo.save_preset`"
    recorded = ", ".join(f"{key} {metrics[key]}" for key in _CONTEXT if metrics.get(key) is not None)
    return f"The numbers are {origin}" + (f"; recorded with them: {recorded}." if recorded else ".")
