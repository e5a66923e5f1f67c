"""Whether memory stays flat over many training steps and inference calls at the largest batch that fits.

    python benchmarks/memory.py                                  # vae and conv_vae, 3 backends
    python benchmarks/memory.py --quick --backends torch         # seconds: for CI
    python benchmarks/memory.py --backends jax,torch             # on a GPU: the batch doubles until out of memory

For each zoo model and backend (each backend in its own subprocess, `worker.py`), a fresh model trains with
`train_on_batch` on a device-resident batch for `--steps` steps, then runs `--rounds` rounds of inference. A round
calls `predict`, `encode` and `decode` on NumPy arrays at three batch sizes: the whole batch and odd sizes near a
half and a quarter of it, so that a function compiled per input shape and not kept would be compiled again every
round, and memory would grow.

On a GPU the batch is the largest that fits: it doubles from `--start-batch` until a training step or a round of
inference runs out of device memory (the backend's own out-of-memory error), or up to `--max-batch`; except on
torch, it stops too before a tensor of the step would hold more than 2**31 - 1 elements (`batch_cap`). A CPU's
memory holds far larger batches than a CPU trains in minutes, so there the batch is `--max-batch`; and the conv
models are left out on JAX, whose CPU gradient of a stride-2 transposed convolution takes about a second for 128
images (`layer_times.py`).

Memory is sampled after a garbage collection, `--samples` times over each phase after its warm-up (the first
tenth of its calls): the process's resident set (VmRSS in /proc/self/status) always, and the device memory in
use where there is a device. Per phase: memory after warm-up, at the end, the growth between them, and the
least-squares slope in MB per 100 calls (MB = 2^20 bytes). Writes OUT.json (settings, versions, each series)
and OUT.md; OUT defaults to benchmarks/results/<device>-memory. Nothing is timed for report.
"""

import argparse
import gc
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import throughput  # noqa: E402

QUICK = {"models": ["vae"], "steps": 60, "rounds": 10, "max_batch": 256}
#: the batch on a CPU, and where the doubling stops on an accelerator, when --max-batch is not given. On an H100,
#: torch ran conv_vae out of memory at 2**18; JAX's conv_vae step failed with a CUDA illegal address (not an
#: out-of-memory error) at a batch from 2**15 to 2**18 (see INDEX_LIMIT); inference at 2**19 took minutes a round
#: on NumPy arrays.
DEFAULT_MAX_BATCH = {"cpu": 512, "accelerator": 2**17}
#: the most elements one tensor may hold where a GPU kernel indexes it with 32-bit integers. cuDNN does not support
#: tensors of more elements, and a kernel that indexes one in 32 bits reads out of bounds: a CUDA illegal address,
#: not an out-of-memory error. conv_vae's 28 x 28 x 32 activation holds 3.3e9 elements at batch 2**17. PyTorch
#: splits such a convolution's batch into parts below the limit (ATen's split_batch_dim_to_32bit_out), which is how
#: torch trained that batch; XLA (JAX, and TensorFlow under XLA) was not seen to, so the JAX step is kept below it.
INDEX_LIMIT = 2**31 - 1
PHASES = ("train", "inference")


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="vae only, batch up to 256, 60 steps: for CI")
    parser.add_argument("--models", type=throughput._list(), default=["vae", "conv_vae"])
    parser.add_argument("--backends", type=throughput._list(), default=list(throughput.BACKENDS))
    parser.add_argument("--steps", type=int, default=300, help="training steps")
    parser.add_argument("--rounds", type=int, default=60, help="rounds of inference (9 calls each)")
    parser.add_argument("--samples", type=int, default=20, help="memory samples per phase after its warm-up")
    parser.add_argument("--start-batch", type=int, default=256, help="where the doubling starts (accelerators)")
    parser.add_argument("--max-batch", type=int, help=f"default {DEFAULT_MAX_BATCH}")
    parser.add_argument("--out", help="path without suffix (default benchmarks/results/<device>-memory)")
    return parser


def rss_mb(status=Path("/proc/self/status")):
    """This process's resident memory now, in MB: VmRSS from /proc/self/status.

    Args:
        status: the file to read (Linux's, by default).

    Example:
        >>> rss_mb() > 10
        True
    """
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"memory.py reads the resident memory from {status} (Linux), which has no VmRSS here")


def _sample(call, device):
    gc.collect()
    return {"call": call, "rss_mb": rss_mb(), "device_mb": device.memory_in_use_mb() if device else None}


