"""Training and inference throughput of the zoo's models on every Keras backend, beside reference peers.

    python benchmarks/throughput.py --quick                                  # seconds: one model, batch 32
    python benchmarks/throughput.py --batch-sizes 32,128,512                 # every zoo model, 3 backends
    python benchmarks/throughput.py --models conv_vae --batch-sizes 128 \\
        --policies float32,mixed_bfloat16,mixed_float16 --jit-compile auto,false --steps-per-execution 1,16
    python benchmarks/throughput.py --backends jax,tensorflow --replicas 1,2,4     # data-parallel fit

Per zoo model, backend, dtype policy and batch size it measures training samples/s through the model's own
`train_step` twice (`fit` on NumPy arrays in epochs of at least `--epoch-seconds`, and the step alone in a tight
compiled loop on a device-resident batch), and inference samples/s of `encode`, `decode` (what `sample` runs) and
`reconstruct` through `predict` (calls of at least `--epoch-seconds`). With `--replicas`, `fit` also runs
data-parallel (`keras_vae.distribution.scope("data-parallel", devices=N)`: JAX's DataParallel, TensorFlow's
MirroredStrategy) over N devices, the global batch split among them; on a machine without enough accelerators
the CPU is split into N virtual devices, which measures the engine's overhead, not a speed-up. Peers, in the same run: the same conv and
dense VAEs as a plain PyTorch loop (eager and `torch.compile`), a hand-written `jax.jit` step, and the Keras
tutorial's GradientTape model (`peers/`).

Each backend runs in its own subprocess (`worker.py`). Each cell: a warm-up call (reported as `warmup_s`,
compilation included), then `--repeats` timed calls that end with the device synchronised; the median
samples/s and the spread are reported, with FLOPs per sample and the fraction of the backend's measured float32
matmul rate. Writes OUT.json (every setting, version and per-repeat time), OUT.md (tables, keras_vae's ratio to
each peer) and OUT.png (training samples/s against batch size); OUT defaults to
benchmarks/results/<device>.
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import timing  # noqa: E402

BACKENDS = ("tensorflow", "jax", "torch")
PEERS = ("torch_eager", "torch_compile", "jax_jit", "keras_tutorial")
QUICK = {"models": ["conv_vae"], "batch_sizes": [32], "policies": ["float32"], "jit_compile": ["auto"],
         "steps_per_execution": [1], "replicas": [1], "peers": ["torch_eager", "jax_jit", "keras_tutorial"],
         "peer_architectures": ["conv"], "repeats": 5, "min_seconds": 0.0, "epoch_seconds": 0.0,
         "images_per_call": 64}


def _list(kind=str):
    return lambda text: [kind(part) for part in text.split(",") if part]


def _jit(text):
    return {"true": True, "false": False, "auto": "auto"}[text.lower()]


def _parser():
    from keras_vae import zoo

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one model, batch 32, a few steps: for CI")
    parser.add_argument("--models", type=_list(), default=zoo.list_models())
    parser.add_argument("--backends", type=_list(), default=list(BACKENDS))
    parser.add_argument("--batch-sizes", type=_list(int), default=[32, 128, 512, 2048, 8192])
    parser.add_argument("--policies", type=_list(), default=["float32"])
    parser.add_argument("--jit-compile", type=_list(_jit), default=["auto"])
    parser.add_argument("--steps-per-execution", type=_list(int), default=[1])
    parser.add_argument("--replicas", type=_list(int), default=[1], help="devices a data-parallel fit spans")
    parser.add_argument("--peers", type=_list(), default=list(PEERS))
    parser.add_argument("--peer-architectures", type=_list(), default=["conv", "dense"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.2, help="least duration of one timed repeat")
    parser.add_argument("--epoch-seconds", type=float, default=1.0,
                        help="least duration of one timed fit epoch or predict call")
    parser.add_argument("--images-per-call", type=int, default=1024, help="images one timed call trains on")
    parser.add_argument("--out", help="path without suffix (default benchmarks/results/<device>)")
    return parser


def settings_from(args):
    """The axes to measure: the command line's, or `QUICK`'s (with --quick) for the ones left at default."""
    settings = {key: getattr(args, key) for key in ("models", "batch_sizes", "policies", "jit_compile",
                                                    "steps_per_execution", "replicas", "peers", "peer_architectures",
                                                    "repeats", "min_seconds", "epoch_seconds",
                                                    "images_per_call")}
    if args.quick:
        defaults = vars(_parser().parse_args([]))
        settings.update({key: value for key, value in QUICK.items() if settings[key] == defaults[key]})
    from keras_vae import zoo

    for name in settings["models"]:
        zoo.entry(name)  # an unknown name fails now, with the known ones listed
    unknown = sorted(set(args.backends) - set(BACKENDS)) + sorted(set(settings["peers"]) - set(PEERS))
    if unknown or settings["repeats"] < 1 or min(settings["batch_sizes"]) < 1 or min(settings["replicas"]) < 1:
        raise SystemExit(f"throughput.py: bad axes: unknown {unknown}, repeats {settings['repeats']}, batch sizes "
                         f"{settings['batch_sizes']}, replicas {settings['replicas']}")
    return settings


def serve(paths, measure):
    """The worker side of `run_backend` for a script that is its own worker (`script --worker SETTINGS RESULTS`):
    writes `measure(settings)` to the results file."""
    settings_path, results_path = map(Path, paths)
    results_path.write_text(json.dumps(measure(json.loads(settings_path.read_text()))))


def run_backend(backend, settings, worker=(str(HERE / "worker.py"),), timeout=None):
    """Runs a worker script in a process of its own under KERAS_BACKEND=`backend`; returns its results.

    Args:
        backend: the Keras backend.
        settings: what the worker measures, passed as a JSON file.
        worker: the script and its arguments before the settings and results files (default `worker.py`).
        timeout: seconds after which the worker is killed and this raises RuntimeError, as for a failed worker
            (None: no limit).
    """
    with tempfile.TemporaryDirectory() as tmp:
        settings_path, results_path = Path(tmp) / "settings.json", Path(tmp) / "results.json"
        settings_path.write_text(json.dumps(settings))
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(HERE.parent), env.get("PYTHONPATH", "")])
        try:
            done = subprocess.run([sys.executable, *worker, str(settings_path), str(results_path)],
                                  env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as error:  # its output so far comes as bytes
            stderr = (error.stderr or b"").decode(errors="replace")[-4000:]
            raise RuntimeError(f"the {backend} worker ran past {timeout:.0f} s and was killed:\n{stderr}") from None
        if done.returncode:
            raise RuntimeError(f"the {backend} worker failed:\n{done.stderr[-4000:]}")
        return json.loads(results_path.read_text())


def _rate(cell):
    return f"{cell['samples_per_s']:,.0f} ±{cell['spread']:.0%}"


def _cells(results, **match):
    return [c for r in results for c in r["cells"] if all(c.get(k) == v for k, v in match.items())]


def markdown(report):
    """The report's tables: training and inference samples/s, and keras_vae's ratio to each peer."""
    results = report["backends"]
    lines = [f"# Throughput on {report['device']}", "", f"`{report['command']}`", "",
             f"{report['host']['cpu']}, {report['host']['cpu_count']} cores; Keras {results[0]['keras_version']}; "
             + "; ".join(f"{r['backend']} {r['backend_version']} (float32 matmul {r['matmul_gflops_float32']:,.0f} "
                         f"GFLOP/s, device {r['device']})" for r in results) + ".",
             *[f"Not measured on {r['backend']}: {note}." for r in results for note in r.get("skipped", [])],
             "", "Median samples/s ± spread ((max - min) / median over the repeats); FLOPs per sample counted from "
             "the layers; 'matmul' is the achieved FLOP rate as a share of the backend's float32 matmul.", "",
             "## Training", "", "| model | backend | policy | batch | jit_compile | steps/exec | replicas | fit | "
             "loop | GFLOP/s (best) | matmul | warm-up s (fit) |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for fit in _cells(results, kind="keras_vae", measure="train_fit"):
        loop = _cells(results, kind="keras_vae", measure="train_loop", model=fit["model"], backend=fit["backend"],
                      policy=fit["policy"], batch_size=fit["batch_size"], jit_compile=fit["jit_compile"],
                      replicas=fit.get("replicas", 1))
        best = max([fit, *loop], key=lambda c: c["samples_per_s"])
        lines.append(f"| {fit['model']} | {fit['backend']} | {fit['policy']} | {fit['batch_size']} | "
                     f"{fit['jit_compile']} | {fit['steps_per_execution']} | {fit.get('replicas', 1)} | {_rate(fit)} | "
                     f"{_rate(loop[0]) if loop else 'n/a'} | {best['achieved_gflops']:.1f} | "
                     f"{best['fraction_of_matmul']:.1%} | {fit['warmup_s']:.1f} |")
    lines += ["", "## Inference (`predict`)", "", "| model | backend | policy | batch | encode | decode | reconstruct |",
              "|---|---|---|---|---|---|---|"]
    for encode in _cells(results, kind="keras_vae", measure="encode"):
        same = {k: encode[k] for k in ("model", "backend", "policy", "batch_size")}
        rates = [_rate(_cells(results, kind="keras_vae", measure=m, **same)[0]) for m in ("decode", "reconstruct")]
        lines.append(f"| {encode['model']} | {encode['backend']} | {encode['policy']} | {encode['batch_size']} | "
                     f"{_rate(encode)} | {' | '.join(rates)} |")
    peers = _cells(results, kind="peer")
    if peers:
        lines += ["", "## keras_vae against the peers (float32 training)", "",
                  "Each ratio: keras_vae's samples/s (fit, and the tight loop, on the backend named) over the peer's, "
                  "same architecture and batch size.", "",
                  "| peer | model | batch | peer samples/s | " + " | ".join(
                      f"{b} fit | {b} loop" for b in report["settings"]["backends"]) + " |",
                  "|---|---|---|---|" + "---|---|" * len(report["settings"]["backends"])]
        for peer in peers:
            ratios = []
            for backend in report["settings"]["backends"]:
                for measure in ("train_fit", "train_loop"):
                    mine = _cells(results, kind="keras_vae", measure=measure, model=peer["model"], backend=backend,
                                  policy="float32", batch_size=peer["batch_size"])
                    mine = [c for c in mine if c.get("steps_per_execution") in (1, None) and c.get("replicas", 1) == 1]
                    ratios.append(f"{max(c['samples_per_s'] for c in mine) / peer['samples_per_s']:.2f}x"
                                  if mine else "n/a")
            lines.append(f"| {peer['peer']} ({peer['backend']}) | {peer['model']} | {peer['batch_size']} | "
                         f"{_rate(peer)} | {' | '.join(ratios)} |")
    return "\n".join(lines) + "\n"


def plot(report, path):
    """Training samples/s (the better of fit and loop) against batch size, one panel per model."""
    from matplotlib.figure import Figure

    results = report["backends"]
    models = report["settings"]["models"]
    columns = min(4, len(models))
    rows = math.ceil(len(models) / columns)
    figure = Figure(figsize=(4 * columns, 3.4 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    colors = {}

    def color(label):  # one colour per series in every panel
        return colors.setdefault(label, f"C{len(colors) % 10}")

    for panel, name in zip(axes, models):
        for result in results:
            for policy in report["settings"]["policies"]:
                points = {}
                for cell in _cells([result], kind="keras_vae", model=name, policy=policy):
                    if cell["measure"].startswith("train") and cell.get("replicas", 1) == 1:
                        points[cell["batch_size"]] = max(points.get(cell["batch_size"], 0), cell["samples_per_s"])
                if points:
                    label = f"keras_vae {result['backend']}" + ("" if policy == "float32" else f" {policy}")
                    panel.plot(*zip(*sorted(points.items())), marker="o", label=label, color=color(label))
            for peer in sorted({c["peer"] for c in _cells([result], kind="peer", model=name)}):
                cells = sorted(_cells([result], kind="peer", model=name, peer=peer), key=lambda c: c["batch_size"])
                panel.plot([c["batch_size"] for c in cells], [c["samples_per_s"] for c in cells], "--", marker="x",
                           label=f"peer {peer}", color=color(f"peer {peer}"))
        panel.set(xscale="log", yscale="log", title=name, xlabel="batch size", ylabel="training samples/s")
        sizes = report["settings"]["batch_sizes"]
        panel.set_xticks(sizes, [str(size) for size in sizes])
        panel.set_xticks([], minor=True)
        panel.grid(alpha=0.3)
        panel.legend(fontsize="x-small")
    for panel in axes[len(models):]:
        panel.set_visible(False)
    figure.suptitle(f"training throughput on {report['device']}")
    figure.savefig(path, dpi=100)


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def device_name(devices):
    """What a report is named after: the accelerators among `devices` (as the backends name them), else the CPU."""
    gpus = sorted(set(devices) - {"cpu", None})  # None: a worker that failed before it named its device
    return ", ".join(gpus) if gpus else f"CPU {timing.cpu_model()}"


def report_of(script, argv, settings, results, start):
    """The whole report of a run of benchmarks/`script`: command, device, host, settings, each backend's results."""
    argv = sys.argv[1:] if argv is None else argv
    return {"command": " ".join(["python", f"benchmarks/{script}", *argv]),
            "device": device_name(r["device"] for r in results), "host": timing.host_facts(),
            "settings": settings, "wall_s": time.perf_counter() - start, "backends": results}


