"""The `keras-vae` command.

    keras-vae list
    keras-vae train conv_vae --epochs 12 --out runs/conv_vae
    keras-vae train conv_vae --epochs 12 --out runs/conv_vae --resume    # after an interruption
    keras-vae train --recipe zoo/conv_vae --out runs/conv_vae            # reproduce a zoo entry
    keras-vae evaluate conv_vae --pretrained --json zoo/conv_vae/metrics.json
    keras-vae export conv_vae exported/conv_vae --pretrained             # TensorFlow SavedModel
    keras-vae plot manifold vae --pretrained --out figures               # the tutorials' figures

`keras-vae list` and `--help` answer without importing keras or a backend: what they show is plain data. The
other commands import keras (`train` and `export` also TensorFlow) once the command line is parsed.

TensorFlow's C++ log lines (such as "I0000 ... cudart_stub.cc:31] Could not find cuda drivers" or "E0000 ...
failed call to cuInit") are kept out of the output: unless TF_CPP_MIN_LOG_LEVEL is set, `main` sets it to 3
(fatal errors only) before anything imports TensorFlow, and drops the lines of lower severity that TensorFlow
writes as it loads, before it reads that level. Set TF_CPP_MIN_LOG_LEVEL=0 to see them all (2: errors too).
"""

import argparse
import contextlib
import importlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from keras_vae import distribution, plots, recipes, zoo
from keras_vae.dataset_specs import BINARIZE_MODES, DATASETS
from keras_vae.files import (atomic_path, check_directory, recover_directory, remove_directory, remove_partial_files,
                             write_json)

#: TensorFlow's C++ log line, as Abseil writes it: severity (I, W, E, F), date, time, thread, file:line]
_NATIVE_LOG_LINE = re.compile(r"([IWEF])\d{4} [\d:.]+ +\d+ \S+:\d+\] ")
#: the line Abseil writes before its first lines when the program never initialised its logging
_NATIVE_LOG_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
#: the errors `main` reports in one line, with exit status 2: bad input, and a diverging run's NonFiniteLossError
#: (a FloatingPointError; keras_vae.callbacks, which defines it, imports keras)
_REPORTED_ERRORS = (ValueError, OSError, NotImplementedError, FloatingPointError)


