"""The `keras-vae` command.

    keras-vae list
    keras-vae train conv_vae --epochs 12 --out runs/conv_vae
    keras-vae train conv_vae --epochs 12 --out runs/conv_vae --resume    # after an interruption
    keras-vae train --recipe zoo/conv_vae --out runs/conv_vae            # reproduce a zoo entry
    keras-vae evaluate conv_vae --pretrained --json zoo/conv_vae/metrics.json
    keras-vae export conv_vae exported/conv_vae --pretrained             # TensorFlow SavedModel
    keras-vae export conv_vae exported/conv_vae.tflite --pretrained --format litert   # or --format onnx
    keras-vae plot manifold vae --pretrained --out figures               # the tutorials' figures

`keras-vae list` and `--help` answer without importing keras or a backend: what they show is plain data. The
other commands import keras (`train` and `export` also TensorFlow) once the command line is parsed.

TensorFlow's C++ log lines (such as "I0000 ... cudart_stub.cc:31] Could not find cuda drivers" or "E0000 ...
failed call to cuInit") are kept out of the output: unless TF_CPP_MIN_LOG_LEVEL is set, `main` sets it to 3
(fatal errors only) before anything imports TensorFlow, and drops the lines of lower severity that TensorFlow
writes as it loads, before it reads that level. Set TF_CPP_MIN_LOG_LEVEL=0 to see them all (2: errors too).
"""

import argparse
import importlib
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path

from keras_vae import distribution, plots, recipes, zoo
from keras_vae.dataset_specs import BINARIZE_MODES, DATASETS
from keras_vae.files import check_directory, write_json

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


def train(args):
    """`keras-vae train`: `keras_vae.train` with the command line's settings, writing to --out (default runs/NAME)."""
    from keras_vae.training import SETTINGS, train as train_run

    name = args.name or (recipes.read(args.recipe)["model"] if args.recipe else None)
    args.kl_schedule = ({"warmup_epochs": args.kl_warmup} if args.kl_warmup else
                        {"cycles": args.kl_cycles} if args.kl_cycles else None)
    run = train_run(name, out=args.out or (name and f"runs/{name}"), recipe=args.recipe, resume=args.resume,
                    distribute=args.distribute, tensorboard=args.tensorboard, verbose=args.verbose,
                    **{key: getattr(args, key) for key in SETTINGS})
    if run.out is not None:  # None: another worker of a multi-worker run
        names = sorted(run.test_metrics, key=lambda key: (key != "loss", key))
        terms = ", ".join(f"{key} {run.test_metrics[key]:.2f}" for key in names)
        print(f"{name}: test {terms}; wrote {run.out}/model.keras, {recipes.WEIGHTS_FILE}, history.json, "
              "test_metrics.json, figures and preset/")
    return 0


def _trained_model(args):
    """The model named on the command line, with the zoo's weights or those of a file."""
    if not (args.pretrained or args.weights):
        raise ValueError("pass --pretrained (the zoo's weights) or --weights FILE")
    return zoo.get(args.name, pretrained=args.pretrained, weights=args.weights)


def evaluate(args):
    """`keras-vae evaluate`: test ELBO, per-pixel error, IWAE NLL, (CVAE) class accuracy, (VQ-VAE) codebook use,
    prior bits per code and recognised samples, as JSON."""
    from keras_vae.evaluate import report

    if args.json:
        check_directory(Path(args.json).parent, "--json")
    model = _trained_model(args)
    result = report(model, dataset=args.dataset or zoo.entry(args.name).dataset, k=args.k, limit=args.limit,
                    seed=args.seed, classifier_images=args.classifier_images, recognised=args.recognised)
    result = {**result, "model": args.name, "weights": "pretrained" if args.pretrained else str(args.weights)}
    if args.json:
        write_json(args.json, result)
    print(json.dumps(result, indent=2))
    return 0


def export(args):
    """`keras-vae export`: writes a SavedModel, ONNX files or a LiteRT file with the encode/decode/reconstruct
    endpoints (keras_vae.export)."""
    from keras_vae.export import export as write_export

    write_export(_trained_model(args), args.out, format=args.format, overwrite=args.overwrite)
    print(f"wrote the {args.format} export of {args.name} to {args.out}")
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
    from keras_vae.evaluate import train_classifier

    check_directory(Path(args.out), "--out")
    target = Path(args.out) / f"{args.name}-{args.kind}.png"
    gif = target.with_suffix(".gif") if args.kind == "interpolation" else None
    entry = zoo.entry(args.name)
    options = {"dims": args.dims, "box": args.range, "label": args.label, "between": args.between, "n": args.n,
               "seed": args.seed, "gif": gif, "class_names": DATASETS[entry.dataset].class_names}
    if args.kind == "training_curves":
        options["history"] = source = _history(args)
        figure = plots.draw(args.kind, **options)
    else:
        model = _trained_model(args)
        plots.check_kind(args.kind, model)  # before the data and ae_vs_vae's classifier, not after
        source = "pretrained weights" if args.pretrained else args.weights
        (x_train, y_train), (images, labels) = data.load_splits(entry.dataset)
        if args.kind == "ae_vs_vae":
            options["ae"] = zoo.get("ae", pretrained=True)
            plots.comparison.check_pair(options["ae"], model)  # before the classifier's training, not after
            options["classifier"] = train_classifier(x_train[:args.classifier_images],
                                                     y_train[:args.classifier_images], seed=args.seed)
            options["names"] = ("ae", args.name)
        figure = plots.draw(args.kind, model, images[:args.limit], labels[:args.limit], **options)
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
    command.add_argument("--steps-per-epoch", type=_positive_int,
                         help="batches per epoch, each epoch a fresh order (default: every batch once)")
    command.add_argument("--prior-epochs", type=_positive_int,
                         help="epochs of a learned prior (a VQ-VAE's PixelCNN), after the model's (default: --epochs)")
    annealing = command.add_mutually_exclusive_group()
    annealing.add_argument("--kl-warmup", type=_positive_int, metavar="EPOCHS",
                           help="a VAE's KL weight rises linearly from 0 to beta over EPOCHS epochs")
    annealing.add_argument("--kl-cycles", type=_positive_int, metavar="M",
                           help="cyclical KL annealing: M cycles over the run, each rising over its first half")
    command.add_argument("--latent-dim", type=_positive_int)
    command.add_argument("--seed", type=int, help=f"default {defaults['seed']}")
    command.add_argument("--out", help="output directory (default: runs/NAME)")
    command.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    command.add_argument("--tensorboard", metavar="DIR", help="also write TensorBoard logs to DIR: loss terms, "
                                                              "reconstructions and samples per epoch")
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
                         help="conditional models and --recognised: train the digit classifier on the first N "
                              "training images (default: all)")
    command.add_argument("--recognised", action="store_true",
                         help="also the share of 1,000 samples the classifier recognises with 90%% confidence "
                              "(always measured for a VQ-VAE)")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--json", metavar="FILE", help="also write the results to FILE")
    command.set_defaults(func=evaluate, imports=("keras",))

    command = commands.add_parser("export", help="export a trained model as a SavedModel, ONNX or LiteRT")
    _add_model_arguments(command)
    command.add_argument("out", help="the directory to write (litert: the .tflite file)")
    command.add_argument("--format", choices=("saved_model", "onnx", "litert"), default="saved_model",
                         help="saved_model (TensorFlow), onnx (onnxruntime) or litert (ai-edge-litert); "
                              "default saved_model")
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
                                                        "interpolation steps (10), codebook_usage's decoded codes (8)")
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
