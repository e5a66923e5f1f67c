"""Speed at equal quality: wall-clock seconds until the test loss first reaches a threshold, keras_vae against the
Keras tutorial's recipe.

    python benchmarks/time_to_quality.py --quick                          # a minute or two: for CI
    python benchmarks/time_to_quality.py                                  # to 155 nats, keras_vae on the peer's recipe
    python benchmarks/time_to_quality.py --seeds 0,1,2 \\
        --config backend=tensorflow,policy=mixed_bfloat16,batch_size=64,learning_rate=2e-3 \\
        --config backend=jax,batch_size=256,learning_rate=3e-3,schedule=cosine,schedule_epochs=10

Users want a good model sooner, not more steps per second of a worse one. Contestants, one after another, each in a
process of its own (`throughput.run_backend`): the peer, the Keras tutorial's conv VAE (`peers/keras_tutorial.py`:
a `tf.GradientTape` train_step, float32, batch 128, Adam 1e-3, its own `fit` on NumPy arrays, shuffled), and
keras_vae's `conv_vae` (the zoo entry's architecture, untrained) under each `--config` (backend, dtype policy,
batch size, Adam learning rate, schedule, steps_per_execution, jit_compile, and data: `EpochBatches` as `keras-vae
train` feeds them, or NumPy arrays as the peer's). The options of the same names set what a `--config` leaves out;
without `--config`, they make the one keras_vae contestant. Every contestant trains on the same continuous MNIST
training images in [0, 1]; for each seed of `--seeds` (weights, sampling noise, data order), the peer runs, then
each configuration.

The clock starts when `fit` is called and stops at the evaluation whose test loss is first <= `--threshold`: it
holds everything a user waits for (the data set-up, tracing and compilation: the first step's time is also
reported as the warm-up) except the evaluations, which pause it. A Keras callback evaluates every `--eval-every`
training images (at the first step boundary past each multiple, so also after the last step of an epoch), the
same cadence for every contestant; it counts images in `on_train_batch_begin`, which (unlike `on_train_batch_end`)
makes no step wait for the device, and waits for the device before it reads the clock. A run also stops, "not
reached", after `--max-epochs` epochs or at the first evaluation past `--max-seconds` seconds of training.

The test loss is one measure for every model (`negative_elbo`), not each model's own loss: the negative ELBO per
image in nats, binary cross-entropy summed over the 784 pixels (continuous targets, the decoder's probabilities
clipped to [1e-7, 1 - 1e-7] as Keras's cross-entropy clips them) plus the analytic KL divergence to N(0, I),
averaged over the test images, with one posterior sample per image whose noise is drawn from a fixed seed (the
same noise for every model and evaluation), computed in float64 NumPy from the encoder's and decoder's outputs.
After training, a keras_vae run also records it beside `keras_vae.evaluate.elbo` on the same weights.

Writes OUT.json (settings, versions, host, and per run the curve of evaluations: images seen, training seconds,
test loss) and OUT.md (a row per contestant: the median over the seeds of the seconds and images to the threshold,
samples/s after the warm-up, the final test loss, and the speed-up over the peer: the peer's median seconds over
the contestant's, against `--target`); OUT defaults to benchmarks/results/<device>-time-to-quality.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import throughput  # noqa: E402
import timing  # noqa: E402

#: the keras_vae configuration keys: how each is read from the command line, its default, and what it is
CONFIG = {"backend": (str, "tensorflow", "tensorflow, jax or torch"),
          "policy": (str, "float32", "dtype policy: float32, mixed_bfloat16, mixed_float16"),
          "batch_size": (int, 128, "images per step"), "learning_rate": (float, 1e-3, "Adam's (peak) learning rate"),
          "schedule": (str, "constant", "constant or cosine (decaying to 0), as keras_vae.train's"),
          "schedule_epochs": (int, None, "the epochs a cosine schedule decays over (None: --max-epochs)"),
          "steps_per_execution": (int, 1, "steps per compiled call (torch: 1)"),
          "jit_compile": (throughput._jit, "auto", "true, false or auto"),
          "data": (str, "batches", "batches (EpochBatches, as keras-vae train feeds them) or arrays (NumPy arrays "
                                   "shuffled by fit, as the peer's)")}
#: the Keras tutorial's recipe, which the peer trains with
PEER = {"backend": "tensorflow", "policy": "float32", "batch_size": 128, "learning_rate": 1e-3, "schedule": "constant",
        "schedule_epochs": None, "steps_per_execution": 1, "jit_compile": "auto", "data": "arrays"}
DATA = ("batches", "arrays")
#: --quick: an untrained conv VAE scores about 784 log 2 = 543 nats; both contestants reach 250 in about 40 steps
QUICK = {"train_images": 4096, "test_images": 500, "threshold": 250.0, "eval_every": 1024, "max_epochs": 4,
         "max_seconds": 60.0}
#: Keras's epsilon, with which its binary cross-entropy clips probabilities
EPSILON = 1e-7
#: the seed of the posterior noise of every evaluation
EVAL_SEED = 0
EVAL_BATCH = 500


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK}: for CI")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE,...",
                        help=f"a keras_vae contestant (repeat for more); keys: {', '.join(CONFIG)}")
    for key, (kind, default, meaning) in CONFIG.items():
        parser.add_argument("--" + key.replace("_", "-"), type=kind, default=default,
                            help=f"{meaning}, for the --config that leave it out (default {default})")
    parser.add_argument("--seeds", type=throughput._list(int), default=[0],
                        help="a run of every contestant per seed (weights, sampling noise, data order)")
    parser.add_argument("--threshold", type=float, default=155.0, help="test loss to reach, nats per image")
    parser.add_argument("--eval-every", type=int, default=15_000, help="training images between evaluations")
    parser.add_argument("--max-epochs", type=int, default=50, help="epochs before giving up")
    parser.add_argument("--max-seconds", type=float, default=1200.0, help="training seconds before giving up")
    parser.add_argument("--train-images", type=int, help="train on the first N training images (default all)")
    parser.add_argument("--test-images", type=int, help="evaluate on the first N test images (default all)")
    parser.add_argument("--target", type=float, default=1.5, help="the speed-up over the peer to pass")
    parser.add_argument("--out", help="path without suffix (default benchmarks/results/<device>-time-to-quality)")
    parser.add_argument("--worker", nargs=2, metavar=("SETTINGS", "RESULTS"), help=argparse.SUPPRESS)
    return parser


def configs_of(args):
    """The keras_vae contestants' configurations: each `--config` over the options' values (one if none)."""
    base = {key: getattr(args, key) for key in CONFIG}
    configs = []
    for text in args.config or [""]:
        config = dict(base)
        for pair in filter(None, text.split(",")):
            key, _, value = pair.partition("=")
            if key not in CONFIG or not value:
                raise SystemExit(f"time_to_quality.py: bad --config item {pair!r}; give KEY=VALUE with KEY one of "
                                 f"{list(CONFIG)}")
            try:
                config[key] = CONFIG[key][0](value)
            except (KeyError, ValueError):
                raise SystemExit(f"time_to_quality.py: bad value in --config item {pair!r}") from None
        configs.append(_checked(config, args.max_epochs))
    return configs


def _checked(config, max_epochs):
    """`config` with a cosine schedule's horizon filled in (`max_epochs`), or SystemExit naming what is wrong."""
    from keras_vae.recipes import SCHEDULES

    problems = [f"{key} {config[key]!r} is not one of {choices}" for key, choices in (
        ("backend", throughput.BACKENDS), ("schedule", SCHEDULES), ("data", DATA)) if config[key] not in choices]
    problems += [f"{key} must be positive" for key in ("batch_size", "learning_rate", "schedule_epochs",
                                                       "steps_per_execution")
                 if config[key] is not None and config[key] <= 0]
    if config["backend"] == "torch" and config["steps_per_execution"] > 1:
        problems.append("steps_per_execution > 1 needs tensorflow or jax: Keras's torch backend runs one step per "
                        "execution")
    if problems:
        raise SystemExit(f"time_to_quality.py: bad configuration {config}: {'; '.join(problems)}")
    if config["schedule"] == "cosine" and config["schedule_epochs"] is None:
        return {**config, "schedule_epochs": max_epochs}
    return config


