"""What `keras-vae train`'s safety net costs per epoch: its `fit`, with the four callbacks, against plain `fit`.

    python benchmarks/safe_fit.py                                    # vae, batch 128, tensorflow, jax and torch
    python benchmarks/safe_fit.py --backends tensorflow,jax --rounds 20
    python benchmarks/safe_fit.py --quick --backends jax             # seconds: for CI

`keras-vae train` fits on `keras_vae.data.EpochBatches` (batches that a resumed run repeats) with the callbacks of
`keras_vae.callbacks`: `StopOnNonFiniteLoss`, `HistoryWriter`, `BackupAndRestore` (a backup written after every
epoch) and `DataEpoch`. Per backend (each in its own subprocess), the zoo model trains on the same random images
in three ways, each with its own model: `fit` on NumPy arrays, as a user would call it (`model.fit(x,
batch_size=...)`); `fit` on `EpochBatches`; and the command's `fit`: `EpochBatches` and the four callbacks, made as
the command makes them, in a fresh run directory. Each way is warmed up with one epoch; then the three take turns,
`--rounds` rounds of `--epochs` epochs each, so that a busy machine slows them alike and each round compares epochs
run close together. An epoch is timed from its `on_epoch_begin` to the next one's (the last to `on_train_end`), so
it includes every callback's epoch-end work (the backup, the history file); no validation runs in any way.

Reported per way, on the wall clock (what a user waits) and in the process's CPU time (which other processes on a
shared machine disturb less): the median seconds per epoch and the spread ((max - min) / median); and the
overhead: the ratio of the command's median epoch to plain `fit`'s, less one, and the same ratio within each
round, with its median (less sensitive to a load that changes during the run). Writes OUT.json (settings, versions, every epoch's time)
and OUT.md; OUT defaults to benchmarks/results/<device>-safe-fit.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import throughput  # noqa: E402

WAYS = {"arrays": "fit on arrays", "epoch_batches": "fit on EpochBatches", "train_command": "keras-vae train's fit"}
QUICK = {"images": 512, "epochs": 2, "rounds": 2}
#: wall-clock seconds, which a user waits, and the process's CPU seconds, which other processes disturb less
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK}: for CI")
    parser.add_argument("--model", default="vae", help="a zoo entry")
    parser.add_argument("--backends", type=throughput._list(), default=list(throughput.BACKENDS))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--images", type=int, default=60_000, help="images per epoch (MNIST's training set: 60,000)")
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per way and round")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--out", help="path without suffix (default benchmarks/results/<device>-safe-fit)")
    parser.add_argument("--worker", nargs=2, metavar=("SETTINGS", "RESULTS"), help=argparse.SUPPRESS)
    return parser


def _compiled(name):
    """A fresh zoo model `name`, compiled with Adam as `keras-vae train` compiles it."""
    import keras

    from keras_vae import zoo

    model = zoo.get(name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def _ways(settings, model):
    """The three ways to train, each a function `fit(model, epochs, clock)`, on random data shaped for `model`."""
    import numpy as np

    from keras_vae import data
    from keras_vae.callbacks import BackupAndRestore, DataEpoch, HistoryWriter, StopOnNonFiniteLoss

    rng = np.random.default_rng(0)
    images = rng.random((settings["images"], *model.image_shape), dtype=np.float32)
    labels = rng.integers(0, model.num_classes, settings["images"]) if model.num_classes else None
    batches = data.EpochBatches(images, labels, batch_size=settings["batch_size"], seed=0)

    def arrays(model, epochs, clock):
        model.fit(images, labels, batch_size=settings["batch_size"], epochs=epochs, verbose=0, callbacks=[clock])

    def epoch_batches(model, epochs, clock):
        model.fit(batches, epochs=epochs, shuffle=False, verbose=0, callbacks=[clock])

    def train_command(model, epochs, clock):
        with tempfile.TemporaryDirectory() as run:  # the callbacks as `keras-vae train` makes them
            model.fit(batches, epochs=epochs, shuffle=False, verbose=0, callbacks=[
                clock, StopOnNonFiniteLoss(), HistoryWriter(Path(run) / "history.json"),
                BackupAndRestore(Path(run) / "backup", delete_checkpoint=False), DataEpoch(batches)])

    return {"arrays": arrays, "epoch_batches": epoch_batches, "train_command": train_command}


def _epoch_clock():
    """A callback timing each epoch on each of `CLOCKS`, from its `on_epoch_begin` to the next one's (the last epoch
    to `on_train_end`)."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.marks = []

        def on_epoch_begin(self, epoch, logs=None):
            self.marks.append({clock: read() for clock, read in CLOCKS.items()})

        def on_train_end(self, logs=None):
            self.on_epoch_begin(None)

        def seconds(self):
            return {clock: [end[clock] - begin[clock] for begin, end in zip(self.marks, self.marks[1:])]
                    for clock in CLOCKS}

    return EpochClock()


