"""The `keras-vae` command.

    keras-vae list
    keras-vae train conv_vae --epochs 12 --out runs/conv_vae
    keras-vae train conv_vae --epochs 12 --out runs/conv_vae --resume    # after an interruption
"""

import argparse
import json
import sys
from pathlib import Path

import keras
import numpy as np

from keras_vae import data, zoo
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


def train(args):
    """`keras-vae train`: trains a zoo model and writes model.keras, history.json and figures."""
    out = Path(args.out or f"runs/{args.name}")
    entry = zoo.entry(args.name)
    _prepare_out(out, args.resume)
    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = data.load(
        args.dataset or entry.dataset, binarize=args.binarize, batch_size=args.batch_size, seed=args.seed)
    model = zoo.get(args.name, **({"latent_dim": args.latent_dim} if args.latent_dim else {}))
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    labelled = bool(model.num_classes)
    in_memory = isinstance(x_train, np.ndarray)
    model.fit(
        x_train, y_train if labelled and in_memory else None,
        epochs=args.epochs, batch_size=args.batch_size if in_memory else None,
        validation_data=(x_test, y_test) if labelled else (x_test,),
        callbacks=[keras.callbacks.BackupAndRestore(str(out / "backup")),
                   HistoryWriter(out / "history.json", resume=args.resume)],
        verbose=args.verbose,
    )
    test = model.evaluate(x_test, y_test if labelled else None, batch_size=args.batch_size, verbose=0,
                          return_dict=True)
    with atomic_path(out / "model.keras") as tmp:
        model.save(tmp)
    write_json(out / "test_metrics.json", {"model": args.name, "dataset": args.dataset or entry.dataset,
                                           "binarize": args.binarize, "epochs": args.epochs,
                                           "batch_size": args.batch_size, "seed": args.seed,
                                           "backend": keras.config.backend(),
                                           **{k: float(v) for k, v in test.items()}})
    _save_figures(model, x_test, y_test, out)
    terms = ", ".join(f"{k} {float(v):.2f}" for k, v in test.items())
    print(f"{args.name}: test {terms}; wrote {out}/model.keras, history.json, test_metrics.json and figures")
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
    command.add_argument("name", help="a model from `keras-vae list`")
    command.add_argument("--dataset", choices=sorted(data.DATASETS), help="default: the entry's dataset")
    command.add_argument("--binarize", choices=["static", "dynamic"], help="binarise the pixels (default: none)")
    command.add_argument("--epochs", type=_positive_int, default=12)
    command.add_argument("--batch-size", type=_positive_int, default=32)
    command.add_argument("--learning-rate", type=_positive_float, default=1e-3)
    command.add_argument("--latent-dim", type=_positive_int)
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--out", help="output directory (default: runs/NAME)")
    command.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    command.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1, help="Keras progress output")
    command.set_defaults(func=train)
    return parser


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
