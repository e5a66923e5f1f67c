"""Each export format's size on disk and latency per call: SavedModel (TensorFlow), ONNX (onnxruntime), LiteRT.

    python benchmarks/export_formats.py --out benchmarks/results/cpu-epyc-2-cores-export
    python benchmarks/export_formats.py --quick --out /tmp/export      # seconds: for CI

For each zoo model (its pretrained weights), `keras_vae.export.export` writes the three formats from this
process's Keras backend. Each endpoint (encode, decode, reconstruct) of each format is then timed on a batch of
`--batch` test-like images (uniform noise in [0, 1]; a conditional model gets labels 0..9 in turn), as served:
the SavedModel's functions called with TensorFlow tensors, an onnxruntime `InferenceSession`, and the LiteRT
interpreter's signature runner, each runtime with as many threads as the machine has cores. Timing is
`timing.measure`'s: a warm-up call, then `--repeats` repeats of at least 0.2 s; the latency is the median
milliseconds per call. A CPU shared with other work is noisy: compare formats within one run (`vs SavedModel`).
Writes OUT.json and OUT.md (OUT defaults to benchmarks/results/<device>-export).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import throughput  # noqa: E402
import timing  # noqa: E402

FORMATS = ("saved_model", "onnx", "litert")
ENDPOINTS = ("encode", "decode", "reconstruct")
QUICK = {"models": ["vae"], "repeats": 2}


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="vae only, 2 repeats: for CI")
    parser.add_argument("--models", type=throughput._list(), default=["vae", "conv_vae", "cvae"])
    parser.add_argument("--batch", type=int, default=64, help="images per call")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", help="path without suffix (default benchmarks/results/<device>-export)")
    return parser


def size_bytes(path):
    """The bytes of a file, or of every file under a directory."""
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def runners(format, path):
    """endpoint -> a function of the endpoint's named NumPy inputs that serves it from the export at `path`."""
    threads = os.cpu_count()
    if format == "saved_model":
        import tensorflow as tf

        served = tf.saved_model.load(str(path))
        return {name: lambda inputs, name=name: [v.numpy() for v in getattr(served, name)(**inputs).values()]
                for name in ENDPOINTS}
    if format == "onnx":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        sessions = {name: onnxruntime.InferenceSession(str(path / f"{name}.onnx"), options) for name in ENDPOINTS}
        return {name: lambda inputs, session=session: session.run(None, inputs) for name, session in sessions.items()}
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    return {name: lambda inputs, runner=interpreter.get_signature_runner(name): runner(**inputs) for name in ENDPOINTS}


def inputs_of(model, batch):
    """endpoint -> its named NumPy inputs for a batch of `batch` images."""
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(batch, *model.image_shape)).astype("float32")
    z = rng.normal(size=(batch, model.latent_dim)).astype("float32")
    labels = {"labels": (np.arange(batch) % model.num_classes).astype("int32")} if model.num_classes else {}
    return {"encode": {"images": images, **labels}, "decode": {"z": z, **labels},
            "reconstruct": {"images": images, **labels}}


def measure_model(name, batch, repeats, folder):
    """format -> {"bytes", "export_s", endpoint -> timing} for the zoo model `name`."""
    from keras_vae import export, zoo

    model = zoo.get(name, pretrained=True)
    inputs = inputs_of(model, batch)
    results = {}
    for format in FORMATS:
        path = folder / (f"{name}.tflite" if format == "litert" else f"{name}-{format}")
        start = time.perf_counter()
        export.export(model, path, format)
        results[format] = {"bytes": size_bytes(path), "export_s": time.perf_counter() - start}
        for endpoint, run in runners(format, path).items():
            cell = timing.measure(lambda: run(inputs[endpoint]), batch, repeats=repeats)
            results[format][endpoint] = {**cell, "ms_per_call": 1000 * batch / cell["samples_per_s"]}
    return results


def markdown(report):
    """Each model's formats: size, each endpoint's milliseconds per call, and reconstruct against the SavedModel."""
    settings, host = report["settings"], report["host"]
    lines = [f"# Export formats on {report['device']}", "", f"`{report['command']}`", "",
             f"{host['cpu']}, {host['cpu_count']} cores; exported from the {settings['backend']} backend; "
             f"{settings['batch']} images per call; median of {settings['repeats']} repeats (spread (max - min) / "
             f"median); each runtime with {settings['threads']} threads. vs SavedModel: the SavedModel's "
             "milliseconds over the format's "
             "(above 1: faster).", "",
             "| model | format | size (kB) | " + " | ".join(f"{e} ms/call" for e in ENDPOINTS)
             + " | reconstruct vs SavedModel |", "|---|---|---|---|---|---|---|"]
    for name, formats in report["backends"][0]["models"].items():
        baseline = formats["saved_model"]["reconstruct"]["ms_per_call"]
        for format, cell in formats.items():
            times = " | ".join(f"{cell[e]['ms_per_call']:.2f} ±{cell[e]['spread']:.0%}" for e in ENDPOINTS)
            lines.append(f"| {name} | {format} | {cell['bytes'] / 1000:.0f} | {times} | "
                         f"{baseline / cell['reconstruct']['ms_per_call']:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.quick:
        args.models, args.repeats = QUICK["models"], QUICK["repeats"]
    import keras

    from keras_vae import zoo

    for name in args.models:
        zoo.entry(name)  # an unknown name is refused before any work
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        models = {name: measure_model(name, args.batch, args.repeats, Path(folder)) for name in args.models}
    settings = {"models": args.models, "batch": args.batch, "repeats": args.repeats,
                "backend": keras.backend.backend(), "threads": os.cpu_count()}
    report = throughput.report_of("export_formats.py", argv, settings, [{"device": "cpu", "models": models}], start)
    out = Path(args.out) if args.out else HERE / "results" / (throughput._slug(report["device"]) + "-export")
    throughput.write_report(out, report, markdown(report))


if __name__ == "__main__":
    main()
