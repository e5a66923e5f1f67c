"""Where a training step's time goes: each layer of a zoo model timed alone, forward and forward + backward.

    python benchmarks/layer_times.py --models conv_vae --batch-size 128       # every backend, CPU or GPU
    python benchmarks/layer_times.py --quick --backends torch                  # seconds: for CI

For each layer of the encoder and the decoder with one input (the layers that join inputs, as in the conditional
model, are left out), on a device-resident random batch of the layer's own input shape: the forward pass, and the
forward pass with the gradients of a sum of squares with respect to the layer's input and weights, each compiled
as the backend compiles a training step (`tf.function`, `jax.jit`, eager torch) and timed as `throughput.py`
times its cells (warm-up apart, synchronised, median of the repeats). The table puts each layer's FLOPs and
achieved rate beside its share of the sum, and the sum beside the whole `train_step` measured in the same run:
the difference is the loss, the optimizer and what joins the layers. Writes OUT.json and OUT.md; OUT defaults
to benchmarks/results/<device>-layers.
"""

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import throughput  # noqa: E402
import timing  # noqa: E402

QUICK = {"models": ["conv_vae"], "batch_size": 32, "repeats": 5, "min_seconds": 0.0}
#: images one timed call runs through a layer (or the whole step), as throughput.py's --images-per-call
IMAGES_PER_CALL = 512


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="conv_vae at batch 32, no least duration: for CI")
    parser.add_argument("--models", type=throughput._list(), default=["conv_vae"])
    parser.add_argument("--backends", type=throughput._list(), default=list(throughput.BACKENDS))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.2, help="least duration of one timed repeat")
    parser.add_argument("--out", help="path without suffix (default benchmarks/results/<device>-layers)")
    return parser


def layer_cells(device, name, batch, settings):
    """One record per timed layer of zoo model `name`, and one for its whole `train_step` (the loop's)."""
    import keras
    import numpy as np

    import backends
    import flops
    from keras_vae import zoo

    model = zoo.get(name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    steps = max(2, IMAGES_PER_CALL // batch)
    rng = np.random.default_rng(0)
    cells = []
    for network in (model.encoder, model.decoder):
        for layer in network.layers:
            if isinstance(layer, keras.layers.InputLayer) or isinstance(layer.input, (list, tuple)):
                continue
            x = device.to_device(rng.random((batch, *layer.input.shape[1:]), dtype=np.float32))
            forward, backward = device.layer_calls(layer)
            times = {}
            for measure, function in (("forward", forward), ("train", backward)):
                run = _repeated(function, device.sync, x, steps)
                times[measure] = timing.measure(run, batch * steps, settings["repeats"], settings["min_seconds"])
            cells.append({"model": name, "network": network.name, "layer": layer.name, "class": type(layer).__name__,
                          "output_shape": list(layer.output.shape[1:]), "flops_per_sample": flops.layer_flops(layer),
                          "forward": times["forward"], "train": times["train"]})
    data = backends.training_batch(device, model, batch)
    step = timing.measure(device.train_loop(model, data, steps, model.jit_compile), batch * steps,
                          settings["repeats"], settings["min_seconds"])
    cells.append({"model": name, "network": "model", "layer": "train_step", "class": type(model).__name__,
                  "flops_per_sample": flops.model_flops(model)["reconstruct"], "train": step})
    return cells


def _repeated(function, sync, x, steps):
    import keras

    def run():
        for _ in range(steps):
            out = function(x)
        for value in keras.tree.flatten(out):
            sync(value)

    return run


def _ms(cell, measure, batch):
    return 1e3 * batch / cell[measure]["samples_per_s"]


def _rate(cell, batch, matmul):
    """A cell's `train` time per batch in ms, its GFLOP/s (3x the forward FLOPs) and that as a share of `matmul`."""
    train_ms = _ms(cell, "train", batch)
    gflops = 3 * cell["flops_per_sample"] * batch / train_ms / 1e6
    return train_ms, gflops, gflops / matmul


def markdown(report):
    """One table per model and backend: each layer's time per batch, FLOPs, rate and share."""
    batch = report["settings"]["batch_size"]
    lines = [f"# Layer by layer on {report['device']}", "", f"`{report['command']}`", "",
             f"Batch {batch}. Milliseconds per batch (median of {report['settings']['repeats']}); 'train' is the "
             "forward pass and the gradients with respect to the layer's input and weights; GFLOP/s counts 3x the "
             "forward FLOPs for it, and 'matmul' compares that with the backend's float32 matmul rate.", ""]
    for result in report["backends"]:
        for name in report["settings"]["models"]:
            cells = [c for c in result["cells"] if c["model"] == name]
            layers, (step,) = cells[:-1], cells[-1:]
            total = sum(_ms(c, "train", batch) for c in layers)
            lines += [f"## {name} on {result['backend']} {result['backend_version']} ({result['device']}, float32 "
                      f"matmul {result['matmul_gflops_float32']:,.0f} GFLOP/s)", "",
                      "| network | layer | class | output | MFLOP/sample | forward ms | train ms | GFLOP/s | matmul "
                      "| share |", "|---|---|---|---|---|---|---|---|---|---|"]
            matmul = result["matmul_gflops_float32"]
            for c in layers:
                train_ms, gflops, share = _rate(c, batch, matmul)
                lines.append(f"| {c['network']} | {c['layer']} | {c['class']} | {'x'.join(map(str, c['output_shape']))} "
                             f"| {c['flops_per_sample'] / 1e6:.2f} | {_ms(c, 'forward', batch):.2f} | {train_ms:.2f} "
                             f"| {gflops:.1f} | {share:.1%} | {train_ms / total:.1%} |")
            step_ms, gflops, share = _rate(step, batch, matmul)
            lines += [f"| | sum of the layers | | | | | {total:.2f} | | | 100% |",
                      f"| model | whole `train_step` | {step['class']} | | {step['flops_per_sample'] / 1e6:.2f} | "
                      f"| {step_ms:.2f} | {gflops:.1f} | {share:.1%} | |", ""]
    return "\n".join(lines)


def main(argv=None):
    args = _parser().parse_args(argv)
    settings = {"job": "layers", "models": args.models, "batch_size": args.batch_size, "repeats": args.repeats,
                "min_seconds": args.min_seconds}
    if args.quick:
        settings.update(QUICK)
    from keras_vae import zoo

    for name in settings["models"]:
        zoo.entry(name)  # an unknown name fails now, with the known ones listed
    throughput.run_and_report("layer_times.py", argv, settings, args.backends, args.out, "-layers", markdown)


if __name__ == "__main__":
    main()