class _Parser(argparse.ArgumentParser):
    """Exits with status 2 and a one-line message on a bad command line."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _prepare_out(out, resume):
    """Creates the output directory, refusing to overwrite a finished or interrupted run."""
    backup = out / "backup"
    if out.is_dir():  # put back what a crash interrupted
        recover_directory(backup)
        remove_partial_files(out)
    if backup.exists() and not resume:
        raise FileExistsError(f"{out} holds an interrupted run: pass --resume to continue it, or choose another --out")
    if (out / "model.keras").exists() and not backup.exists():
        raise FileExistsError(f"{out} already holds a trained model.keras; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "write-test.txt") as tmp:  # fail now, not after hours of training
        Path(tmp).write_text("ok")
    (out / "write-test.txt").unlink()


def _check_free_space(out, model):
    """Refuses to start when `out`'s disk cannot hold what the run writes.

    The run writes the backup (weights and Adam's two moments: 3 copies of the weights, twice while a new
    backup replaces the old), model.keras (3 copies), model.weights.h5 (1) and figures (under 1 MB).
    """
    import numpy as np

    weights = sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize for v in model.weights)
    needed = 10 * weights + 2**20
    free = shutil.disk_usage(out).free
    if free < needed:
        raise OSError(f"{out} has {free / 2**20:.1f} MB free; this run writes about {needed / 2**20:.1f} MB "
                      "(backups, model.keras, weights, figures): free some space or choose another --out")


def _save_figures(model, x_test, y_test, out):
    plots.reconstructions(model, x_test, y_test, n=50, path=out / "reconstructions.png")
    if model.encoder_heads != ("code",):  # an autoencoder has no prior to sample
        plots.samples(model, path=out / "samples.png")


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
    import keras

    rate = settings["learning_rate"]
    if settings["schedule"] == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=settings["epochs"] * steps_per_epoch)
    return keras.optimizers.Adam(rate)


def train(args):
    """`keras-vae train`: trains a zoo model and writes model.keras, its weights, history.json and figures."""
    with distribution.scope(args.distribute) if args.distribute else contextlib.nullcontext():
        return _train(args)


def _train(args):
    import keras

    from keras_vae import data
    from keras_vae.callbacks import BackupAndRestore, DataEpoch, HistoryWriter, NonFiniteLossError, StopOnNonFiniteLoss

    name, settings = _training_settings(args)
    entry = zoo.entry(name)
    out = Path(args.out or f"runs/{name}")
    check_directory(out, "--out")
    keras.utils.set_random_seed(settings["seed"])
    dataset = settings["dataset"] or entry.dataset
    batch_size = settings["batch_size"]
    (x_train, y_train), (x_test, y_test) = data.load(
        dataset, binarize=settings["binarize"], batch_size=batch_size, seed=settings["seed"])
    distribution.check_batches(batch_size, len(y_train), "--batch-size")  # before anything is written
    distribution.check_batches(batch_size, len(y_test), "--batch-size")
    worker = distribution.worker_index()
    if worker:  # another worker of a multi-worker run: the same steps, its files in a scratch folder
        out = out / f".worker-{worker}"
    _prepare_out(out, args.resume)  # after the data: a run that cannot start leaves no directory
    backup = out / "backup"
    overrides = {"latent_dim": args.latent_dim} if args.latent_dim else {}
    model = zoo.get(name, **overrides)
    _check_free_space(out, model)
    model.compile(optimizer=_optimizer(settings, -(-len(y_train) // batch_size)))
    labelled = bool(model.num_classes)
    batches = x_train if isinstance(x_train, data.EpochBatches) else data.EpochBatches(
        x_train, y_train if labelled else None, batch_size=batch_size, seed=settings["seed"])
    try:
        model.fit(batches, epochs=settings["epochs"], shuffle=False,  # the batches shuffle, by epoch
                  validation_data=(x_test, y_test) if labelled else (x_test,),
                  callbacks=[StopOnNonFiniteLoss(),  # first: a failed epoch reaches no history or backup
                             HistoryWriter(out / "history.json", resume=args.resume),
                             BackupAndRestore(backup, delete_checkpoint=False), DataEpoch(batches)],
                  verbose=args.verbose)
    except NonFiniteLossError as error:
        raise NonFiniteLossError(f"{error}. The last completed epoch's backup is kept in {backup}; a resumed run "
                                 "would repeat the same steps, so start a new --out with other settings") from None
    test = model.evaluate(x_test, y_test if labelled else None, batch_size=batch_size, verbose=0,
                          return_dict=True)
    inference = zoo.get(name, **overrides)  # the weights file holds no optimizer state: a third of the size
    inference.set_weights(model.get_weights())
    with atomic_path(out / recipes.WEIGHTS_FILE) as tmp:
        inference.save_weights(tmp)
    with atomic_path(out / "model.keras") as tmp:
        model.save(tmp)
    write_json(out / "test_metrics.json", {"model": name, **settings, "dataset": dataset,
                                           "backend": keras.config.backend(), "replicas": distribution.replicas(),
                                           **{k: float(v) for k, v in test.items()}})
    _save_figures(model, x_test, y_test, out)
    remove_directory(backup)  # only now: a crash before this point resumes from it
    if worker:
        shutil.rmtree(out)
        return 0
    terms = ", ".join(f"{k} {float(v):.2f}" for k, v in test.items())
    print(f"{name}: test {terms}; wrote {out}/model.keras, {recipes.WEIGHTS_FILE}, history.json, "
          "test_metrics.json and figures")
    return 0


def _trained_model(args):
    """The model named on the command line, with the zoo's weights or those of a file."""
    if not (args.pretrained or args.weights):
        raise ValueError("pass --pretrained (the zoo's weights) or --weights FILE")
    if args.pretrained:
        return zoo.get(args.name, pretrained=True)
    path = Path(args.weights)
    if path.is_dir():  # zoo's loaders check files further, once the suffix has chosen one
        raise IsADirectoryError(f"--weights {path} is a directory, not a .weights.h5 or .keras file")
    if path.name.endswith(".keras"):
        return zoo.load_model(path, args.name)  # safe_mode=True; checks the class
    if not path.name.endswith(".weights.h5"):
        raise ValueError(f"--weights must be a .weights.h5 or .keras file, got {path}")
    model = zoo.get(args.name)
    zoo.load_weights(model, path, repr(args.name))
    return model