def negative_elbo(encode, decode, images, seed=EVAL_SEED):
    """The test loss of every contestant: the negative ELBO per image, in nats, with one posterior sample.

    Args:
        encode: images -> (z_mean, z_log_var), arrays of shape (N, latent_dim) (more outputs are ignored).
        decode: float32 codes of shape (N, latent_dim) -> the decoder's Bernoulli probabilities, one per pixel.
        images: N float images in [0, 1], the targets.
        seed: the seed of the noise eps ~ N(0, I) of shape (N, latent_dim): z = z_mean + exp(z_log_var / 2) * eps.

    Returns:
        `{"loss", "reconstruction_loss", "kl_loss"}`, means over the images: the binary cross-entropy summed over
        pixels (probabilities clipped to [EPSILON, 1 - EPSILON]), the KL divergence KL(q(z|x) || N(0, I)), and their
        sum, in float64.
    """
    z_mean, z_log_var = (np.asarray(a, dtype=np.float64) for a in encode(images)[:2])
    noise = np.random.default_rng(seed).standard_normal(z_mean.shape)
    z = z_mean + np.exp(0.5 * z_log_var) * noise
    probabilities = np.clip(np.asarray(decode(z.astype(np.float32)), np.float64), EPSILON, 1 - EPSILON)
    x = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    p = probabilities.reshape(len(x), -1)
    reconstruction = -(x * np.log(p) + (1 - x) * np.log1p(-p)).sum(axis=1)
    kl = -0.5 * (1 + z_log_var - np.square(z_mean) - np.exp(z_log_var)).sum(axis=1)
    return {"loss": float(np.mean(reconstruction + kl)), "reconstruction_loss": float(np.mean(reconstruction)),
            "kl_loss": float(np.mean(kl))}


