"""What a dtype policy costs in training quality: the same zoo model trained and tested under each policy.

    python benchmarks/policy_quality.py --recipe zoo/conv_vae --policies float32,mixed_bfloat16   # 30 epochs
    python benchmarks/policy_quality.py --model conv_vae --epochs 3
    python benchmarks/policy_quality.py --limit 256 --epochs 1                 # seconds: for CI

`throughput.py` says how much faster a policy trains; this says what it does to the loss. For each policy, on
the running Keras backend: the random seed is reset, the zoo model is built with `dtype=policy` and trained with
`fit` (Adam, the given batch size, epochs and learning-rate schedule, batches ordered by (seed, epoch) as
`keras-vae train` orders them) on the entry's training images, then evaluated on its test images. `--recipe DIR`
takes the model and every training setting from DIR/recipe.json; options given on the command line win.
Writes OUT.json (settings, versions, and per policy the training wall time, the loss of each epoch and the test
loss terms) and OUT.md; OUT defaults to benchmarks/results/<device>-policy-quality.
"""

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import throughput  # noqa: E402


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", metavar="DIR", help="train as DIR/recipe.json says (e.g. zoo/conv_vae)")
    parser.add_argument("--model", help="a zoo entry, trained on its own dataset (default conv_vae)")
    parser.add_argument("--policies", type=throughput._list(), default=["float32", "mixed_bfloat16"])
    parser.add_argument("--epochs", type=int, help="default 3")
    parser.add_argument("--batch-size", type=int, help="default 128")
    parser.add_argument("--learning-rate", type=float, help="default 1e-3")
    parser.add_argument("--schedule", choices=["constant", "cosine"], help="default constant")
    parser.add_argument("--seed", type=int, help="default 0")
    parser.add_argument("--verbose", type=int, choices=[0, 1, 2], default=0, help="fit's progress output")
    parser.add_argument("--limit", type=int, help="use the first N training and test images (default: all)")
    parser.add_argument("--out", help="path without suffix (default benchmarks/results/<device>-policy-quality)")
    return parser


DEFAULTS = {"model": "conv_vae", "epochs": 3, "batch_size": 128, "learning_rate": 1e-3, "schedule": "constant",
            "seed": 0}


def settings_of(args):
    """The run's settings: the command line's, else the recipe's, else `DEFAULTS`."""
    from keras_vae import recipes

    settings = dict(DEFAULTS)
    if args.recipe:
        recipe = recipes.read(args.recipe)
        settings.update({key: value for key, value in recipe["training"].items() if key in DEFAULTS},
                        model=recipe["model"])
    settings.update({key: getattr(args, key) for key in DEFAULTS if getattr(args, key) is not None})
    return settings


def train_and_test(policy, data, settings, verbose=0):
    """Trains the zoo model of `settings` built with `dtype=policy` on `data` ((x, y), (x_test, y_test));
    returns its record."""
    import keras

    from keras_vae import zoo
    from keras_vae.callbacks import DataEpoch
    from keras_vae.data import EpochBatches

    (x, y), (x_test, y_test) = data
    keras.utils.set_random_seed(settings["seed"])
    model = zoo.get(settings["model"], dtype=policy)
    labels = model.num_classes > 0
    batches = EpochBatches(x, y if labels else None, batch_size=settings["batch_size"], seed=settings["seed"])
    rate = settings["learning_rate"]
    if settings["schedule"] == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=settings["epochs"] * len(batches))
    model.compile(optimizer=keras.optimizers.Adam(rate))
    start = time.perf_counter()
    history = model.fit(batches, epochs=settings["epochs"], shuffle=False, verbose=verbose,
                        callbacks=[DataEpoch(batches)])
    wall = time.perf_counter() - start
    test = model.evaluate(x_test, y_test if labels else None, batch_size=500, verbose=0, return_dict=True)
    return {"policy": policy, "train_wall_s": wall, "train_loss": history.history["loss"],
            "test": {key: float(value) for key, value in test.items()}}


def markdown(report):
    """The policies side by side: training wall time, last training loss and the test loss terms."""
    settings = report["training"]
    lines = [f"# Training quality by dtype policy on {report['device']}", "", f"`{report['command']}`", "",
             f"{settings['model']} on {report['dataset']}, {report['train_images']:,} training and "
             f"{report['test_images']:,} test images; {settings['epochs']} epochs of batch {settings['batch_size']}, "
             f"Adam {settings['learning_rate']} ({settings['schedule']} schedule), seed {settings['seed']}; Keras "
             f"{report['keras_version']} on {report['backend']}. Losses in nats per image (test: one posterior sample "
             "per image, seeded).", "",
             "| policy | training s | last training loss | test loss | test reconstruction | test KL |",
             "|---|---|---|---|---|---|"]
    for run in report["runs"]:
        test = run["test"]
        lines.append(f"| {run['policy']} | {run['train_wall_s']:.1f} | {run['train_loss'][-1]:.2f} | "
                     f"{test['loss']:.2f} | {test['reconstruction_loss']:.2f} | {test['kl_loss']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = _parser().parse_args(argv)
    import keras

    import backends
    from keras_vae import data, zoo

    settings = settings_of(args)
    entry = zoo.entry(settings["model"])  # an unknown name fails now, with the known ones listed
    (x, y), (x_test, y_test) = data.load(entry.dataset)
    if args.limit:
        x, y, x_test, y_test = x[:args.limit], y[:args.limit], x_test[:args.limit], y_test[:args.limit]
    start = time.perf_counter()
    runs = [train_and_test(policy, ((x, y), (x_test, y_test)), settings, args.verbose) for policy in args.policies]
    report = throughput.report_of("policy_quality.py", argv, vars(args), [], start)
    del report["backends"]  # one backend, this process's: its runs follow
    report.update({"device": throughput.device_name([backends.current().device]), "backend": keras.config.backend(),
                   "keras_version": keras.__version__, "dataset": entry.dataset, "training": settings, "train_images": len(x), "test_images": len(x_test), "runs": runs})
    out = Path(args.out) if args.out else HERE / "results" / (throughput._slug(report["device"]) + "-policy-quality")
    throughput.write_report(out, report, markdown(report))


if __name__ == "__main__":
    main()
