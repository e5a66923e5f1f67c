"""The `keras-vae` command.

    keras-vae list
    keras-vae train conv_vae --epochs 12 --out runs/conv_vae
    keras-vae train conv_vae --epochs 12 --out runs/conv_vae --resume    # after an interruption
    keras-vae train --recipe zoo/conv_vae --out runs/conv_vae            # reproduce a zoo entry
    keras-vae evaluate conv_vae --pretrained --json zoo/conv_vae/metrics.json
    keras-vae export conv_vae exported/conv_vae --pretrained             # TensorFlow SavedModel
"""

import argparse
import json
import sys
from pathlib import Path

import keras
import numpy as np

from keras_vae import data, recipes, zoo
from keras_vae import evaluate as evaluation
from keras_vae.files import atomic_path, write_json


class _Parser(argparse.ArgumentParser):
    """Exits with status 2 and a one-line message on a bad command line."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


class HistoryWriter(keras.callbacks.Callback):
    """Writes the per-epoch logs to a JSON file after every epoch, keeping a resumed run's earlier epochs.

    Args:
        path: the JSON file; on a resumed run its first `initial_epoch` epochs are kept.
        resume: whether to continue the history already in `path`.
    """

    def __init__(self, path, resume=False):
        super().__init__()
        self.path = Path(path)
        self.history = json.loads(self.path.read_text()) if resume and self.path.exists() else {}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history[key] = self.history.get(key, [])[:epoch] + [float(value)]
        write_json(self.path, self.history)


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _prepare_out(out, resume):
    """Creates the output directory, refusing to overwrite a finished or interrupted run."""
    backup = out / "backup"
    if backup.exists() and not resume:
        raise FileExistsError(f"{out} holds an interrupted run: pass --resume to continue it, or choose another --out")
    if (out / "model.keras").exists() and not backup.exists():
        raise FileExistsError(f"{out} already holds a trained model.keras; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "write-test.txt") as tmp:  # fail now, not after hours of training
        Path(tmp).write_text("ok")
    (out / "write-test.txt").unlink()


def _save_figures(model, x_test, y_test, out):
    from keras_vae.plots import image_grid

    labels = y_test[:50] if model.num_classes else None
    pairs = np.concatenate([x_test[:50].reshape(5, 10, *x_test.shape[1:]),
                            keras.ops.convert_to_numpy(model.reconstruct(x_test[:50], labels)).reshape(
                                5, 10, *x_test.shape[1:])], axis=1)
    image_grid(pairs.reshape(-1, *x_test.shape[1:]), title="test images (odd rows) and reconstructions",
               path=out / "reconstructions.png")
    if model.encoder_heads == ("code",):
        return  # an autoencoder has no prior to sample
    labels = np.repeat(np.arange(model.num_classes), 10) if model.num_classes else None
    samples = model.sample(10 * (model.num_classes or 10), seed=0, labels=labels)
    image_grid(keras.ops.convert_to_numpy(samples),
               title="samples, one row per class" if model.num_classes else "samples from the prior",
               path=out / "samples.png")


def _training_settings(args):
    """The run's name and settings: the command line's, else the recipe's, else the defaults."""
    recipe = recipes.read(args.recipe) if args.recipe else {"model": None, "training": {}}
    name = args.name or recipe["model"]
    if name is None:
        raise ValueError("name a model (see `keras-vae list`) or pass --recipe DIR")
    if args.recipe and args.name and args.name != recipe["model"]:
        raise ValueError(f"--recipe {args.recipe} trains {recipe['model']!r}, not {args.name!r}")
    settings = {**recipes.TRAINING_DEFAULTS, **recipe["training"]}
    settings.update({key: getattr(args, key) for key in recipes.TRAINING_DEFAULTS if getattr(args, key) is not None})
    return name, settings


def _optimizer(settings, steps_per_epoch):
    rate = settings["learning_rate"]
    if settings["schedule"] == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=settings["epochs"] * steps_per_epoch)
    return keras.optimizers.Adam(rate)


