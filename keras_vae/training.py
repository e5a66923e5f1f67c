"""The training run as a library call: `keras_vae.train` runs what `keras-vae train` runs, from Python.

A run merges its settings (the call's, else the recipe's, else `recipes.TRAINING_DEFAULTS`), loads the
dataset, checks that the batches split evenly across the replicas, builds a VAE with the KL schedule the settings
name (`kl_schedule`, in epochs: `keras_vae.schedules.from_epochs`), compiles the model with Adam (constant or
cosine rate), fits it on `data.EpochBatches` (an order a resumed run repeats) with the NaN stop first, and
measures the test set. Given an `out` folder it also writes, each file atomically: history.json after every
epoch, a backup (weights, optimizer, RNG and data order) that `resume=True` continues from bit for bit,
model.keras, model.weights.h5, test_metrics.json, figures and preset/ (the trained model in keras-hub's preset
layout, its card holding the test metrics: `keras_vae.zoo.save_preset`); it checks the free space first, refuses
to overwrite a finished run, and deletes the backup only once everything is written. Without `out`, nothing is
written.

Example:
    >>> import keras_vae
    >>> run = keras_vae.train("conv_vae", epochs=12, out="runs/conv_vae")
    >>> run.test_metrics["loss"], run.history["val_loss"][-1]
    >>> images = run.model.sample(16, seed=0)
"""

import contextlib
import dataclasses
import math
import shutil
from pathlib import Path

import keras
import numpy as np

from keras_vae import data, distribution, plots, presets, recipes, schedules, zoo
from keras_vae import tensorboard as logs
from keras_vae.callbacks import BackupAndRestore, DataEpoch, HistoryWriter, NonFiniteLossError, StopOnNonFiniteLoss
from keras_vae.dataset_specs import DATASETS
from keras_vae.files import (atomic_path, check_destination, check_directory, recover_directory, remove_directory,
                             remove_partial_files, write_json)
from keras_vae.models.base import BaseAutoencoder
from keras_vae.models.vae import VAE

#: the settings `train` takes, named as `keras-vae train`'s options: the recipe's training keys and latent_dim
SETTINGS = (*recipes.TRAINING_DEFAULTS, "latent_dim")


@dataclasses.dataclass(frozen=True)
class TrainingRun:
    """What `train` returns.

    Args:
        model: the trained model, compiled.
        history: metric name -> one float per epoch (a resumed run's earlier epochs included).
        test_metrics: the test set's loss terms, e.g. `{"loss": 148.3, "reconstruction_loss": ..., "kl_loss": ...}`.
        settings: the settings the run used, defaults and the recipe's filled in, `dataset` resolved.
        out: the folder the run wrote, or None.

    Example:
        >>> run = train("vae", epochs=2)
        >>> run.history["loss"]        # two numbers
    """

    model: keras.Model
    history: dict
    test_metrics: dict
    settings: dict
    out: Path | None