def evaluate(args):
    """`keras-vae evaluate`: test ELBO, per-pixel error, IWAE NLL and (CVAE) class accuracy, as JSON."""
    from keras_vae.evaluate import report

    if args.json:
        check_directory(Path(args.json).parent, "--json")
    model = _trained_model(args)
    result = report(model, dataset=args.dataset or zoo.entry(args.name).dataset, k=args.k, limit=args.limit,
                    seed=args.seed, classifier_images=args.classifier_images)
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


def _numbers(count, kind=float):
    """An argparse type for `count` comma-separated numbers: "-3,3,-3,3,0.25" -> (-3.0, 3.0, -3.0, 3.0, 0.25)."""

    def parse(text):
        try:
            values = tuple(kind(part) for part in text.split(","))
        except ValueError:
            values = ()
        if len(values) != count:
            raise argparse.ArgumentTypeError(f"expected {count} comma-separated {kind.__name__}s, got {text!r}")
        return values

    return parse


def _manifold_range(model, images, labels):
    """The prior's central +-3 for a VAE; for an autoencoder, which has no prior, the box of its codes."""
    from keras_vae.plots import encodings

    if model.encoder_heads != ("code",):
        return -3.0, 3.0, -3.0, 3.0, 0.25
    x0, x1, y0, y1 = encodings.central_box(encodings.codes(model, images, labels)[:, :2])
    least = max(x1 - x0, y1 - y0) / 24  # about 25 tiles along the longer side, at a round step
    step = min(m * 10 ** math.floor(math.log10(least)) for m in (1, 2, 2.5, 5, 10)
               if m * 10 ** math.floor(math.log10(least)) >= least)
    return (math.floor(x0 / step) * step, math.ceil(x1 / step) * step, math.floor(y0 / step) * step,
            math.ceil(y1 / step) * step, step)


def _figure(args, model, images, labels, class_names, gif):
    """Draws the figure `args.kind` of `model` over the test images."""
    kind = args.kind
    if kind in ("latent_scatter", "class_means"):
        return getattr(plots, kind)(model, images, labels, class_names=class_names)
    if kind == "latent_histograms":
        return plots.latent_histograms(model, images, labels, dims=args.dims, class_names=class_names)
    if kind == "reconstructions":
        return plots.reconstructions(model, images, labels, n=args.n or 20)
    if kind == "samples":
        return plots.samples(model, n=args.n or 100, seed=args.seed, class_names=class_names)
    if kind == "manifold":
        x0, x1, y0, y1, step = args.range or _manifold_range(model, images, labels)
        return plots.manifold(model, (x0, x1), (y0, y1), step, dims=args.dims or (0, 1),
                              label=args.label if model.num_classes else None)
    if kind == "interpolation":
        start, end = args.between
        return plots.interpolation(model, images, labels, start, end, steps=args.n or 10,
                                   class_names=class_names, gif=gif)
    from keras_vae import data
    from keras_vae.evaluate import train_classifier

    ae = zoo.get("ae", pretrained=True)
    plots.comparison.check_pair(ae, model)  # before the classifier's training, not after
    (x_train, y_train), _ = data.load(zoo.entry(args.name).dataset)
    classifier = train_classifier(x_train[:args.classifier_images], y_train[:args.classifier_images], seed=args.seed)
    return plots.ae_vs_vae(ae, model, images, labels, classifier, names=("ae", args.name),
                           class_names=class_names)


def _history(args):
    """training_curves' history file: --history, else the history.json beside --weights."""
    if args.history:
        return Path(args.history)
    if args.weights:
        return Path(args.weights).parent / "history.json"
    raise ValueError("training_curves needs --history FILE (the history.json of `keras-vae train`), "
                     "or --weights FILE of a run directory that holds one")