def summary(series, key):
    """A phase's memory from its samples: after warm-up, at the end, peak, growth and the least-squares slope.

    Args:
        series: samples, as `track` returns them (the first taken right after the warm-up).
        key: `"rss_mb"` or `"device_mb"`.

    Returns:
        A dict of MB: `after_warmup_mb`, `end_mb`, `peak_mb`, `growth_mb` (end less after warm-up) and
        `mb_per_100` (the slope per 100 calls); None if the samples hold no such memory.

    Example:
        >>> round(summary([{"call": 10, "rss_mb": 500.0}, {"call": 110, "rss_mb": 502.0}], "rss_mb")["mb_per_100"], 6)
        2.0
    """
    values = [sample[key] for sample in series]
    if values[0] is None:
        return None
    calls = [sample["call"] for sample in series]
    slope = np.polyfit(calls, values, 1)[0] if len(series) > 1 else 0.0
    return {"after_warmup_mb": values[0], "end_mb": values[-1], "peak_mb": max(values),
            "growth_mb": values[-1] - values[0], "mb_per_100": 100 * float(slope)}


def track(run, calls, device=None, samples=20):
    """Calls `run()` `calls` times, sampling memory once the warm-up is over and then evenly to the end.

    The warm-up is the first tenth of the calls (at least 2): compilation, allocator pools and optimizer slots
    grow memory there by design.

    Args:
        run: one unit of work: a training step, a round of inference.
        calls: how many times to call it.
        device: a `backends` helper whose device memory in use is sampled too; None for the resident set alone.
        samples: samples after the one right after the warm-up.

    Returns:
        A dict: `calls`, `warmup`, `series` (each sample: `call`, the calls made before it; `rss_mb`; `device_mb`,
        None without a device) and the `rss` and `device` summaries (see `summary`).

    Example:
        >>> kept = []
        >>> leaky = track(lambda: kept.append(np.ones(2**17)), 100)  # 1 MB a call
        >>> round(leaky["rss"]["growth_mb"])
        90
    """
    warmup = max(2, calls // 10)
    marks = set(np.linspace(warmup, calls, samples + 1).round().astype(int).tolist())
    series = []
    for call in range(1, calls + 1):
        run()
        if call in marks:
            series.append(_sample(call, device))
    return {"calls": calls, "warmup": warmup, "series": series, "rss": summary(series, "rss_mb"),
            "device": summary(series, "device_mb")}


def inference_sizes(batch):
    """The batch sizes a round of inference cycles through: `batch`, and odd sizes near its half and quarter.

    Example:
        >>> inference_sizes(1024)
        [1024, 513, 257]
    """
    return sorted({batch, batch // 2 + 1, batch // 4 + 1}, reverse=True)


def workload(device, model, batch):
    """A training step and a round of inference of the compiled zoo `model` at `batch`, as two functions.

    Args:
        device: the `backends` helper of the running backend (it puts the training batch on the device).
        model: a compiled keras_vae model.
        batch: images per training step, and the largest inference call.

    Returns:
        (step, infer): `step()` runs `train_on_batch` on a fixed random batch; `infer()` calls `predict`,
        `encode` and `decode` at each of `inference_sizes(batch)` on NumPy arrays.

    Example:
        >>> step, infer = workload(backends.current(), compiled("vae"), 1024)
        >>> step(); infer()
    """
    import backends

    data = backends.training_batch(device, model, batch)
    x, y = data if isinstance(data, tuple) else (data, None)
    rng = np.random.default_rng(1)
    images = rng.random((batch, *model.image_shape), dtype=np.float32)
    codes = rng.standard_normal((batch, model.latent_dim)).astype("float32")
    labels = np.arange(batch) % model.num_classes if model.num_classes else None

    def step():
        model.train_on_batch(x, y)

    def infer():
        for size in inference_sizes(batch):
            these = None if labels is None else labels[:size]
            model.predict(images[:size] if these is None else [images[:size], these], batch_size=batch, verbose=0)
            model.encode(images[:size], these)
            model.decode(codes[:size], these)

    return step, infer


def compiled(name):
    """A fresh zoo model `name`, compiled with Adam as a user compiles it.

    Example:
        >>> isinstance(compiled("vae").optimizer, keras.optimizers.Adam)
        True
    """
    import keras

    from keras_vae import zoo

    model = zoo.get(name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def fits(device, name, batch):
    """Whether zoo model `name` trains and infers at `batch` (a step, a second one and a round of inference)
    without running out of device memory.

    Args:
        device: the `backends` helper of the running backend.
        name: a zoo model.
        batch: the batch to try.
    """
    step, infer = workload(device, compiled(name), batch)
    try:
        step()
        step()
        infer()
    except Exception as error:
        if device.is_out_of_memory(error):
            return False
        raise RuntimeError(f"{name} failed at batch {batch} on {device.device}, not for want of memory; "
                           "cap the batch with --max-batch") from error
    return True


def batch_cap(model):
    """The largest batch at which no layer output of `model`'s encoder and decoder (nor its gradient, of the same
    shape) holds more than `INDEX_LIMIT` elements, with the largest output per image.

    Args:
        model: a keras_vae model.

    Returns:
        A dict: `batch_cap`, `elements_per_image` (of the largest output) and `largest_layer` (`network/layer`).

    Example:
        >>> batch_cap(zoo.get("conv_vae"))  # the 28 x 28 x 32 output of a Conv2DTranspose
        {'batch_cap': 85598, 'elements_per_image': 25088, 'largest_layer': 'decoder/conv2d_transpose_1'}
    """
    import keras

    elements, layer = max((math.prod(output.shape[1:]), f"{network.name}/{layer.name}")
                          for network in (model.encoder, model.decoder) for layer in network.layers
                          for output in keras.tree.flatten(layer.output))
    return {"batch_cap": INDEX_LIMIT // elements, "elements_per_image": elements, "largest_layer": layer}


def largest_batch(device, name, settings):
    """The batch to measure zoo model `name` at, and how it was found.

    On an accelerator, the batch doubles from `settings["start_batch"]` until it does not fit (see `fits`) or
    would pass `settings["max_batch"]`, or, but on torch, `batch_cap` (a probe that is not run: `fits` None); on a
    CPU it is `settings["max_batch"]`. A None `max_batch` stands for `DEFAULT_MAX_BATCH`.

    Args:
        device: the `backends` helper of the running backend.
        name: a zoo model.
        settings: `start_batch` and `max_batch`.

    Returns:
        (batch, probes): the batch, and each tried batch with whether it fit, in order (none on a CPU).

    Example:
        >>> largest_batch(backends.current(), "conv_vae", {"start_batch": 16384, "max_batch": 2**19})  # torch, H100
        (131072, [{'batch': 16384, 'fits': True}, ..., {'batch': 262144, 'fits': False}])
    """
    import keras

    from keras_vae import zoo

    cpu = device.device == "cpu"
    limit = settings["max_batch"] or DEFAULT_MAX_BATCH["cpu" if cpu else "accelerator"]
    if cpu:
        return limit, []
    cap = limit if device.name == "torch" else batch_cap(zoo.get(name))["batch_cap"]  # see INDEX_LIMIT
    batch, probes = settings["start_batch"], []
    while batch <= limit and (not probes or probes[-1]["fits"]):
        probes.append({"batch": batch, "fits": fits(device, name, batch) if batch <= cap else None})
        keras.backend.clear_session()  # the probe's model and its compiled functions go
        batch *= 2
    fitting = [p["batch"] for p in probes if p["fits"]]
    if not fitting:
        raise RuntimeError(f"{name} does not fit on {device.device} at batch {settings['start_batch']} "
                           f"(--start-batch), or that is above --max-batch {limit}")
    return fitting[-1], probes


def model_cell(device, name, batch, steps, rounds, samples=20):
    """The memory of zoo model `name` over `steps` training steps, then `rounds` rounds of inference, at `batch`.

    Args:
        device: the `backends` helper of the running backend.
        name: a zoo model, built fresh and compiled with Adam.
        batch: images per step.
        steps: training steps (`train_on_batch`).
        rounds: rounds of inference (see `workload`).
        samples: memory samples per phase after its warm-up.

    Returns:
        A dict: `model`, `batch_size`, `inference_sizes`, and per phase (`train`, `inference`) what `track`
        returns.

    Example:
        >>> cell = model_cell(backends.current(), "vae", 1024, steps=200, rounds=20)
        >>> cell["train"]["rss"]["growth_mb"] < 30
        True
    """
    step, infer = workload(device, compiled(name), batch)
    return {"model": name, "batch_size": batch, "inference_sizes": inference_sizes(batch),
            "train": track(step, steps, device, samples), "inference": track(infer, rounds, device, samples)}


def supported(device, settings):
    """`settings` less the models that `device` cannot train for this many steps in minutes, and a note of them.

    Args:
        device: the `backends` helper of the running backend.
        settings: the run's; its `models` are read.
    """
    from keras_vae import zoo
    from keras_vae.models.bodies import ConvBody

    if (device.name, device.device) != ("jax", "cpu"):
        return settings, []
    slow = [name for name in settings["models"] if isinstance(zoo.get(name).body, ConvBody)]
    if not slow:
        return settings, []
    note = (f"{', '.join(slow)}: on a CPU, XLA's gradient of a stride-2 transposed convolution takes about a "
            "second for 128 images (layer_times.py); measure the conv models on JAX on a GPU")
    return {**settings, "models": [name for name in settings["models"] if name not in slow]}, [note]


def cells(device, settings):
    """The worker's job (`"job": "memory"`): for each of `settings["models"]`, its largest batch and the memory
    over `settings["steps"]` steps and `settings["rounds"]` rounds there (see `model_cell`), with the probes."""
    import keras

    results = []
    for name in settings["models"]:
        batch, probes = largest_batch(device, name, settings)
        cell = model_cell(device, name, batch, settings["steps"], settings["rounds"], settings["samples"])
        results.append({**cell, "probes": probes})
        keras.backend.clear_session()
    return results


#: the table's memory columns: (memory, summary key)
COLUMNS = [("rss", "after_warmup_mb"), ("rss", "end_mb"), ("rss", "peak_mb"), ("rss", "growth_mb"),
           ("rss", "mb_per_100"), ("device", "after_warmup_mb"), ("device", "end_mb"), ("device", "growth_mb")]


def _mb(phase, memory, key):
    """One table entry: `phase`'s `memory` summary at `key`, in MB, with a sign for a change."""
    if phase[memory] is None:
        return "n/a"
    value = phase[memory][key]
    return f"{value:+,.1f}" if key in ("growth_mb", "mb_per_100") else f"{value:,.0f}"


def _chosen_by(cell):
    if not cell["probes"]:
        return "--max-batch (a CPU)"
    last = cell["probes"][-1]
    if last["fits"] is None:
        return f"{last['batch']} would hold a tensor of more than 2**31 - 1 elements"
    return "--max-batch" if last["fits"] else f"{last['batch']} is out of memory"


def markdown(report):
    """One row per model, backend and phase: the batch, why it is not larger, and the memory's growth."""
    results = report["backends"]
    settings = report["settings"]
    lines = [f"# Memory over {settings['steps']} training steps and {settings['rounds']} rounds of inference on "
             f"{report['device']}", "", f"`{report['command']}`", "",
             f"{report['host']['cpu']}, {report['host']['cpu_count']} cores; Keras {results[0]['keras_version']}; "
             + "; ".join(f"{r['backend']} {r['backend_version']} (device {r['device']})" for r in results) + ".",
             *[f"Not measured on {r['backend']}: {note}." for r in results for note in r["skipped"]], "",
             "MB = 2^20 bytes, sampled after a garbage collection. 'after warm-up' is the first sample, taken once "
             "the first tenth of the phase's calls is done; 'growth' is the last sample less that one; 'per 100' "
             "the least-squares slope per 100 steps (train) or rounds (inference: `predict`, `encode` and "
             "`decode` at each of the sizes). RSS is the process's resident memory (VmRSS); 'device' the "
             "accelerator's memory in use.", "",
             "| model | backend | batch | why not larger | phase | calls | inference sizes | RSS after warm-up | "
             "RSS end | RSS peak | RSS growth | RSS per 100 | device after warm-up | device end | device growth |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for result in results:
        for cell in result["cells"]:
            for name in PHASES:
                phase = cell[name]
                sizes = ", ".join(map(str, cell["inference_sizes"])) if name == "inference" else ""
                memory = " | ".join(_mb(phase, *column) for column in COLUMNS)
                lines.append(f"| {cell['model']} | {result['backend']} | {cell['batch_size']} | {_chosen_by(cell)} "
                             f"| {name} | {phase['calls']} | {sizes} | {memory} |")
    return "\n".join(lines) + "\n"


def settings_from(args):
    """The run's settings: the command line's, with `QUICK`'s (under --quick) for those left at default."""
    settings = {"job": "memory", **{key: getattr(args, key) for key in (
        "models", "steps", "rounds", "samples", "start_batch", "max_batch")}}
    if args.quick:
        defaults = vars(_parser().parse_args([]))
        settings.update({key: value for key, value in QUICK.items() if settings[key] == defaults[key]})
    from keras_vae import zoo

    for name in settings["models"]:
        zoo.entry(name)  # an unknown name fails now, with the known ones listed
    unknown = sorted(set(args.backends) - set(throughput.BACKENDS))
    counts = [settings[key] for key in ("steps", "rounds", "samples", "start_batch", "max_batch")
              if settings[key] is not None]
    if unknown or min(counts) < 1:
        raise SystemExit(f"memory.py: bad settings: unknown backends {unknown}; steps, rounds, samples and "
                         f"batches must be positive: {settings}")
    return settings


def main(argv=None):
    args = _parser().parse_args(argv)
    throughput.run_and_report("memory.py", argv, settings_from(args), args.backends, args.out, "-memory", markdown)


if __name__ == "__main__":
    main()
