"""The GPU run in one command: training and `decode` throughput of every zoo model on JAX and PyTorch beside the
reference peers, with device memory, inside a wall-clock budget.

    python benchmarks/gpu.py                                        # the GPU run: at most --budget-s, then the report
    python benchmarks/gpu.py --dry-run --out /tmp/gpu-dry-run       # the same pipeline on a CPU, tiny: about a minute
    python benchmarks/gpu.py --models conv_vae,vae --batch-sizes 4096 --budget-s 120
    python benchmarks/gpu.py --backends jax --models conv_vae --peers "" --batch-sizes 65536,85598,131072 --ignore-cap

On the GPU machine (JAX and PyTorch with CUDA, no TensorFlow; Keras installed from the wheels in .whl/):

    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD && python3 benchmarks/gpu.py

Each backend (jax, then torch) runs in a process of its own (`throughput.run_backend`), so that a CUDA error in one
costs none of the other's cells, and measures, with the functions of throughput.py's worker (`worker.py`), in this
order:
1. at each of `--batch-sizes`, the peers that have a target (`torch_eager`, `jax_jit`: peers/) and the zoo models
   they re-implement (conv_vae, vae), training: `fit` on NumPy arrays and the model's own `train_step` in a tight
   loop on a device-resident batch;
2. `decode` of every model at `--decode-batch`: on codes already on the device (the decoder and the sigmoid, which
   is what `model.decode` computes; jitted on JAX, eager without autograd on torch), and through `predict` on
   NumPy codes;
3. the `torch.compile` peer at each batch size; 4. the other zoo models' training at each batch size.
The Keras tutorial peer needs TensorFlow and is left out. Timing is `timing.py`'s: a warm-up call (compilation
included) reported apart, then `--repeats` timed calls that each end with the device synchronised; median and
spread. Device memory: each cell's peak (torch: `max_memory_allocated`, reset before the cell; JAX, whose peak
cannot be reset: the process's `peak_bytes_in_use` at the end of the cell).

The budget: each backend gets an equal share of the time left when it starts. A task starts only if its share
has as much left as the longest task of its kind took so far (`FIRST_GUESS_S` before one ran); what does not fit
is recorded as skipped, with why. A worker past its share by `GRACE_S` is killed; the cells it finished are kept
(it writes them after each task), as they are when it crashes. No cell runs at a batch at which one tensor of the
step would hold more than 2**31 - 1 elements (`memory.batch_cap`): JAX's conv_vae step failed there on an H100
with a CUDA illegal address (see `memory.INDEX_LIMIT`); torch is held to the same cells, for comparison.
`--ignore-cap` runs them all the same (the fourth command: conv_vae's cap is 85,598), to check that the cap is
what keeps the illegal address away.

Writes OUT.json (settings, versions, each cell, the targets) and OUT.md (tables, each target passed or missed:
keras_vae's best training samples/s at least 2x the PyTorch eager loop's and 1.0x the hand-written `jax.jit`
step's, `decode` at least 1,000,000 images/s on the device); OUT defaults to benchmarks/results/<device>-gpu.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import memory  # noqa: E402
import throughput  # noqa: E402
import timing  # noqa: E402
from peers import ARCHITECTURES  # noqa: E402

BACKENDS = ("jax", "torch")
#: the peers, and keras_vae's least ratio to each (its best training samples/s over the peer's, same architecture
#: and batch size); None: measured without a target
TARGETS = {"torch_eager": 2.0, "jax_jit": 1.0, "torch_compile": None}
#: images/s that `decode` on the device must reach
DECODE_TARGET = 1_000_000
#: what --dry-run changes among the settings left at their defaults: the whole pipeline on a 2-core CPU in about a
#: minute, with a conditional model among the two (the code paths are the same for every architecture). Not the
#: conv models: JAX compiles each of their steps for 10 s or more on that CPU; nor torch.compile, which spends
#: 30-45 s on the dense VAE there.
DRY_RUN = {"models": ["vae", "cvae"], "batch_sizes": [16], "decode_batch": 64, "peers": ["torch_eager", "jax_jit"],
           "peer_architectures": ["dense"], "repeats": 1, "min_seconds": 0.0, "epoch_seconds": 0.0,
           "images_per_call": 32, "budget_s": 300.0}
#: a task's seconds, compilation included, before a task of its kind has run: what the budget holds back for it
FIRST_GUESS_S = {"train": 20.0, "decode": 10.0, "peer": 10.0, "torch_compile": 60.0}
#: seconds past its share of the budget after which a worker is killed
GRACE_S = 30.0


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help=f"a CPU check of the whole pipeline: {DRY_RUN}")
    parser.add_argument("--models", type=throughput._list(), help="zoo models (default every one)")
    parser.add_argument("--backends", type=throughput._list(), default=list(BACKENDS))
    parser.add_argument("--batch-sizes", type=throughput._list(int), default=[512, 4096, 32768],
                        help="training batch sizes")
    parser.add_argument("--decode-batch", type=int, default=65536)
    parser.add_argument("--peers", type=throughput._list(), default=list(TARGETS))
    parser.add_argument("--peer-architectures", type=throughput._list(), default=list(ARCHITECTURES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.1, help="least duration of one timed repeat")
    parser.add_argument("--epoch-seconds", type=float, default=0.25,
                        help="least duration of one timed fit epoch or predict call")
    parser.add_argument("--images-per-call", type=int, default=16384, help="images one timed call trains on")
    parser.add_argument("--budget-s", type=float, default=400.0, help="wall-clock seconds for the whole run")
    parser.add_argument("--ignore-cap", action="store_true", help="run batches past memory.batch_cap too")
    parser.add_argument("--out", help="path without suffix (default benchmarks/results/<device>-gpu)")
    parser.add_argument("--worker", nargs=2, metavar=("SETTINGS", "RESULTS"), help=argparse.SUPPRESS)
    return parser


def settings_from(args):
    """The run's settings: the command line's, with `DRY_RUN`'s (under --dry-run) for those left at default, and
    the one dtype policy, jit_compile and replica count that throughput.py's worker functions read."""
    keys = ("models", "batch_sizes", "decode_batch", "peers", "peer_architectures", "repeats", "min_seconds",
            "epoch_seconds", "images_per_call", "budget_s", "ignore_cap")
    settings = {key: getattr(args, key) for key in keys}
    if args.dry_run:
        defaults = vars(_parser().parse_args([]))
        settings.update({key: value for key, value in DRY_RUN.items() if settings[key] == defaults[key]})
    unknown = (sorted(set(args.backends) - set(BACKENDS)) + sorted(set(settings["peers"]) - set(TARGETS))
               + sorted(set(settings["peer_architectures"]) - set(ARCHITECTURES)))
    sizes = settings["batch_sizes"] + [settings["decode_batch"], settings["images_per_call"], settings["repeats"]]
    if unknown or min(sizes) < 1 or settings["budget_s"] <= 0:
        raise SystemExit(f"gpu.py: bad settings: unknown {unknown}; batch sizes, images per call, repeats and the "
                         f"budget must be positive: {settings}")
    # this process only lists the zoo; not under Keras's default backend, TensorFlow, which the GPU machine lacks
    os.environ["KERAS_BACKEND"] = args.backends[0]
    from keras_vae import zoo

    settings["models"] = settings["models"] or zoo.list_models()
    for name in settings["models"]:
        zoo.entry(name)  # an unknown name fails now, with the known ones listed
    return {**settings, "dry_run": args.dry_run, "policies": ["float32"], "jit_compile": ["auto"],
            "steps_per_execution": [1], "replicas": [1]}