def train(model_or_name=None, *, out=None, recipe=None, resume=False, distribute=None, callbacks=(),
          tensorboard=None, verbose="auto", **settings):
    """Trains a zoo model (or one of your own) the way `keras-vae train` does, and measures it on the test set.

    Args:
        model_or_name: a name from `keras_vae.zoo.list_models()`, an uncompiled keras_vae model, or None with
            `recipe`.
        out: a folder for the run's files (see the module's docstring); None writes nothing.
        recipe: a folder with a recipe.json (e.g. `"zoo/conv_vae"`) whose model and training settings to use.
        resume: continue the interrupted run in `out` from its last completed epoch.
        distribute: split each batch across devices: one of `keras_vae.distribution.MODES`.
        callbacks: more Keras callbacks for `fit`, after the run's own.
        tensorboard: a folder for TensorBoard logs: the loss terms and image grids of reconstructions and samples,
            per epoch (see `keras_vae.tensorboard`; needs TensorFlow installed, on any backend).
        verbose: `fit`'s progress output: "auto", 0, 1 or 2.
        **settings: as `keras-vae train`'s options: `dataset`, `binarize`, `epochs`, `batch_size`,
            `learning_rate`, `schedule`, `seed`, `prior_epochs`, `kl_schedule` (a VAE's KL warm-up or cyclical
            annealing, `{"warmup_epochs": 5}` or `{"cycles": 4}`; see `recipes.KL_SCHEDULE_KEYS`), `steps_per_epoch`
            (batches per epoch, each epoch a fresh order; default every batch once), and `latent_dim` for a zoo
            name. None, or a setting left out, takes the recipe's value, else the default.

    Returns:
        A `TrainingRun` with the model, its history, test metrics, settings and output folder.

    Raises:
        TypeError: for an unknown setting.
        ValueError: for a bad setting, name or model, a recipe for another model, a batch size the replicas
            cannot share, or an `out` that holds a finished run (or an interrupted one, without `resume`).
        OSError: if `out` cannot be written or lacks the space the run needs (before training starts).
        keras_vae.callbacks.NonFiniteLossError: if the loss stops being finite; the backup of the last
            completed epoch stays in `out`.

    Example:
        >>> run = train("conv_vae", epochs=12, batch_size=64, out="runs/conv_vae")
        >>> run = train("conv_vae", epochs=12, batch_size=64, out="runs/conv_vae", resume=True)  # after a crash
        >>> run = train(recipe="zoo/conv_vae", out="runs/conv_vae")        # reproduce a zoo entry
        >>> run = train(keras_vae.VAE(latent_dim=8), epochs=5)            # a model of your own; writes nothing
    """
    name, settings = _settings(model_or_name, recipe, settings)
    if isinstance(model_or_name, keras.Model):
        _check_own_model(model_or_name, settings, distribute)
        image_shape = tuple(model_or_name.image_shape)
    else:
        model_or_name = name  # the recipe's, when None
        image_shape = DATASETS[zoo.entry(name).dataset].image_shape  # an entry's own dataset fits it
    _check_image_shape(name, image_shape, settings["dataset"])
    if resume and out is None:
        raise ValueError("resume=True continues the run in `out`: pass the out folder of the interrupted run")
    for folder, what in ((out, "out"), (tensorboard, "tensorboard")):  # before the data is read
        if folder is not None:
            check_directory(Path(folder), what)
    with distribution.scope(distribute) if distribute else contextlib.nullcontext():
        return _run(model_or_name, name, settings, None if out is None else Path(out), resume, list(callbacks),
                    tensorboard, verbose)


def _settings(model_or_name, recipe, given):
    """The run's name and settings: the given ones (None: not given), else the recipe's, else the defaults."""
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise TypeError(f"train() got unknown setting(s) {unknown}; the settings are {list(SETTINGS)}")
    given = {key: value for key, value in given.items() if value is not None}
    latent_dim = given.pop("latent_dim", None)
    recipes.check_training(given, "train()")
    if latent_dim is not None and not (isinstance(latent_dim, int) and not isinstance(latent_dim, bool)
                                       and latent_dim > 0):
        raise ValueError(f"train() latent_dim must be a positive integer, got {latent_dim!r}")
    found = recipes.read(recipe) if recipe is not None else {"model": None, "training": {}}
    if isinstance(model_or_name, keras.Model):
        if recipe is not None:
            raise ValueError(f"recipe {recipe} trains the zoo's {found['model']!r}: pass its name, not a model")
        name = model_or_name.name
    else:
        name = model_or_name or found["model"]
        if name is None:
            raise ValueError("name a model (see `keras-vae list`) or pass a recipe folder")
        if recipe is not None and name != found["model"]:
            raise ValueError(f"recipe {recipe} trains {found['model']!r}, not {name!r}")
        zoo.entry(name)  # an unknown name fails here, before any data is read
    settings = {**recipes.TRAINING_DEFAULTS, **found["training"], **given}
    if (settings["kl_schedule"] is not None and not isinstance(model_or_name, keras.Model)
            and not issubclass(zoo.entry(name).model_class, VAE)):
        raise ValueError(f"{name!r} has no KL term to schedule: kl_schedule is for the VAE families")
    if settings["dataset"] is None:
        settings["dataset"] = "mnist" if isinstance(model_or_name, keras.Model) else zoo.entry(name).dataset
    if latent_dim is not None:
        settings["latent_dim"] = latent_dim
    return name, settings