def write_report(out, report, table, figure=None):
    """Writes OUT.json, OUT.md and (with `figure`, a function of a path) OUT.png, each atomically."""
    from keras_vae.files import atomic_path, write_json

    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out.with_suffix(".json"), report)
    with atomic_path(out.with_suffix(".md")) as tmp:
        Path(tmp).write_text(table)
    if figure:
        with atomic_path(out.with_suffix(".png")) as tmp:
            figure(tmp)
    print(f"wrote {out}.json, .md{' and .png' if figure else ''} in {report['wall_s']:.0f} s")


def run_and_report(script, argv, settings, backends, out, suffix, table, figure=None):
    """Runs `settings` on each backend, each in its own worker, and writes the report of `script`.

    Args:
        script, argv: the script's name and arguments, recorded in the report.
        settings: what the workers measure; backends: their names.
        out: path without suffix, or None for results/<device><suffix>.
        table: a function of the report that returns its markdown; figure: one of the report and a path, or None.
    """
    start = time.perf_counter()
    results = [run_backend(backend, settings) for backend in backends]
    report = report_of(script, argv, {**settings, "backends": backends}, results, start)
    out = Path(out) if out else HERE / "results" / (_slug(report["device"]) + suffix)
    write_report(out, report, table(report), figure and (lambda path: figure(report, path)))


def main(argv=None):
    args = _parser().parse_args(argv)
    run_and_report("throughput.py", argv, settings_from(args), args.backends, args.out, "", markdown, plot)


if __name__ == "__main__":
    main()