def plan(settings, backend, caps):
    """One backend's tasks in the order they run, the ones the targets need first (see the module's docstring).

    Args:
        settings: the run's (models, batch sizes, decode batch, peers and their architectures, ignore_cap).
        backend: the worker's backend: only its peers are planned.
        caps: `memory.batch_cap` of each of the models and of the peers' zoo models.

    Returns:
        A list of tasks, dicts: `task` ("train", "decode" or "peer"), `model` (a peer's: the zoo model it
        re-implements), `batch_size`, and for a peer `peer` and `architecture`; `skipped` says why where the batch
        passes the model's cap (unless `settings["ignore_cap"]`).
    """
    from worker import PEERS

    def peer_tasks(batch, with_target):
        return [{"task": "peer", "model": ARCHITECTURES[architecture], "batch_size": batch, "peer": peer,
                 "architecture": architecture}
                for peer in settings["peers"] if PEERS[peer][1] == backend and (TARGETS[peer] is None) != with_target
                for architecture in settings["peer_architectures"]]

    peered = [ARCHITECTURES[a] for a in settings["peer_architectures"] if ARCHITECTURES[a] in settings["models"]]
    others = [name for name in settings["models"] if name not in peered]
    tasks = []
    for batch in settings["batch_sizes"]:
        tasks += peer_tasks(batch, True) + [{"task": "train", "model": name, "batch_size": batch} for name in peered]
    tasks += [{"task": "decode", "model": name, "batch_size": settings["decode_batch"]} for name in peered + others]
    for batch in settings["batch_sizes"]:
        tasks += peer_tasks(batch, False)
    for batch in settings["batch_sizes"]:
        tasks += [{"task": "train", "model": name, "batch_size": batch} for name in others]
    for task in tasks:
        cap = caps[task["model"]]
        if task["batch_size"] > cap["batch_cap"] and not settings["ignore_cap"]:
            task["skipped"] = (f"{task['model']}'s {cap['largest_layer']} would hold {task['batch_size']:,} x "
                               f"{cap['elements_per_image']:,} elements, more than 2**31 - 1 (a batch cap of "
                               f"{cap['batch_cap']:,}): see memory.INDEX_LIMIT")
    return tasks


