"""How every benchmark cell is timed, and the facts each result carries.

A cell is timed as DESIGN.md asks: one warm-up call (its duration, compilation included, is reported apart),
then `repeats` timed calls, each ending with the device synchronised (the call returns only once a value
computed on the device has been read back), and the median and spread of the samples per second. `fit` is
timed by its epochs, within one call, so that what is measured is the steady state a user's training runs at.
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


def measure_fit(model, x, y, batch_size, repeats=5):
    """Times `model.fit` epoch by epoch in one call: the first epoch is the warm-up, each later one a repeat.

    Keras reads the epoch's logs back before `on_epoch_end`, so every epoch ends with the device done.

    Args:
        model: a compiled model.
        x: the training inputs of one epoch; y: their targets, or None.
        batch_size: images per step.
        repeats: timed epochs.
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

    timer = EpochTimer()
    model.fit(x, y, epochs=repeats + 1, batch_size=batch_size, shuffle=False, verbose=0, callbacks=[timer])
    return summary(timer.seconds[0], timer.seconds[1:], len(x))


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