def plot(args):
    """`keras-vae plot`: draws one of the tutorials' figures of a trained model as OUT/NAME-KIND.png."""
    from keras_vae import data

    check_directory(Path(args.out), "--out")
    target = Path(args.out) / f"{args.name}-{args.kind}.png"
    gif = target.with_suffix(".gif") if args.kind == "interpolation" else None
    if args.kind == "training_curves":
        zoo.entry(args.name)
        history = _history(args)
        figure, source = plots.training_curves(history), str(history)
    else:
        entry = zoo.entry(args.name)
        model = _trained_model(args)
        _, (images, labels) = data.load(entry.dataset)
        figure = _figure(args, model, images[:args.limit], labels[:args.limit],
                         DATASETS[entry.dataset].class_names, gif)
        source = "pretrained weights" if args.pretrained else str(args.weights)
    figure.suptitle(f"{args.name} ({source})" + (f": {figure.get_suptitle()}" if figure.get_suptitle() else ""))
    target.parent.mkdir(parents=True, exist_ok=True)
    plots.save(figure, target)
    print(f"wrote {target}" + (f" and {gif}" if gif else ""))
    return 0


def list_models(args):
    """`keras-vae list`: one line per zoo entry, the descriptions in one column; it imports no backend."""
    width = max(map(len, zoo.CATALOG))
    for name, listing in sorted(zoo.CATALOG.items()):
        print(f"{name:<{width}}  {listing['description']}")
    return 0


def _parser():
    """The command line's parser: each command's defaults name its function (`func`) and the modules it imports
    before it runs (`imports`)."""
    parser = _Parser(prog="keras-vae", description="A Keras 3 model zoo of autoencoders for images.",
                     epilog="TensorFlow's C++ log lines are hidden: keras-vae sets TF_CPP_MIN_LOG_LEVEL=3 unless "
                            "it is set. Run with TF_CPP_MIN_LOG_LEVEL=0 to see them all (2: errors too).")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands.add_parser("list", help="list the zoo's models").set_defaults(func=list_models, imports=())
    command = commands.add_parser("train", help="train a zoo model")
    command.add_argument("name", nargs="?", help="a model from `keras-vae list` (or give --recipe)")
    command.add_argument("--recipe", metavar="DIR", help="train with the settings of DIR/recipe.json, e.g. zoo/vae")
    command.add_argument("--dataset", choices=sorted(DATASETS), help="default: the entry's dataset")
    command.add_argument("--binarize", choices=[mode for mode in BINARIZE_MODES if mode],
                         help="binarise the pixels (default: none)")
    defaults = recipes.TRAINING_DEFAULTS
    command.add_argument("--epochs", type=_positive_int, help=f"default {defaults['epochs']}")
    command.add_argument("--batch-size", type=_positive_int, help=f"default {defaults['batch_size']}")
    command.add_argument("--learning-rate", type=_positive_float, help=f"default {defaults['learning_rate']}")
    command.add_argument("--schedule", choices=recipes.SCHEDULES, help="learning-rate schedule (default constant)")
    command.add_argument("--latent-dim", type=_positive_int)
    command.add_argument("--seed", type=int, help=f"default {defaults['seed']}")
    command.add_argument("--out", help="output directory (default: runs/NAME)")
    command.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    command.add_argument("--distribute", choices=distribution.MODES,
                         help="split each batch across devices (see README, 'Training on several devices')")
    command.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1, help="Keras progress output")
    command.set_defaults(func=train, imports=("keras", "tensorflow"))  # Keras saves .keras files with TensorFlow

    command = commands.add_parser("evaluate", help="measure a trained model on the test set")
    _add_model_arguments(command)
    command.add_argument("--dataset", choices=sorted(DATASETS), help="default: the entry's dataset")
    command.add_argument("--k", type=_positive_int, default=5000, help="importance samples of the NLL bound")
    command.add_argument("--limit", type=_positive_int, help="use the first N test images (default: all)")
    command.add_argument("--classifier-images", type=_positive_int,
                         help="conditional models: train the digit classifier on the first N training images "
                              "(default: all)")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--json", metavar="FILE", help="also write the results to FILE")
    command.set_defaults(func=evaluate, imports=("keras",))

    command = commands.add_parser("export", help="export a trained model as a TensorFlow SavedModel")
    _add_model_arguments(command)
    command.add_argument("out", help="the SavedModel directory to write")
    command.add_argument("--overwrite", action="store_true", help="replace an existing export at OUT")
    command.set_defaults(func=export, imports=("keras", "tensorflow"))

    command = commands.add_parser("plot", help="draw one of the tutorials' figures of a trained model")
    command.add_argument("kind", choices=plots.KINDS, help="the figure")
    _add_model_arguments(command, required=False)
    command.add_argument("--out", required=True, help="directory for NAME-KIND.png (and .gif)")
    command.add_argument("--limit", type=_positive_int, default=10_000, help="test images used (default all)")
    command.add_argument("--range", type=_numbers(5), metavar="X0,X1,Y0,Y1,STEP",
                         help="manifold: latent range and step, e.g. --range=-2,2,-2,2,0.2 (default: "
                              "-3,3,-3,3,0.25; for the AE, the box of its codes)")
    command.add_argument("--dims", type=_numbers(2, int), metavar="I,J",
                         help="manifold, latent_histograms: the latent coordinates shown")
    command.add_argument("--label", type=int, default=0, help="manifold of a conditional model: the class")
    command.add_argument("--between", type=_numbers(2, int), default=(3, 8), metavar="A,B",
                         help="interpolation: from class A to class B (default 3,8)")
    command.add_argument("--n", type=_positive_int, help="images: samples (100), reconstructions (20), "
                                                        "interpolation steps (10)")
    command.add_argument("--seed", type=int, default=0, help="samples, ae_vs_vae's classifier")
    command.add_argument("--classifier-images", type=_positive_int, default=60_000,
                         help="ae_vs_vae: training images of its digit classifier")
    command.add_argument("--history", metavar="FILE", help="training_curves: a history.json of `keras-vae train`")
    command.set_defaults(func=plot, imports=("keras",))
    return parser


