"""How every benchmark cell is timed, and the facts each result carries.

A cell is timed as DESIGN.md asks: one warm-up call (its duration, compilation included, is reported apart),
then `repeats` timed calls, each ending with the device synchronised (the call returns only once a value
computed on the device has been read back), and the median and spread of the samples per second. `fit` is
timed by its epochs within one call, and `predict` by its calls, each pass long enough (a second by default)
that what is measured is the steady state a user's training and inference run at.
"""

import os
import platform
import statistics
import time


def measure(run, samples_per_call, repeats=5, min_seconds=0.2):
    """Times `run()`, which does the work and returns only once the device is done.

    The first call is the warm-up; it also sets how many times `run` is called per timed repeat, so that a
    repeat lasts at least `min_seconds` (fast cells are not timed at the clock's resolution).

    Args:
        run: a function doing one unit of work (a few steps, one epoch), synchronised before it returns.
        samples_per_call: the images one call processes.
        repeats: timed repeats (at least 5 for a reported number).
        min_seconds: the least duration of one repeat.

    Returns:
        A dict: `warmup_s` (the first call, compilation included), `calls_per_repeat`, `seconds` (per
        repeat), `samples_per_s` (median), `spread` ((max - min) / median of the per-repeat rates).
    """
    start = time.perf_counter()
    run()
    warmup = time.perf_counter() - start
    start = time.perf_counter()
    run()
    once = max(time.perf_counter() - start, 1e-6)
    calls = max(1, int(min_seconds / once + 0.999))
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            run()
        seconds.append(time.perf_counter() - start)
    return summary(warmup, seconds, samples_per_call, calls)


def summary(warmup, seconds, samples_per_call, calls=1):
    """The result of a cell from its warm-up and per-repeat durations (see `measure`)."""
    rates = [calls * samples_per_call / s for s in seconds]
    median = statistics.median(rates)
    return {"warmup_s": round(warmup, 4), "calls_per_repeat": calls, "samples_per_call": samples_per_call,
            "seconds": seconds, "samples_per_s": median, "spread": (max(rates) - min(rates)) / median}


def _copies(arrays, once, min_seconds):
    """`arrays` (NumPy, or None) repeated so that a pass that took `once` seconds takes at least `min_seconds`."""
    import numpy as np

    copies = max(1, int(min_seconds / once + 0.999))
    return [None if a is None else np.concatenate([a] * copies) for a in arrays]


def _timed(function, *args):
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def measure_fit(model, x, y, batch_size, repeats=5, min_seconds=1.0):
    """Times `model.fit` epoch by epoch, with epochs long enough that the per-epoch work is amortised.

    One epoch over `x` is the warm-up (compilation included); a second one, timed, sets how many copies of
    `x` an epoch holds so that it lasts at least `min_seconds` (an epoch of a few steps would time Keras's
    per-epoch set-up, not training: users' MNIST epochs are hundreds of steps). Then one `fit` call of
    `repeats` epochs, each a timed repeat. Keras reads the epoch's logs back before `on_epoch_end`, so every
    epoch ends with the device done.

    Args:
        model: a compiled model.
        x: the training inputs of one pass; y: their targets, or None.
        batch_size: images per step.
        repeats: timed epochs.
        min_seconds: the least duration of one timed epoch.
    """
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    def fit(x, y, epochs):
        timer = EpochTimer()
        model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0, callbacks=[timer])
        return timer.seconds

    (warmup,), (once,) = fit(x, y, 1), fit(x, y, 1)
    x, y = _copies((x, y), once, min_seconds)
    return summary(warmup, fit(x, y, repeats), len(x))


def measure_predict(network, inputs, batch_size, repeats=5, min_seconds=1.0):
    """Times `network.predict` over `inputs` repeated so that one call lasts at least `min_seconds`.

    Like `measure_fit`: a warm-up call, a timed call that sizes the data, then `repeats` timed calls. A call
    returns NumPy arrays, so it ends with the device done.

    Args:
        network: a Keras model (the encoder, the decoder, or the whole autoencoder).
        inputs: a NumPy array, or a list of them for a model with several inputs.
        batch_size: images per step.
        repeats: timed calls.
        min_seconds: the least duration of one timed call.
    """
    arrays = inputs if isinstance(inputs, list) else [inputs]

    def predict(arrays):
        network.predict(arrays if len(arrays) > 1 else arrays[0], batch_size=batch_size, verbose=0)

    warmup, once = _timed(predict, arrays), _timed(predict, arrays)
    arrays = _copies(arrays, once, min_seconds)
    return summary(warmup, [_timed(predict, arrays) for _ in range(repeats)], len(arrays[0]))


def cpu_model():
    """The processor's model name (from /proc/cpuinfo on Linux), else what `platform` says."""
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_facts():
    """The machine and Python, as every result file records them."""
    return {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}


def peak_rss_mb():
    """This process's peak resident memory in MiB (the CPU's 'peak memory')."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
