"""Keras's transposed convolution against keras_vae's phase path (`keras_vae.convolutions`), backend by backend.

    python benchmarks/convolutions.py                                # conv_vae and conv_vae_bn, every backend
    python benchmarks/convolutions.py --quick --backends jax         # seconds: for CI

For each zoo model, each backend and each path of the strided transposed convolutions (`--paths`: `keras` for
Keras's op, `phases` for keras_vae's phase decomposition), it times every convolution layer alone (the forward pass,
and the forward pass with the gradients of a sum of squares with respect to the layer's input and weights, as
`layer_times.py` does) and the model's whole `train_step` in a tight compiled loop, all in one process per backend
so that the paths are compared under the same load. This is the measurement behind
`keras_vae.convolutions.PHASES_ON`. Writes OUT.json and OUT.md; OUT defaults to
benchmarks/results/<device>-convolutions.
"""

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import layer_times  # noqa: E402
import throughput  # noqa: E402
import timing  # noqa: E402

PATHS = ("keras", "phases")
QUICK = {"models": ["conv_vae"], "batch_size": 16, "repeats": 2, "min_seconds": 0.0}


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="conv_vae at batch 16, 2 repeats: for CI")
    parser.add_argument("--models", type=throughput._list(), default=["conv_vae", "conv_vae_bn"])
    parser.add_argument("--backends", type=throughput._list(), default=list(throughput.BACKENDS))
    parser.add_argument("--paths", type=throughput._list(), default=list(PATHS))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.2, help="least duration of one timed repeat")
    parser.add_argument("--out", help="path without suffix (default benchmarks/results/<device>-convolutions)")
    return parser


def cells(device, settings):
    """One record per model, path and convolution layer, and one per model and path for the whole step."""
    import keras
    import numpy as np

    import backends
    from keras_vae import convolutions, zoo

    batch, rng, records = settings["batch_size"], np.random.default_rng(0), []
    steps = max(2, layer_times.IMAGES_PER_CALL // batch)
    kept = set(convolutions.PHASES_ON)
    try:
        for name in settings["models"]:
            for path in settings["paths"]:
                convolutions.PHASES_ON.clear()
                convolutions.PHASES_ON.update({convolutions.platform()} if path == "phases" else ())
                keras.utils.set_random_seed(0)
                model = zoo.get(name)
                model.compile(optimizer=keras.optimizers.Adam(1e-3))
                for layer in (layer for network in (model.encoder, model.decoder) for layer in network.layers):
                    if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
                        continue
                    x = device.to_device(rng.random((batch, *layer.input.shape[1:]), dtype=np.float32))
                    times = {measure: timing.measure(layer_times._repeated(function, device.sync, x, steps),
                                                     batch * steps, settings["repeats"], settings["min_seconds"])
                             for measure, function in zip(("forward", "train"), device.layer_calls(layer))}
                    records.append({"model": name, "path": path, "layer": layer.name, "class": type(layer).__name__,
                                    "strides": list(layer.strides), "output_shape": list(layer.output.shape[1:]),
                                    **times})
                data = backends.training_batch(device, model, batch)
                step = timing.measure(device.train_loop(model, data, steps, model.jit_compile), batch * steps,
                                      settings["repeats"], settings["min_seconds"])
                records.append({"model": name, "path": path, "layer": "train_step", "train": step})
                keras.backend.clear_session()
    finally:
        convolutions.PHASES_ON.clear()
        convolutions.PHASES_ON.update(kept)
    return records


def markdown(report):
    """Per backend and model: each convolution's train ms on each path, and the whole step's samples/s."""
    settings = report["settings"]
    batch, paths = settings["batch_size"], settings["paths"]
    lines = [f"# Convolution paths on {report['device']}", "", f"`{report['command']}`", "",
             f"Batch {batch}. 'train' is a layer's forward pass with the gradients with respect to its input and "
             f"weights, in ms per batch (median of {settings['repeats']}), with the strided transposed convolutions on "
             "Keras's op (`keras`) or on keras_vae's phases (`phases`; the other layers run Keras's op on both paths). "
             "The last row is the whole `train_step` in samples/s, and its ratio to the first path.", ""]
    for result in report["backends"]:
        for name in settings["models"]:
            rows = {}
            for cell in (c for c in result["cells"] if c["model"] == name):
                rows.setdefault(cell["layer"], {})[cell["path"]] = cell
            lines += [f"## {name} on {result['backend']} {result['backend_version']} ({result['device']})", "",
                      "| layer | class | strides | output | " + " | ".join(f"{p} train ms" for p in paths) + " |",
                      "|---|---|---|---|" + "---|" * len(paths)]
            for layer, by_path in rows.items():
                if layer == "train_step":
                    continue
                first = by_path[paths[0]]
                lines.append(f"| {layer} | {first['class']} | {'x'.join(map(str, first['strides']))} | "
                             f"{'x'.join(map(str, first['output_shape']))} | " + " | ".join(
                                 f"{layer_times._ms(by_path[p], 'train', batch):.2f}" for p in paths) + " |")
            step = rows["train_step"]
            base = step[paths[0]]["train"]["samples_per_s"]
            lines += ["| whole `train_step`, samples/s | | | | " + " | ".join(
                f"{step[p]['train']['samples_per_s']:,.0f} ({step[p]['train']['samples_per_s'] / base:.2f}x)"
                for p in paths) + " |", ""]
    return "\n".join(lines)


def main(argv=None):
    args = _parser().parse_args(argv)
    settings = {"job": "convolutions", "models": args.models, "batch_size": args.batch_size, "paths": args.paths,
                "repeats": args.repeats, "min_seconds": args.min_seconds}
    if args.quick:
        settings.update(QUICK)
    from keras_vae import zoo

    for name in settings["models"]:
        zoo.entry(name)  # an unknown name fails now, with the known ones listed
    unknown = sorted(set(settings["paths"]) - set(PATHS))
    if unknown:
        raise SystemExit(f"convolutions.py: unknown paths {unknown}; known: {sorted(PATHS)}")
    throughput.run_and_report("convolutions.py", argv, settings, args.backends, args.out, "-convolutions", markdown)


if __name__ == "__main__":
    main()