def train(args):
    """`keras-vae train`: trains a zoo model and writes model.keras, its weights, history.json and figures."""
    name, settings = _training_settings(args)
    entry = zoo.entry(name)
    out = Path(args.out or f"runs/{name}")
    _prepare_out(out, args.resume)
    keras.utils.set_random_seed(settings["seed"])
    dataset = settings["dataset"] or entry.dataset
    batch_size = settings["batch_size"]
    (x_train, y_train), (x_test, y_test) = data.load(
        dataset, binarize=settings["binarize"], batch_size=batch_size, seed=settings["seed"])
    overrides = {"latent_dim": args.latent_dim} if args.latent_dim else {}
    model = zoo.get(name, **overrides)
    model.compile(optimizer=_optimizer(settings, -(-len(y_train) // batch_size)))
    labelled = bool(model.num_classes)
    in_memory = isinstance(x_train, np.ndarray)
    model.fit(
        x_train, y_train if labelled and in_memory else None,
        epochs=settings["epochs"], batch_size=batch_size if in_memory else None,
        validation_data=(x_test, y_test) if labelled else (x_test,),
        callbacks=[keras.callbacks.BackupAndRestore(str(out / "backup")),
                   HistoryWriter(out / "history.json", resume=args.resume)],
        verbose=args.verbose,
    )
    test = model.evaluate(x_test, y_test if labelled else None, batch_size=batch_size, verbose=0,
                          return_dict=True)
    inference = zoo.get(name, **overrides)  # the weights file holds no optimizer state: a third of the size
    inference.set_weights(model.get_weights())
    with atomic_path(out / recipes.WEIGHTS_FILE) as tmp:
        inference.save_weights(tmp)
    with atomic_path(out / "model.keras") as tmp:
        model.save(tmp)
    write_json(out / "test_metrics.json", {"model": name, **settings, "dataset": dataset,
                                           "backend": keras.config.backend(),
                                           **{k: float(v) for k, v in test.items()}})
    _save_figures(model, x_test, y_test, out)
    terms = ", ".join(f"{k} {float(v):.2f}" for k, v in test.items())
    print(f"{name}: test {terms}; wrote {out}/model.keras, {recipes.WEIGHTS_FILE}, history.json, "
          "test_metrics.json and figures")
    return 0


def _trained_model(args):
    """The model named on the command line, with the zoo's weights or those of a file."""
    if args.pretrained:
        return zoo.get(args.name, pretrained=True)
    path = Path(args.weights)
    if not path.is_file():
        raise FileNotFoundError(f"--weights {path}: no such file")
    if path.name.endswith(".keras"):
        model = keras.saving.load_model(path, safe_mode=True)
        expected = zoo.entry(args.name).model_class
        if type(model) is not expected:
            raise ValueError(f"{path} holds a {type(model).__name__}, not the {expected.__name__} of {args.name!r}")
        return model
    if not path.name.endswith(".weights.h5"):
        raise ValueError(f"--weights must be a .weights.h5 or .keras file, got {path}")
    model = zoo.get(args.name)
    zoo.load_weights(model, path, repr(args.name))
    return model


def evaluate(args):
    """`keras-vae evaluate`: test ELBO, per-pixel error, IWAE NLL and (CVAE) class accuracy, as JSON."""
    model = _trained_model(args)
    result = evaluation.report(model, dataset=args.dataset or zoo.entry(args.name).dataset, k=args.k,
                               limit=args.limit, seed=args.seed)
    result = {**result, "model": args.name, "weights": "pretrained" if args.pretrained else str(args.weights)}
    if args.json:
        write_json(args.json, result)
    print(json.dumps(result, indent=2))
    return 0


def export(args):
    """`keras-vae export`: writes a TensorFlow SavedModel with encode/decode/reconstruct/sample signatures."""
    from keras_vae.export import export_saved_model

    export_saved_model(_trained_model(args), args.out, overwrite=args.overwrite)
    print(f"wrote the SavedModel of {args.name} to {args.out}")
    return 0


def list_models(args):
    """`keras-vae list`: one line per zoo entry."""
    for name in zoo.list_models():
        print(f"{name:14s} {zoo.entry(name).description}")
    return 0


def _parser():
    parser = _Parser(prog="keras-vae", description="A Keras 3 model zoo of autoencoders for images.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands.add_parser("list", help="list the zoo's models").set_defaults(func=list_models)
    command = commands.add_parser("train", help="train a zoo model")
    command.add_argument("name", nargs="?", help="a model from `keras-vae list` (or give --recipe)")
    command.add_argument("--recipe", metavar="DIR", help="train with the settings of DIR/recipe.json, e.g. zoo/vae")
    command.add_argument("--dataset", choices=sorted(data.DATASETS), help="default: the entry's dataset")
    command.add_argument("--binarize", choices=["static", "dynamic"], help="binarise the pixels (default: none)")
    defaults = recipes.TRAINING_DEFAULTS
    command.add_argument("--epochs", type=_positive_int, help=f"default {defaults['epochs']}")
    command.add_argument("--batch-size", type=_positive_int, help=f"default {defaults['batch_size']}")
    command.add_argument("--learning-rate", type=_positive_float, help=f"default {defaults['learning_rate']}")
    command.add_argument("--schedule", choices=recipes.SCHEDULES, help="learning-rate schedule (default constant)")
    command.add_argument("--latent-dim", type=_positive_int)
    command.add_argument("--seed", type=int, help=f"default {defaults['seed']}")
    command.add_argument("--out", help="output directory (default: runs/NAME)")
    command.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    command.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1, help="Keras progress output")
    command.set_defaults(func=train)

    command = commands.add_parser("evaluate", help="measure a trained model on the test set")
    _add_model_arguments(command)
    command.add_argument("--dataset", choices=sorted(data.DATASETS), help="default: the entry's dataset")
    command.add_argument("--k", type=_positive_int, default=5000, help="importance samples of the NLL bound")
    command.add_argument("--limit", type=_positive_int, help="use the first N test images (default: all)")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--json", metavar="FILE", help="also write the results to FILE")
    command.set_defaults(func=evaluate)

    command = commands.add_parser("export", help="export a trained model as a TensorFlow SavedModel")
    _add_model_arguments(command)
    command.add_argument("out", help="the SavedModel directory to write")
    command.add_argument("--overwrite", action="store_true", help="replace an existing export at OUT")
    command.set_defaults(func=export)
    return parser


def _add_model_arguments(command):
    command.add_argument("name", help="a model from `keras-vae list`")
    weights = command.add_mutually_exclusive_group(required=True)
    weights.add_argument("--pretrained", action="store_true", help="the zoo's own trained weights")
    weights.add_argument("--weights", metavar="FILE", help="a .weights.h5 or .keras file of this model")


def main(argv=None):
    """Entry point of `keras-vae`; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError, NotImplementedError) as error:
        print(f"keras-vae: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