def _kind(task):
    """What the budget tells a task's cost by: the task, the peer or model, and the peer's architecture."""
    return task["task"], task.get("peer") or task["model"], task.get("architecture")


class Budget:
    """A worker's share of the budget: the time left before a deadline, and the longest each kind of task took.

    Args:
        deadline: when the share ends, in `clock`'s seconds.
        clock: the time now (time.time, which every process reads alike).
    """

    def __init__(self, deadline, clock=time.time):
        self.deadline, self.clock, self.taken = deadline, clock, {}

    def estimate(self, task):
        """The seconds `task` is expected to take: the longest of its kind so far, else `FIRST_GUESS_S`'s."""
        return self.taken.get(_kind(task), FIRST_GUESS_S.get(task.get("peer"), FIRST_GUESS_S[task["task"]]))

    def refusal(self, task):
        """Why `task` must not start (the share has too little time left), or None."""
        left, needs = self.deadline - self.clock(), self.estimate(task)
        if left >= needs:
            return None
        return f"the budget: {max(left, 0):.0f} s of the backend's share left, the task needs about {needs:.0f} s"

    def spent(self, task, seconds):
        """Records that `task` took `seconds`."""
        self.taken[_kind(task)] = max(seconds, self.taken.get(_kind(task), 0.0))


def _decoder(device, decoder):
    """`decoder` and the sigmoid as one function of the decoder's inputs: on JAX jitted, the weights passed in (as
    Keras's own predict step passes them); on torch eager without autograd (as Keras's torch predict runs)."""
    import keras

    if device.name == "jax":
        weights = [[v.value for v in decoder.trainable_variables], [v.value for v in decoder.non_trainable_variables]]
        jitted = device.jax.jit(lambda weights, inputs: keras.ops.sigmoid(
            decoder.stateless_call(*weights, inputs, training=False)[0]))
        return lambda inputs: jitted(weights, inputs)
    import torch

    def decode(inputs):
        with torch.no_grad():
            return keras.ops.sigmoid(decoder(inputs, training=False))

    return decode


