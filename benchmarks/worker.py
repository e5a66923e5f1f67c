"""One backend's share of `throughput.py`: run by it in a subprocess with KERAS_BACKEND set, never by hand.

    KERAS_BACKEND=jax python benchmarks/worker.py SETTINGS.json RESULTS.json

SETTINGS.json holds the axes (models, batch sizes, dtype policies, jit_compile, steps_per_execution, replicas, peers,
repeats), or `"job": "layers"`, `"convolutions"` or `"memory"` and the settings of `layer_times.py`,
`convolutions.py` or `memory.py`;
RESULTS.json receives the backend's facts and one record per measured cell.
"""

import importlib
import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import keras
import numpy as np

import backends
import convolutions
import flops
import layer_times
import memory
import timing
from keras_vae import distribution, zoo
from peers import ARCHITECTURES


def _images(count, image_shape=(28, 28, 1)):
    return np.random.default_rng(0).random((count, *image_shape), dtype=np.float32)


def labels_one_hot(model, count):
    """The one-hot labels a conditional model's networks take besides their input (none for the others)."""
    if not model.num_classes:
        return []
    return [np.eye(model.num_classes, dtype="float32")[np.arange(count) % model.num_classes]]


def _fit_data(model, images):
    return (images, np.arange(len(images)) % model.num_classes) if model.num_classes else (images, None)


def keras_vae_record(name, policy, batch, measure, result, flops_per_sample, **extra):
    """One measured cell of a zoo model: what was measured, the settings in `extra`, and `result` (`timing`'s)."""
    return {"kind": "keras_vae", "model": name, "policy": policy, "batch_size": batch, "measure": measure, **extra,
            **result, "flops_per_sample": flops_per_sample}


def _keras_vae_cells(device, name, policy, batch, settings):
    """The training and inference cells of one zoo model at one dtype policy and batch size."""
    return training_cells(device, name, policy, batch, settings) + inference_cells(name, policy, batch, settings)


def training_cells(device, name, policy, batch, settings):
    """`fit` (per jit_compile, steps_per_execution and replicas of `settings`) and the tight loop (per
    jit_compile) of one zoo model's train_step at one dtype policy and batch size."""
    steps = max(2, settings["images_per_call"] // batch)
    keras.config.set_dtype_policy(policy)
    per_sample = flops.model_flops(zoo.get(name))["train"]
    cells = []
    for jit_compile in settings["jit_compile"]:
        for per_execution in settings["steps_per_execution"]:
            for replicas in settings["replicas"]:
                with distribution.scope("data-parallel", devices=replicas) if replicas > 1 else nullcontext():
                    model = zoo.get(name)
                    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile,
                                  steps_per_execution=per_execution)
                    x, y = _fit_data(model, _images(batch * steps))
                    timed = timing.measure_fit(model, x, y, batch, settings["repeats"], settings["epoch_seconds"])
                cells.append(keras_vae_record(name, policy, batch, "train_fit", timed, per_sample,
                                              jit_compile=jit_compile, steps_per_execution=per_execution,
                                              replicas=replicas))
        model = zoo.get(name)
        data = backends.training_batch(device, model, batch)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile)  # resolves "auto"
        timed = timing.measure(device.train_loop(model, data, steps, model.jit_compile), batch * steps,
                               settings["repeats"], settings["min_seconds"])
        cells.append(keras_vae_record(name, policy, batch, "train_loop", timed, per_sample, jit_compile=jit_compile,
                                      steps_per_execution=None, replicas=1))
    keras.config.set_dtype_policy("float32")
    return cells


INFERENCE = ("encode", "decode", "reconstruct")