def _clock(evaluate, train_images, batch_size, settings):
    """The callback that times `fit` up to the threshold: it evaluates at the cadence and stops the run."""
    import keras

    class TimeToQuality(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.curve, self.paused, self.images, self.epoch = [], 0.0, 0, 0
            self.warmup, self.next_evaluation, self.done = None, settings["eval_every"], False

        def start(self):
            """Starts the clock: call it just before `fit`."""
            self.started = time.perf_counter()

        def seconds(self):
            """Training seconds so far: since `start`, less the evaluations."""
            return time.perf_counter() - self.started - self.paused

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            self._between_steps(self.epoch * train_images + min(batch * batch_size, train_images))

        def on_epoch_end(self, epoch, logs=None):
            self._between_steps((epoch + 1) * train_images)

        def on_train_end(self, logs=None):  # the budget ran out: the final model's loss
            if not self.done and (not self.curve or self.curve[-1]["images"] < self.images):
                self._evaluate()

        def _between_steps(self, images):
            if self.done or images == 0:
                return
            self.images = images
            if self.warmup is None:  # the first step is done: its time, compilation included
                self._synchronize()
                self.warmup = {"seconds": self.seconds(), "images": images}
            if images >= self.next_evaluation:
                self._evaluate()

        def _synchronize(self):
            # `self.model` attaches JAX's training state to the model's variables (Keras's Callback.model);
            # reading a variable back waits for the steps dispatched so far
            keras.ops.convert_to_numpy(self.model.trainable_variables[0])

        def _evaluate(self):
            self._synchronize()
            seconds = self.seconds()
            begin = time.perf_counter()
            terms = evaluate()
            spent = time.perf_counter() - begin
            self.paused += spent
            self.curve.append({"images": self.images, "epochs": self.images / train_images, "train_s": seconds,
                               **terms, "eval_s": spent})
            every = settings["eval_every"]
            self.next_evaluation = (self.images // every + 1) * every
            if terms["loss"] <= settings["threshold"] or seconds >= settings["max_seconds"]:
                self.done = self.model.stop_training = True

    return TimeToQuality()


def _sigmoid(logits):
    return 1 / (1 + np.exp(-np.asarray(logits, dtype=np.float64)))


def _peer(x, config):
    """The tutorial's VAE, compiled; how it fits; its encoder's (z_mean, z_log_var) and decoder's probabilities."""
    import keras

    from peers.keras_tutorial import VAE, _networks

    encoder, decoder = _networks("conv")
    model = VAE(encoder, decoder)
    model.compile(optimizer=keras.optimizers.Adam(config["learning_rate"]))
    means = keras.Model(encoder.inputs, encoder.outputs[:2])  # without the sampler, whose noise training draws

    def fit(epochs, clock):
        model.fit(x, epochs=epochs, batch_size=config["batch_size"], shuffle=True, verbose=0, callbacks=[clock])

    return (model, fit, lambda images: means.predict(images, batch_size=EVAL_BATCH, verbose=0),
            lambda z: decoder.predict(z, batch_size=EVAL_BATCH, verbose=0))


def _keras_vae(x, config, seed):
    """keras_vae's conv_vae, compiled as `config` says; how it fits; its encoder's and decoder's outputs."""
    from keras_vae import training, zoo
    from keras_vae.callbacks import DataEpoch
    from keras_vae.data import EpochBatches

    model = zoo.get("conv_vae", dtype=config["policy"])
    steps = -(-len(x) // config["batch_size"])
    schedule = {"learning_rate": config["learning_rate"], "schedule": config["schedule"],
                "epochs": config["schedule_epochs"]}
    model.compile(optimizer=training._optimizer(schedule, steps), jit_compile=config["jit_compile"],
                  steps_per_execution=config["steps_per_execution"])

    def fit(epochs, clock):
        if config["data"] == "arrays":
            model.fit(x, epochs=epochs, batch_size=config["batch_size"], shuffle=True, verbose=0, callbacks=[clock])
        else:  # as keras_vae.train feeds them
            batches = EpochBatches(x, batch_size=config["batch_size"], seed=seed)
            model.fit(batches, epochs=epochs, shuffle=False, verbose=0, callbacks=[DataEpoch(batches), clock])

    return (model, fit, lambda images: model.encoder.predict(images, batch_size=EVAL_BATCH, verbose=0),
            lambda z: _sigmoid(model.decoder.predict(z, batch_size=EVAL_BATCH, verbose=0)))


def measure(settings):
    """The worker's run: one contestant trained until the threshold or the budget; its curve and summary."""
    import keras

    import backends
    from keras_vae import data, evaluate

    device = backends.current()
    (x, _), (x_test, _) = data.load("mnist")
    x, x_test = x[:settings["train_images"]], x_test[:settings["test_images"]]
    config = settings["config"]
    keras.utils.set_random_seed(settings["seed"])
    peer = settings["kind"] == "peer"
    model, fit, encode, decode = _peer(x, config) if peer else _keras_vae(x, config, settings["seed"])
    clock = _clock(lambda: negative_elbo(encode, decode, x_test), len(x), config["batch_size"], settings)
    clock.start()
    fit(settings["max_epochs"], clock)
    wall = time.perf_counter() - clock.started
    curve, last = clock.curve, clock.curve[-1]
    reached = last["loss"] <= settings["threshold"]
    warmup = clock.warmup
    result = {"name": settings["name"], "kind": settings["kind"], "config": config, "seed": settings["seed"],
              "backend": device.name, "backend_version": device.version, "keras_version": keras.__version__,
              "device": device.device, "train_images": len(x), "test_images": len(x_test), "reached": reached,
              "seconds": last["train_s"] if reached else None, "images": last["images"] if reached else None,
              "epochs": last["epochs"] if reached else None, "final_loss": last["loss"], "warmup_s": warmup["seconds"],
              "samples_per_s": (last["images"] - warmup["images"]) / (last["train_s"] - warmup["seconds"])
              if last["images"] > warmup["images"] else None,
              "eval_s": sum(point["eval_s"] for point in curve), "fit_wall_s": wall, "curve": curve}
    if not peer:  # the measure beside keras_vae's own, on the final weights
        result["check"] = {"negative_elbo": negative_elbo(encode, decode, x_test)["loss"],
                           "keras_vae_evaluate": evaluate.elbo(model, x_test, batch_size=EVAL_BATCH)["loss"]}
    result["peak_rss_mb"] = timing.peak_rss_mb()
    return result


def summary(runs, peer_seconds, target):
    """A contestant's runs (one per seed) summed up: the median seconds and images to the threshold (None unless
    every run reached it), and the speed-up over `peer_seconds` (the peer's median) with its verdict."""
    reached = all(run["reached"] for run in runs)
    seconds = statistics.median(run["seconds"] for run in runs) if reached else None
    speedup = peer_seconds / seconds if seconds and peer_seconds else None
    return {"reached": reached, "seconds": seconds, "images": statistics.median(run["images"] for run in runs)
            if reached else None, "speedup": speedup, "passes": None if speedup is None else speedup >= target}


def describe(config):
    """A configuration in words, for the table."""
    schedule = config["schedule"] + (f" over {config['schedule_epochs']} epochs" if config["schedule"] == "cosine"
                                     else "")
    return (f"{config['backend']}, {config['policy']}, batch {config['batch_size']}, Adam {config['learning_rate']:g} "
            f"{schedule}, steps/exec {config['steps_per_execution']}, jit_compile {config['jit_compile']}, "
            f"data {config['data']}")


def _range(values, form):
    """The median of `values` and, for several, their range, each formatted by `form` (n/a if one is None)."""
    values = list(values)
    if None in values:
        return "n/a"
    return form.format(values[0]) if len(values) == 1 else (
        form.format(statistics.median(values)) + f" ({form.format(min(values))} to {form.format(max(values))})")


def markdown(report):
    """A row per contestant: seconds, images and epochs to the threshold, warm-up, samples/s, final loss, speed-up."""
    settings, contestants = report["settings"], report["contestants"]
    runs = [run for contestant in contestants for run in contestant["runs"]]
    threshold, seeds = settings["threshold"], settings["seeds"]
    lines = [f"# Time to a test loss of {threshold:g} nats on {report['device']}", "", f"`{report['command']}`", "",
             f"{report['host']['cpu']}, {report['host']['cpu_count']} cores; Keras {runs[0]['keras_version']}; "
             + "; ".join(sorted({f"{run['backend']} {run['backend_version']}" for run in runs})) + ".", "",
             f"conv_vae's architecture on continuous MNIST: {runs[0]['train_images']:,} training images; the test loss "
             f"(negative ELBO, nats per image, one seeded posterior sample, the same measure for every model) on "
             f"{runs[0]['test_images']:,} test images every {settings['eval_every']:,} training images. Seconds: "
             "training wall clock from the call of `fit`, compilation included, evaluations excluded. Budget: "
             f"{settings['max_epochs']} epochs or {settings['max_seconds']:g} s. Seeds {', '.join(map(str, seeds))}:"
             " medians (and ranges) over them. Samples/s: training images per second after the first step (the "
             "warm-up). Speed-up: the peer's median seconds over the contestant's; the target is "
             f"{settings['target']:g}x.", "",
             f"| contestant | configuration | seconds to {threshold:g} | warm-up s | images to {threshold:g} | "
             "epochs | samples/s | final test loss | speed-up over the peer |", "|---|---|---|---|---|---|---|---|---|"]
    for contestant in contestants:
        result, runs = contestant["summary"], contestant["runs"]
        if result["reached"]:
            reached = [_range((run[key] for run in runs), form) for key, form in (
                ("seconds", "{:.1f}"), ("images", "{:,}"), ("epochs", "{:.2f}"))]
        else:
            reached = [f"not reached ({sum(run['reached'] for run in runs)} of {len(runs)} runs)", "n/a", "n/a"]
        if contestant["kind"] == "peer":
            verdict = "1.00x (the peer)"
        elif result["speedup"] is None:
            verdict = "n/a"
        else:
            verdict = f"{result['speedup']:.2f}x: {'pass' if result['passes'] else 'fail'}"
        lines.append(f"| {contestant['name']} | {describe(contestant['config'])} | {reached[0]} | "
                     f"{_range((run['warmup_s'] for run in runs), '{:.1f}')} | {reached[1]} | {reached[2]} | "
                     f"{_range((run['samples_per_s'] for run in runs), '{:,.0f}')} | "
                     f"{_range((run['final_loss'] for run in runs), '{:.2f}')} | {verdict} |")
    return "\n".join(lines) + "\n"


def settings_of(args):
    """The run's settings: the command line's, or `QUICK`'s (with --quick) for the ones left at default."""
    keys = ("threshold", "eval_every", "max_epochs", "max_seconds", "train_images", "test_images", "seeds", "target")
    settings = {key: getattr(args, key) for key in keys}
    if args.quick:
        defaults = vars(_parser().parse_args([]))
        settings.update({key: value for key, value in QUICK.items() if settings[key] == defaults[key]})
    if min(settings["eval_every"], settings["max_epochs"], settings["train_images"] or 1,
           settings["test_images"] or 1) < 1 or not settings["seeds"]:
        raise SystemExit(f"time_to_quality.py: bad settings {settings}")
    return {**settings, "eval_seed": EVAL_SEED}


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.worker:
        return throughput.serve(args.worker, measure)
    settings = settings_of(args)
    contestants = [{"name": "keras_tutorial (peer)", "kind": "peer", "config": PEER}] + [
        {"name": f"keras_vae {index}", "kind": "keras_vae", "config": config}
        for index, config in enumerate(configs_of(args), 1)]
    start = time.perf_counter()
    for contestant in contestants:
        contestant["runs"] = []
    for seed in settings["seeds"]:  # a round per seed: a load that changes during the run slows them alike
        for contestant in contestants:
            run = throughput.run_backend(contestant["config"]["backend"], {
                **settings, "name": contestant["name"], "kind": contestant["kind"], "config": contestant["config"],
                "seed": seed}, (__file__, "--worker"))
            contestant["runs"].append(run)
            print(f"{contestant['name']}, seed {seed}: "
                  + (f"{run['seconds']:.1f} s" if run["reached"] else "not reached")
                  + f", final test loss {run['final_loss']:.2f}", flush=True)
    peer = contestants[0]["summary"] = summary(contestants[0]["runs"], None, args.target)
    for contestant in contestants[1:]:
        contestant["summary"] = summary(contestant["runs"], peer["seconds"], args.target)
    report = throughput.report_of("time_to_quality.py", argv, settings,
                                  [run for contestant in contestants for run in contestant["runs"]], start)
    del report["backends"]  # the runs, kept under their contestants
    report["contestants"] = contestants
    out = Path(args.out) if args.out else HERE / "results" / (throughput._slug(report["device"]) + "-time-to-quality")
    throughput.write_report(out, report, markdown(report))


if __name__ == "__main__":
    main()