def _timed(fit, model, epochs):
    """`{clock: seconds of each epoch}` of `fit(model, epochs, ...)`."""
    clock = _epoch_clock()
    fit(model, epochs, clock)
    return clock.seconds()


def _summary(seconds):
    """The epochs' seconds with their median and spread ((max - min) / median)."""
    median = statistics.median(seconds)
    return {"seconds": seconds, "median_s": median, "spread": (max(seconds) - min(seconds)) / median}


def _overhead(every, rounds, clock):
    """The command's median epoch over plain `fit`'s, less one, on `clock`: over every epoch, within each round,
    and the median of the rounds'."""
    def ratio(seconds):
        return statistics.median(seconds["train_command"][clock]) / statistics.median(seconds["arrays"][clock]) - 1

    per_round = [ratio(r) for r in rounds]
    return {"overhead": ratio(every), "per_round": per_round, "median_per_round": statistics.median(per_round)}


def measure(settings):
    """The worker's measurement on the running backend: each way's epoch times and the command's overhead."""
    import keras

    import backends

    device = backends.current()
    keras.utils.set_random_seed(0)
    models = {way: _compiled(settings["model"]) for way in WAYS}
    ways = _ways(settings, models["arrays"])
    warmup = {way: _timed(fit, models[way], 1)["wall"][0] for way, fit in ways.items()}
    rounds = [{way: _timed(fit, models[way], settings["epochs"]) for way, fit in ways.items()}
              for _ in range(settings["rounds"])]
    every = {way: {clock: [s for r in rounds for s in r[way][clock]] for clock in CLOCKS} for way in WAYS}
    return {"backend": device.name, "backend_version": device.version, "keras_version": keras.__version__,
            "device": device.device,
            "ways": {way: {"warmup_s": warmup[way], **{clock: _summary(every[way][clock]) for clock in CLOCKS}}
                     for way in WAYS},
            "overhead": {clock: _overhead(every, rounds, clock) for clock in CLOCKS}}


def markdown(report):
    """A row per backend and clock: each way's median seconds per epoch ± spread, and the command's overhead."""
    settings, results = report["settings"], report["backends"]
    steps = -(-settings["images"] // settings["batch_size"])
    lines = [f"# `keras-vae train`'s fit against plain fit on {report['device']}", "", f"`{report['command']}`", "",
             f"{report['host']['cpu']}, {report['host']['cpu_count']} cores; Keras {results[0]['keras_version']}; "
             + "; ".join(f"{r['backend']} {r['backend_version']} (device {r['device']})" for r in results) + ".", "",
             f"{settings['model']}, batch {settings['batch_size']}, {settings['images']:,} random images an epoch "
             f"({steps} steps); {settings['rounds']} rounds of {settings['epochs']} epoch(s) per way, the ways taking "
             "turns. Median seconds per epoch ± spread ((max - min) / median), on the wall clock and in the process's "
             "CPU time (which other processes on a shared machine disturb less); overhead: the command's median "
             "epoch over plain `fit`'s, less one; per round: the same ratio within each round, and its median.", "",
             "| backend | clock | " + " | ".join(WAYS.values()) + " | overhead | median per round | per round |",
             "|---|---|" + "---|" * (len(WAYS) + 3)]
    for r in results:
        for clock in CLOCKS:
            times = " | ".join(f"{r['ways'][way][clock]['median_s']:.3f} ±{r['ways'][way][clock]['spread']:.0%}"
                               for way in WAYS)
            overhead = r["overhead"][clock]
            rounds = ", ".join(f"{o:+.1%}" for o in overhead["per_round"])
            lines.append(f"| {r['backend']} | {clock} | {times} | {overhead['overhead']:+.1%} | "
                         f"{overhead['median_per_round']:+.1%} | {rounds} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.worker:
        return throughput.serve(args.worker, measure)
    settings = {key: getattr(args, key) for key in ("model", "batch_size", "images", "epochs", "rounds")}
    if args.quick:
        settings.update(QUICK)
    from keras_vae import zoo

    zoo.entry(settings["model"])  # an unknown name fails now, with the known ones listed
    start = time.perf_counter()
    results = [throughput.run_backend(backend, settings, (__file__, "--worker")) for backend in args.backends]
    report = throughput.report_of("safe_fit.py", argv, {**settings, "backends": args.backends}, results, start)
    out = Path(args.out) if args.out else HERE / "results" / (throughput._slug(report["device"]) + "-safe-fit")
    throughput.write_report(out, report, markdown(report))


if __name__ == "__main__":
    main()