def inference_cells(name, policy, batch, settings, measures=INFERENCE):
    """`predict` of one zoo model's encoder (`encode`), decoder (`decode`, what `sample` runs) and the whole model
    (`reconstruct`), those of them in `measures`, on NumPy arrays at one dtype policy and batch size."""
    steps = max(2, settings["images_per_call"] // batch)
    keras.config.set_dtype_policy(policy)
    model = zoo.get(name)
    per_sample = flops.model_flops(model)
    condition = labels_one_hot(model, batch * steps)
    cells = []
    for measure in measures:
        if measure == "decode":
            network = model.decoder
            data = np.random.default_rng(1).standard_normal((batch * steps, model.latent_dim)).astype("float32")
        else:
            network, data = (model.encoder if measure == "encode" else model), _images(batch * steps)
        timed = timing.measure_predict(network, [data, *condition] if condition else data, batch,
                                       settings["repeats"], settings["epoch_seconds"])
        cells.append(keras_vae_record(name, policy, batch, measure, timed, per_sample[measure], jit_compile="auto",
                                      steps_per_execution=1, replicas=1))
    keras.config.set_dtype_policy("float32")
    return cells


#: peer name -> (module, the backend it runs in, keyword arguments)
PEERS = {
    "torch_eager": ("peers.torch_loop", "torch", {}),
    "torch_compile": ("peers.torch_loop", "torch", {"compiled": True}),
    "jax_jit": ("peers.jax_step", "jax", {}),
    "keras_tutorial": ("peers.keras_tutorial", "tensorflow", {}),
}


def peer_cells(backend, batch, settings):
    """The peers that run on `backend`, training at `batch`."""
    steps = max(2, settings["images_per_call"] // batch)
    cells = []
    for peer in settings["peers"]:
        module, home, kwargs = PEERS[peer]
        if home != backend:
            continue
        for architecture in settings["peer_architectures"]:
            result = importlib.import_module(module).measure(architecture, _images(batch), steps, settings, **kwargs)
            name = ARCHITECTURES[architecture]
            cells.append({"kind": "peer", "peer": peer, "model": name, "policy": "float32", "batch_size": batch,
                          "measure": "train", **result,
                          "flops_per_sample": flops.model_flops(zoo.get(name))["train"]})
    return cells


def _supported(settings, backend, on_cpu):
    """`settings` less what `backend` cannot run, and a note of each thing left out."""
    skipped = []
    if backend == "torch" and any(n != 1 for n in settings["steps_per_execution"]):
        skipped.append("steps_per_execution > 1: Keras's torch backend runs one step per execution")
        settings = {**settings, "steps_per_execution": [1]}
    replicas = settings.get("replicas", [1])
    if backend == "torch" and replicas != [1]:
        skipped.append("replicas > 1: Keras has no distribution engine for PyTorch")
        replicas = [1]
    if backend == "jax" and on_cpu and replicas != [1]:
        skipped.append("replicas > 1 on virtual CPU devices: on the 2-core CPU, XLA's CPU all-reduce stalled in a "
                       "fit epoch of 160 steps dispatched without waiting (40 s rendezvous timeout, process "
                       "aborted), while 64 steps ran")
        replicas = [1]
    even = _even_replicas(settings)
    uneven = [n for n in replicas if n not in even]
    if uneven:
        skipped.append(f"replicas {uneven}: a batch size does not split evenly across them")
    return {**settings, "replicas": [n for n in replicas if n in even]}, skipped


def _even_replicas(settings):
    """The replica counts that split every batch size evenly."""
    return [n for n in settings.get("replicas", [1]) if not any(batch % n for batch in settings["batch_sizes"])]


def _throughput_cells(device, settings, matmul):
    cells = []
    for batch in settings["batch_sizes"]:
        for name in settings["models"]:
            for policy in settings["policies"]:
                cells += _keras_vae_cells(device, name, policy, batch, settings)
        cells += peer_cells(device.name, batch, settings)
    return with_rates(cells, device.name, matmul)


def with_rates(cells, backend, matmul):
    """`cells`, each given its backend, its achieved GFLOP/s and their share of the `matmul` rate (GFLOP/s)."""
    for cell in cells:
        cell["backend"] = backend
        cell["achieved_gflops"] = cell["samples_per_s"] * cell["flops_per_sample"] / 1e9
        cell["fraction_of_matmul"] = cell["achieved_gflops"] / matmul
    return cells


def main(settings_path, results_path):
    settings = json.loads(Path(settings_path).read_text())
    split = max(_even_replicas(settings), default=1) if "batch_sizes" in settings else 1
    if keras.config.backend() == "tensorflow" and split > 1:
        # before TensorFlow starts, as many logical CPUs as the largest replica count that runs (GPUs come first).
        # Not on JAX: its CPU runs no replicas (see `_supported`), and a split CPU would change its other numbers
        distribution.virtual_cpu_devices(split)
    device = backends.current()
    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    matmul = device.matmul_rate()
    if settings.get("job") == "layers":  # layer_times.py
        skipped = []
        cells = [c for name in settings["models"] for c in layer_times.layer_cells(device, name,
                                                                                   settings["batch_size"], settings)]
    elif settings.get("job") == "convolutions":  # convolutions.py
        skipped, cells = [], convolutions.cells(device, settings)
    elif settings.get("job") == "memory":  # memory.py
        settings, skipped = memory.supported(device, settings)
        cells = memory.cells(device, settings)
    else:
        settings, skipped = _supported(settings, device.name, device.device == "cpu")
        cells = _throughput_cells(device, settings, matmul)
    result = {"backend": device.name, "backend_version": device.version, "keras_version": keras.__version__,
              "device": device.device, "matmul_gflops_float32": matmul, "peak_memory_mb": device.peak_memory_mb(),
              "peak_rss_mb": timing.peak_rss_mb(), "wall_s": time.perf_counter() - start, "skipped": skipped,
              "cells": cells}
    with open(results_path, "w") as file:
        json.dump(result, file, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:])