def _check_own_model(model, settings, distribute):
    """Refuses a model of the caller's that the run cannot train as it trains a zoo model."""
    if not isinstance(model, BaseAutoencoder):
        raise ValueError(f"train() trains keras_vae models (Autoencoder, VAE, ...), got a {type(model).__name__}")
    if model.compiled:
        raise ValueError("train() compiles the model with Adam(learning_rate, schedule): pass an uncompiled model, "
                         "or call its fit yourself")
    for key in ("latent_dim", "kl_schedule"):
        if settings.get(key) is not None:
            raise ValueError(f"{key} overrides a zoo model's; build your model with the {key} you want "
                             "(kl_schedule: a keras_vae.schedules.LinearWarmup or Cyclical)")
    if distribute:
        raise ValueError("with distribute, the model's variables must be created inside the distribution: pass a "
                         "zoo name, or build the model inside keras_vae.distribution.scope(...) and call fit")


def _run(model_or_name, name, settings, out, resume, callbacks, tensorboard, verbose):
    keras.utils.set_random_seed(settings["seed"])
    batch_size = settings["batch_size"]
    steps = settings["steps_per_epoch"]
    (x_train, y_train), (x_test, y_test) = data.load_splits(
        settings["dataset"], binarize=settings["binarize"], batch_size=batch_size, seed=settings["seed"],
        **({"steps_per_epoch": steps} if settings["binarize"] == "dynamic" else {}))
    distribution.check_batches(batch_size, len(y_train))  # before anything is written
    distribution.check_batches(batch_size, len(y_test))
    batches = x_train if isinstance(x_train, data.EpochBatches) else data.EpochBatches(  # the models without
        x_train, y_train, batch_size=batch_size, seed=settings["seed"], steps=steps)  # classes ignore the labels
    worker = distribution.worker_index()
    if out is not None and worker:  # another worker: the same steps, its files in scratch
        out = out / f".worker-{worker}"
    if out is not None:
        _check_out(out, resume)  # after the data: a run that cannot start leaves no directory
    model = _model(model_or_name, settings, len(batches))
    if out is not None:
        _make_out(out)
        _check_free_space(out, model)
    model.compile(optimizer=_optimizer(settings, len(batches)))
    labelled = bool(model.num_classes)
    own = [StopOnNonFiniteLoss()]  # first: a failed epoch reaches no history or backup
    writer = None if out is None else HistoryWriter(out / "history.json", resume=resume)
    if out is not None:
        own += [writer, BackupAndRestore(out / "backup", delete_checkpoint=False)]
    if tensorboard is not None and not worker:  # one worker writes the logs
        own += logs.callbacks(tensorboard, x_test, y_test if labelled else None)
    try:
        fitted = model.fit(batches, epochs=settings["epochs"], shuffle=False,  # the batches shuffle, by epoch
                           validation_data=(x_test, y_test) if labelled else (x_test,),
                           callbacks=[*own, DataEpoch(batches), *callbacks], verbose=verbose)
    except NonFiniteLossError as error:
        if out is None:
            raise
        raise NonFiniteLossError(f"{error}. The last completed epoch's backup is kept in {out / 'backup'}; a resumed "
                                 "run would repeat the same steps, so start a new out folder with other settings"
                                 ) from None
    history = fitted.history if writer is None else writer.history  # the writer's holds a resumed run's start
    test = model.evaluate(x_test, y_test if labelled else None, batch_size=batch_size, verbose=0, return_dict=True)
    if getattr(model, "prior", None) is not None:
        prior_history, prior_test = _fit_prior(model, x_train, x_test, settings, verbose)
        history = {**history, **prior_history}
        test.update(prior_test)
    run = TrainingRun(model, {key: [float(v) for v in values] for key, values in history.items()},
                      {key: float(value) for key, value in test.items()}, settings, out)
    if out is not None:
        _write(run, name, x_test, y_test)
        if worker:
            shutil.rmtree(out)
            return dataclasses.replace(run, out=None)
    return run


