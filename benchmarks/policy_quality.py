"""What a dtype policy costs in training quality: the same zoo model trained and tested under each policy.

    python benchmarks/policy_quality.py --model conv_vae --policies float32,mixed_bfloat16 --epochs 3
    python benchmarks/policy_quality.py --limit 256 --epochs 1                 # seconds: for CI

`throughput.py` says how much faster a policy trains; this says what it does to the loss. For each policy, on
the running Keras backend: the random seed is reset, the zoo model is built under the policy and trained with
`fit` (Adam, the given batch size and epochs) on the entry's training images, then evaluated on its test images.
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
    parser.add_argument("--model", default="conv_vae", help="a zoo entry (trained on its own dataset)")
    parser.add_argument("--policies", type=throughput._list(), default=["float32", "mixed_bfloat16"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="use the first N training and test images (default: all)")
    parser.add_argument("--out", help="path without suffix (default benchmarks/results/<device>-policy-quality)")
    return parser


def train_and_test(name, policy, data, args):
    """Trains zoo model `name` under `policy` on `data` ((x, y), (x_test, y_test)); returns its record."""
    import keras

    from keras_vae import zoo

    (x, y), (x_test, y_test) = data
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(args.seed)
        model = zoo.get(name)
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
        labels = model.num_classes > 0
        start = time.perf_counter()
        history = model.fit(x, y if labels else None, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
        wall = time.perf_counter() - start
        test = model.evaluate(x_test, y_test if labels else None, batch_size=512, verbose=0, return_dict=True)
    finally:
        keras.config.set_dtype_policy("float32")
    return {"policy": policy, "train_wall_s": wall, "train_loss": history.history["loss"],
            "test": {key: float(value) for key, value in test.items()}}


def markdown(report):
    """The policies side by side: training wall time, last training loss and the test loss terms."""
    settings = report["settings"]
    lines = [f"# Training quality by dtype policy on {report['device']}", "", f"`{report['command']}`", "",
             f"{settings['model']} on {report['dataset']}, {report['train_images']:,} training and "
             f"{report['test_images']:,} test images; {settings['epochs']} epochs of batch {settings['batch_size']}, "
             f"Adam {settings['learning_rate']}, seed {settings['seed']}; Keras {report['keras_version']} on "
             f"{report['backend']}. Losses in nats per image.", "",
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

    entry = zoo.entry(args.model)  # an unknown name fails now, with the known ones listed
    (x, y), (x_test, y_test) = data.load(entry.dataset)
    if args.limit:
        x, y, x_test, y_test = x[:args.limit], y[:args.limit], x_test[:args.limit], y_test[:args.limit]
    start = time.perf_counter()
    runs = [train_and_test(args.model, policy, ((x, y), (x_test, y_test)), args) for policy in args.policies]
    report = throughput.report_of("policy_quality.py", argv, vars(args), [], start)
    del report["backends"]  # one backend, this process's: its runs follow
    report.update({"device": throughput.device_name([backends.current().device]), "backend": keras.config.backend(), "keras_version": keras.__version__, "dataset": entry.dataset,
                   "train_images": len(x), "test_images": len(x_test), "runs": runs})
    out = Path(args.out) if args.out else HERE / "results" / (throughput._slug(report["device"]) + "-policy-quality")
    throughput.write_report(out, report, markdown(report))


if __name__ == "__main__":
    main()