def decode_on_device(device, name, batch, settings):
    """The `decode_device` cell of zoo model `name`: its decoder and the sigmoid on `batch` random codes already on
    the device (with their one-hot labels for a conditional model), several calls per timed call, which ends with
    the device synchronised; the images stay on the device."""
    import flops
    import worker
    from keras_vae import zoo

    model = zoo.get(name)
    steps = max(2, settings["images_per_call"] // batch)
    codes = np.random.default_rng(1).standard_normal((batch, model.latent_dim)).astype("float32")
    inputs = [device.to_device(array) for array in [codes, *worker.labels_one_hot(model, batch)]]
    decode = _decoder(device, model.decoder)
    inputs = inputs if len(inputs) > 1 else inputs[0]

    def run():
        for _ in range(steps):
            images = decode(inputs)
        device.sync(images)

    timed = timing.measure(run, batch * steps, settings["repeats"], settings["min_seconds"])
    return worker.keras_vae_record(name, "float32", batch, "decode_device", timed, flops.model_flops(model)["decode"],
                                   jit_compile=device.name == "jax", steps_per_execution=None, replicas=1)


def _cells_of(device, task, settings):
    """The measured cells of one task (see `plan`)."""
    import worker

    if task["task"] == "train":
        return worker.training_cells(device, task["model"], "float32", task["batch_size"], settings)
    if task["task"] == "decode":
        return (worker.inference_cells(task["model"], "float32", task["batch_size"], settings, measures=("decode",))
                + [decode_on_device(device, task["model"], task["batch_size"], settings)])
    return worker.peer_cells(device.name, task["batch_size"],
                             {**settings, "peers": [task["peer"]], "peer_architectures": [task["architecture"]]})


def run_task(device, task, settings, matmul):
    """The cells of `task`, each with the device's peak memory (MB) and the task it came from; a task that raises
    (out of memory, a compiler's failure, a CUDA error) gives one cell saying so, and the next task runs."""
    import keras

    import worker

    if device.name == "torch" and device.cuda:
        device.torch.cuda.reset_peak_memory_stats()
    try:
        cells = worker.with_rates(_cells_of(device, task, settings), device.name, matmul)
    except Exception as error:  # recorded, as a skipped cell is: the other tasks may still run
        cells = [{**task, "backend": device.name, "failed": f"{type(error).__name__}: {error}"[:2000]}]
    keras.backend.clear_session()
    peak = device.peak_memory_mb()
    return [{**cell, "task": task["task"], "device_peak_mb": peak} for cell in cells]


def environment(device):
    """What else a backend's numbers depend on: its CUDA and cuDNN (torch) or jaxlib and platform (JAX), float32
    precision settings, and the XLA variables."""
    if device.name == "torch":
        torch = device.torch
        return {"cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
                "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
                "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32}
    import jaxlib

    jax = device.jax
    return {"jaxlib": jaxlib.__version__, "platform": jax.devices()[0].client.platform_version,
            "default_matmul_precision": jax.config.jax_default_matmul_precision,
            **{key: os.environ[key] for key in ("XLA_FLAGS", "XLA_PYTHON_CLIENT_PREALLOCATE") if key in os.environ}}


def work(settings_path, results_path):
    """The worker (`--worker`, under KERAS_BACKEND): the tasks of `plan` that the budget and the caps allow, the
    result written to `settings["partial"]` after each task, and at the end to `results_path`."""
    import keras

    import backends
    from keras_vae import zoo
    from keras_vae.files import write_json

    settings = json.loads(Path(settings_path).read_text())
    start = time.perf_counter()
    device = backends.current()  # no keras.utils.set_random_seed: where TensorFlow is installed it imports it, for
    # seconds, to seed it, and no number here depends on the weights' values
    models = sorted(set(settings["models"]) | {ARCHITECTURES[a] for a in settings["peer_architectures"]})
    result = {"backend": device.name, "backend_version": device.version, "keras_version": keras.__version__,
              "device": device.device, "environment": environment(device),
              "matmul_gflops_float32": device.matmul_rate(),
              "caps": {name: memory.batch_cap(zoo.get(name)) for name in models}, "cells": []}
    keras.backend.clear_session()
    budget = Budget(settings["deadline"])
    write_json(settings["partial"], result)
    for task in plan(settings, device.name, result["caps"]):
        why = task.get("skipped") or budget.refusal(task)
        if why:
            result["cells"].append({**task, "backend": device.name, "skipped": why})
        else:
            began = time.time()
            result["cells"] += run_task(device, task, settings, result["matmul_gflops_float32"])
            budget.spent(task, time.time() - began)
        write_json(settings["partial"], result)
    peaks = [cell["device_peak_mb"] for cell in result["cells"] if cell.get("device_peak_mb") is not None]
    result.update(peak_memory_mb=max(peaks, default=None), peak_rss_mb=timing.peak_rss_mb(),
                  wall_s=time.perf_counter() - start)
    write_json(results_path, result)


def run_worker(backend, settings, timeout):
    """Runs `backend`'s worker (see `work`) and returns its result; if it fails or is killed after `timeout`
    seconds, the cells it finished (its partial result, if it wrote one) and why it stopped (`failed`)."""
    try:
        return throughput.run_backend(backend, settings, (__file__, "--worker"), timeout)
    except RuntimeError as error:
        written = Path(settings["partial"])
        result = json.loads(written.read_text()) if written.exists() else {"backend": backend, "device": None,
                                                                           "cells": []}  # it wrote nothing
        return {**result, "failed": str(error)[-3000:]}


def targets(results):
    """Each peer cell against keras_vae's best training cell of the same model and batch size (`fit` or the loop,
    on any backend), with the ratio and whether it meets `TARGETS`; each `decode_device` cell against
    `DECODE_TARGET`."""
    cells = [cell for result in results for cell in result["cells"] if "samples_per_s" in cell]
    rows = []
    for peer in [cell for cell in cells if cell["kind"] == "peer"]:
        best = max([cell for cell in cells if cell["kind"] == "keras_vae" and cell["measure"].startswith("train")
                    and (cell["model"], cell["batch_size"]) == (peer["model"], peer["batch_size"])],
                   key=lambda cell: cell["samples_per_s"], default=None)
        ratio = best and best["samples_per_s"] / peer["samples_per_s"]
        goal = TARGETS[peer["peer"]]
        rows.append({"peer": peer["peer"], "model": peer["model"], "batch_size": peer["batch_size"],
                     "peer_samples_per_s": peer["samples_per_s"],
                     "keras_vae_samples_per_s": best and best["samples_per_s"],
                     "keras_vae_cell": best and f"{best['backend']} {best['measure']}", "ratio": ratio,
                     "target": goal, "passed": None if goal is None or ratio is None else ratio >= goal})
    decode = [{"model": cell["model"], "backend": cell["backend"], "batch_size": cell["batch_size"],
               "samples_per_s": cell["samples_per_s"], "target": DECODE_TARGET,
               "passed": cell["samples_per_s"] >= DECODE_TARGET}
              for cell in cells if cell["measure"] == "decode_device"]
    return {"peers": rows, "decode": decode}


def _rate(cell):
    return f"{cell['samples_per_s']:,.0f} ±{cell['spread']:.0%}" if cell else "n/a"


def _mb(cell):
    return "n/a" if not cell or cell.get("device_peak_mb") is None else f"{cell['device_peak_mb']:,.0f}"


def _verdict(passed):
    return {True: "**pass**", False: "**miss**", None: "no target"}[passed]


def _one(cells, **match):
    found = [cell for cell in cells if all(cell.get(key) == value for key, value in match.items())]
    return found[0] if found else None


#: what the report says was measured, and how
MEASURED = (
    "Samples/s: the median of the timed repeats ± their spread ((max - min) / median), after a warm-up call "
    "(compilation included) reported apart. `fit`: `model.fit` on NumPy arrays, each step's batch copied to the "
    "device. `loop`: the model's own `train_step` in a tight loop on a batch already on the device (`jax.jit` of the "
    "stateless step; eager on torch, as Keras's torch trainer runs it). The peers (benchmarks/peers/) train the same "
    "architectures on a batch on the device. `decode` on the device: the decoder and the sigmoid (what "
    "`model.decode` computes) on latent codes already on the device, the images left there (jitted on JAX, eager "
    "without autograd on torch): no host copies. `decode` by `predict`: `decoder.predict` on NumPy codes, returning "
    "NumPy logits: both copies included. Every timed call ends with the device synchronised "
    "(`jax.block_until_ready`, `torch.cuda.synchronize`, or a value read back). Device peak, MB = 2^20 bytes: "
    "torch's `max_memory_allocated` during the task (reset before it); JAX's `peak_bytes_in_use` of the process at "
    "the end of the task (JAX cannot reset it).")


def _header(report):
    """The command, the run's time, the host, each backend's versions and settings, and each worker that failed."""
    results, settings = report["backends"], report["settings"]
    started = [result for result in results if "backend_version" in result]
    lines = [f"# GPU run on {report['device']}" + (" (dry run)" if settings["dry_run"] else ""), "",
             f"`{report['command']}`", "",
             f"{report['wall_s']:.0f} s in all, budget {settings['budget_s']:.0f} s; timed repeats: "
             f"{settings['repeats']}, fit epochs and predict calls of at least {settings['epoch_seconds']} s; "
             f"{report['host']['cpu']}, {report['host']['cpu_count']} cores, Python {report['host']['python']}"
             + (f"; Keras {started[0]['keras_version']}" if started else "") + ".", ""]
    for result in started:
        peak = "n/a" if result.get("peak_memory_mb") is None else f"{result['peak_memory_mb']:,.0f} MB"
        facts = ", ".join(f"{key} {' '.join(str(value).split())}" for key, value in result["environment"].items())
        lines.append(f"- {result['backend']} {result['backend_version']} on {result['device']}: float32 matmul "
                     f"{result['matmul_gflops_float32']:,.0f} GFLOP/s; device peak {peak}; {facts}.")
    for result in [result for result in results if "failed" in result]:
        said = result["failed"].strip().splitlines()
        lines.append(f"- **The {result['backend']} worker stopped early**, the cells it finished are below: "
                     f"{said[0]} ... `{said[-1]}`")
    return lines + ["", MEASURED]


def _targets_table(report, cells):
    """Each target, passed or missed: keras_vae against each peer, and `decode` on the device."""
    rows, decode = report["targets"]["peers"], report["targets"]["decode"]
    met = [(f">= {goal}x {peer}", [row["passed"] for row in rows if row["peer"] == peer])
           for peer, goal in TARGETS.items() if goal is not None]
    met.append((f"`decode` >= {DECODE_TARGET:,} images/s", [row["passed"] for row in decode]))
    lines = ["", "## Targets", "",
             "Met: " + "; ".join(f"{name} in {passed.count(True)} of {len(passed)} cells" for name, passed in met)
             + ".", "",
             "keras_vae's best training samples/s (either backend, `fit` or the loop) over the peer's, same "
             "architecture and batch size:", "",
             "| peer | model | batch | peer samples/s | keras_vae best | where | ratio | target | result |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        mine = "n/a" if row["ratio"] is None else f"{row['keras_vae_samples_per_s']:,.0f}"
        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}x"
        goal = "" if row["target"] is None else f">= {row['target']}x"
        lines.append(f"| {row['peer']} | {row['model']} | {row['batch_size']} | {row['peer_samples_per_s']:,.0f} | "
                     f"{mine} | {row['keras_vae_cell'] or 'n/a'} | {ratio} | {goal} | {_verdict(row['passed'])} |")
    lines += ["", f"`decode` on the device, at least {DECODE_TARGET:,} images/s:", "",
              "| model | backend | batch | images/s | result | by `predict` (host copies included) |",
              "|---|---|---|---|---|---|"]
    for row in decode:
        by_predict = _one(cells, measure="decode", model=row["model"], backend=row["backend"])
        lines.append(f"| {row['model']} | {row['backend']} | {row['batch_size']} | {row['samples_per_s']:,.0f} | "
                     f"{_verdict(row['passed'])} | {_rate(by_predict)} |")
    return lines


def markdown(report):
    """The report's tables: the targets, training, the peers, `decode`, the batch caps, and what was not measured."""
    results, settings = report["backends"], report["settings"]
    cells = [cell for result in results for cell in result["cells"] if "samples_per_s" in cell]
    lines = _header(report) + _targets_table(report, cells)
    lines += ["", "## Training, samples/s", "",
              "| model | backend | batch | fit | loop | GFLOP/s (best) | matmul | warm-up s (fit, loop) | "
              "device peak MB |", "|---|---|---|---|---|---|---|---|---|"]
    for fit in [cell for cell in cells if cell["measure"] == "train_fit"]:
        loop = _one(cells, measure="train_loop", model=fit["model"], backend=fit["backend"],
                    batch_size=fit["batch_size"])
        best = max([fit, loop] if loop else [fit], key=lambda cell: cell["samples_per_s"])
        lines.append(f"| {fit['model']} | {fit['backend']} | {fit['batch_size']} | {_rate(fit)} | {_rate(loop)} | "
                     f"{best['achieved_gflops']:,.0f} | {best['fraction_of_matmul']:.1%} | {fit['warmup_s']:.1f}, "
                     + (f"{loop['warmup_s']:.1f}" if loop else "n/a") + f" | {_mb(loop or fit)} |")
    lines += ["", "## Peers, training samples/s", "",
              "| peer | backend | model | batch | samples/s | GFLOP/s | matmul | warm-up s | device peak MB |",
              "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {peer['peer']} | {peer['backend']} | {peer['model']} | {peer['batch_size']} | {_rate(peer)} | "
              f"{peer['achieved_gflops']:,.0f} | {peer['fraction_of_matmul']:.1%} | {peer['warmup_s']:.1f} | "
              f"{_mb(peer)} |" for peer in cells if peer["kind"] == "peer"]
    lines += ["", "## `decode`, images/s", "",
              "| model | backend | batch | on the device | by `predict` | GFLOP/s (device) | device peak MB |",
              "|---|---|---|---|---|---|---|"]
    for cell in [cell for cell in cells if cell["measure"] == "decode_device"]:
        by_predict = _one(cells, measure="decode", model=cell["model"], backend=cell["backend"])
        lines.append(f"| {cell['model']} | {cell['backend']} | {cell['batch_size']} | {_rate(cell)} | "
                     f"{_rate(by_predict)} | {cell['achieved_gflops']:,.0f} | {_mb(cell)} |")
    caps = next((result["caps"] for result in results if "caps" in result), {})
    lines += ["", "## Batch caps", "",
              "The largest layer output per image of each model, and the largest batch at which no tensor of a step "
              "holds more than 2**31 - 1 elements (memory.INDEX_LIMIT): "
              + ("with --ignore-cap, cells above it ran too." if settings["ignore_cap"] else "no cell runs above it."),
              "",
              "| model | largest output | elements per image | batch cap |", "|---|---|---|---|"]
    lines += [f"| {name} | {cap['largest_layer']} | {cap['elements_per_image']:,} | {cap['batch_cap']:,} |"
              for name, cap in caps.items()]
    missing = [cell for result in results for cell in result["cells"] if "samples_per_s" not in cell]
    if missing:
        lines += ["", "## Not measured", ""]
        lines += [f"- {cell['backend']} {cell['task']} "
                  + (f"{cell['peer']} ({cell['architecture']})" if "peer" in cell else cell["model"])
                  + f" at batch {cell['batch_size']}: " + (cell.get("skipped") or f"failed: {cell['failed']}")
                  for cell in missing]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.worker:
        work(*args.worker)
        return
    start, wall_start = time.time(), time.perf_counter()
    settings = settings_from(args)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, backend in enumerate(args.backends):
            share = (start + settings["budget_s"] - time.time()) / (len(args.backends) - index)
            result = run_worker(backend, {**settings, "deadline": time.time() + share,
                                          "partial": str(Path(tmp) / f"{backend}.json")}, max(share, 0) + GRACE_S)
            results.append(result)
            done = [cell for cell in result["cells"] if "samples_per_s" in cell]
            print(f"{backend}: {len(done)} cells measured, {len(result['cells']) - len(done)} not"
                  + (", the worker stopped early" if "failed" in result else ""), flush=True)
    report = throughput.report_of("gpu.py", argv, {**settings, "backends": args.backends}, results, wall_start)
    report["targets"] = targets(results)
    if args.out:
        out = Path(args.out)
    elif args.dry_run:
        out = Path(tempfile.gettempdir()) / "keras_vae-gpu-dry-run"
    else:
        out = HERE / "results" / (throughput._slug(report["device"]) + "-gpu")
    throughput.write_report(out, report, markdown(report))


if __name__ == "__main__":
    main()