def _fit_prior(model, x_train, x_test, settings, verbose):
    """Trains the learned prior of `model` (a VQ-VAE's PixelCNN) on the codes of the training images, once the model
    is trained: Adam at the run's rate and schedule, for `prior_epochs` (default `epochs`), validated on the test
    images' codes. A run interrupted here and resumed trains the prior again from its start.

    Returns:
        (history, test metrics), their names prefixed with `prior_`.
    """
    images = x_train.images if isinstance(x_train, data.EpochBatches) else x_train
    epochs = settings["prior_epochs"] or settings["epochs"]
    batch_size = settings["batch_size"]
    codes, test_codes = model.codes(images), model.codes(x_test)
    model.prior.compile(optimizer=_optimizer({**settings, "epochs": epochs}, -(-len(codes) // batch_size)))
    fitted = model.prior.fit(codes, epochs=epochs, batch_size=batch_size, validation_data=(test_codes,),
                             callbacks=[StopOnNonFiniteLoss()], verbose=verbose)
    test = model.prior.evaluate(test_codes, batch_size=batch_size, verbose=0, return_dict=True)
    return ({f"prior_{key}": values for key, values in fitted.history.items()},
            {f"prior_{key}": value for key, value in test.items()})


def _model(model_or_name, settings, steps_per_epoch):
    if isinstance(model_or_name, keras.Model):
        return model_or_name
    overrides = {"latent_dim": settings["latent_dim"]} if "latent_dim" in settings else {}
    if settings["kl_schedule"] is not None:
        overrides["kl_schedule"] = schedules.from_epochs(settings["kl_schedule"], steps_per_epoch, settings["epochs"])
    return zoo.get(model_or_name, **overrides)


def _check_image_shape(name, image_shape, dataset):
    """Refuses a model built for other images than the dataset's (a 28x28 entry on dSprites' 64x64)."""
    expected = DATASETS[dataset].image_shape
    if image_shape != expected:
        raise ValueError(f"{name} takes images of shape {image_shape}, and {dataset}'s are {expected}: train a model "
                         f"built for them (image_shape={expected})")


def _check_out(out, resume):
    """Refuses an output directory that holds a finished run, or an interrupted one without `resume`."""
    backup = out / "backup"
    if out.is_dir():  # put back what a crash interrupted
        recover_directory(backup)
        remove_partial_files(out)
    if backup.exists() and not resume:
        raise FileExistsError(f"{out} holds an interrupted run: resume it (--resume; resume=True in Python), or "
                              "choose another out folder")
    if (out / "model.keras").exists() and not backup.exists():
        raise FileExistsError(f"{out} already holds a trained model.keras; choose another out folder")
    check_destination(out / "preset", True, presets.is_preset, "preset folder")  # the run replaces only a preset


def _make_out(out):
    """Creates the output directory and checks that files can be written in it."""
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "write-test.txt") as tmp:  # fail now, not after hours of training
        Path(tmp).write_text("ok")
    (out / "write-test.txt").unlink()


def _check_free_space(out, model):
    """Refuses to start when `out`'s disk cannot hold what the run writes.

    The run writes the backup (weights and Adam's two moments: 3 copies of the weights, twice while a new
    backup replaces the old), model.keras (3 copies), model.weights.h5 (1), preset/ (1) and figures (under 1 MB).
    """
    weights = sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize for v in model.weights)
    needed = 11 * weights + 2**20
    free = shutil.disk_usage(out).free
    if free < needed:
        raise OSError(f"{out} has {free / 2**20:.1f} MB free; this run writes about {needed / 2**20:.1f} MB "
                      "(backups, model.keras, weights, preset, figures): free some space or choose another out folder")


def _optimizer(settings, steps_per_epoch):
    rate = settings["learning_rate"]
    if settings["schedule"] == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=settings["epochs"] * steps_per_epoch)
    return keras.optimizers.Adam(rate)


def _write(run, name, x_test, y_test):
    """Writes the weights (without the optimizer's state: a third of the size), model.keras, test_metrics.json, the
    preset and the figures, then deletes the backup: a crash before that point resumes from it (and rewrites them)."""
    out, model = run.out, run.model
    inference = type(model).from_config(model.get_config())
    inference.set_weights(model.get_weights())
    with atomic_path(out / recipes.WEIGHTS_FILE) as tmp:
        inference.save_weights(tmp)
    with atomic_path(out / "model.keras") as tmp:
        model.save(tmp)
    metrics = {"model": name, **run.settings, "backend": keras.config.backend(), "replicas": distribution.replicas(),
               **run.test_metrics}
    write_json(out / "test_metrics.json", metrics)
    zoo.save_preset(inference, out / "preset", name=name, metrics=metrics, overwrite=True)
    plots.reconstructions(model, x_test, y_test, n=50, path=out / "reconstructions.png")
    if model.encoder_heads != ("code",):  # an autoencoder has no prior to sample
        plots.samples(model, path=out / "samples.png")
    remove_directory(out / "backup")