def _add_model_arguments(command, required=True):
    command.add_argument("name", help="a model from `keras-vae list`")
    weights = command.add_mutually_exclusive_group(required=required)
    weights.add_argument("--pretrained", action="store_true", help="the zoo's own trained weights")
    weights.add_argument("--weights", metavar="FILE", help="a .weights.h5 or .keras file of this model")


def _min_log_level():
    """TF_CPP_MIN_LOG_LEVEL as a number: 0 (every line) to 3 (fatal errors only); 0 when unset or not a number."""
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")
    return int(level) if level.isdigit() else 0


def _shown(line, level):
    """Whether a line written to stderr while TensorFlow loads is kept at TF_CPP_MIN_LOG_LEVEL `level`."""
    native = _NATIVE_LOG_LINE.match(line)
    if native:
        return "IWEF".index(native[1]) >= level
    return not (level and line.startswith(_NATIVE_LOG_NOTICE))


def _import_quietly(modules):
    """Imports `modules`, dropping the C++ log lines that TensorFlow writes below TF_CPP_MIN_LOG_LEVEL as it loads.

    TensorFlow's libraries log some lines (no CUDA driver, ...) straight to file descriptor 2 before they read
    TF_CPP_MIN_LOG_LEVEL, once per library: what reaches the descriptor meanwhile is captured, then written back
    but for those lines.

    Args:
        modules: names of the modules to import, e.g. `("keras",)`.
    """
    level = _min_log_level()
    sys.stderr.flush()
    stderr = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            for module in modules:
                importlib.import_module(module)
        finally:
            sys.stderr.flush()
            os.dup2(stderr, 2)
            os.close(stderr)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.writelines(line for line in lines if _shown(line, level))


def main(argv=None):
    """Entry point of `keras-vae`: runs one command and returns the exit status (2: bad input, said in one line).

    Args:
        argv: the arguments after `keras-vae` (default: the process's own).

    Example:
        >>> main(["train", "conv_vae", "--epochs", "12", "--out", "runs/conv_vae"])
        0
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before anything imports TensorFlow
    args = _parser().parse_args(argv)
    _import_quietly(args.imports)
    try:
        return args.func(args)
    except _REPORTED_ERRORS as error:
        print(f"keras-vae: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
