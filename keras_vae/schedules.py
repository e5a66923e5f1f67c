"""KL schedules: how the weight of a VAE's KL term grows over training (KL annealing).

A schedule maps the optimizer's step to a factor in [0, 1] that multiplies the model's `beta` while it trains;
evaluation (`test_step`, `evaluate`, validation) always uses `beta` itself, so test losses stay the objective the
model is meant to have (the ELBO for `beta=1`).

- `LinearWarmup(steps)`: the factor rises linearly from 0 to 1 over `steps`, then stays 1 (Bowman et al. 2016;
  Sonderby et al. 2016, "warm-up").
- `Cyclical(period, ratio, cycles)`: the warm-up repeated every `period` steps: rising over the first `ratio` of
  each cycle, 1 for the rest, 1 for good after `cycles` cycles (Fu et al. 2019, "cyclical annealing").

A schedule is a model argument, `VAE(kl_schedule=LinearWarmup(10_000))`, not a callback: it is computed inside the
compiled training step from `model.optimizer.iterations`, which every backend carries through its step (a callback
that assigned a weight between steps would be lost in JAX's stateless step), so a resumed run (whose optimizer is
restored) continues the schedule where it stopped. It is saved in the model's config (`.keras`, presets) and
loads in safe mode. `keras-vae train --kl-warmup EPOCHS` / `--kl-cycles N` and a recipe's `kl_schedule` set one in
epochs (`from_epochs`).

Example:
    >>> import keras_vae
    >>> model = keras_vae.ConvVAE(kl_schedule=keras_vae.schedules.LinearWarmup(steps=5 * 938))
    >>> float(keras_vae.schedules.Cyclical(period=1000, ratio=0.5, cycles=4)(250))   # halfway up the first ramp
    0.5
"""

import keras
from keras import ops

from keras_vae.arguments import positive_int
from keras_vae.configurable import Configurable

class KLSchedule(Configurable):
    """Base class: a factor in [0, 1] for each training step, called with the step as a tensor."""

    def __call__(self, step):
        raise NotImplementedError


def _ramp(position, length):
    """min(1, position / length) in float32."""
    return ops.minimum(1.0, ops.cast(position, "float32") / float(length))


@keras.saving.register_keras_serializable(package="keras_vae")
class LinearWarmup(KLSchedule):
    """The KL factor rises linearly from 0 at step 0 to 1 at step `steps`, then stays 1.

    Args:
        steps: optimizer steps of the warm-up (epochs times batches per epoch).

    Example:
        >>> schedule = LinearWarmup(steps=100)
        >>> [float(schedule(step)) for step in (0, 25, 100, 500)]
        [0.0, 0.25, 1.0, 1.0]
    """

    def __init__(self, steps):
        self.steps = positive_int("LinearWarmup steps", steps)

    def __call__(self, step):
        return _ramp(step, self.steps)


@keras.saving.register_keras_serializable(package="keras_vae")
class Cyclical(KLSchedule):
    """Cyclical annealing (Fu et al. 2019): every `period` steps the factor restarts at 0, rises linearly to 1 over
    the first `ratio` of the period and stays 1 for the rest; after `cycles` periods it stays 1.

    Args:
        period: optimizer steps per cycle.
        ratio: share of each cycle spent rising, in (0, 1].
        cycles: number of cycles; None repeats them for the whole run.

    Example:
        >>> schedule = Cyclical(period=100, ratio=0.5, cycles=2)
        >>> [float(schedule(step)) for step in (0, 25, 50, 99, 100, 125, 200, 225)]
        [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0]
    """

    def __init__(self, period, ratio=0.5, cycles=None):
        self.period = positive_int("Cyclical period", period)
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
            raise ValueError(f"Cyclical ratio must be a number in (0, 1], got {ratio!r}")
        self.ratio = float(ratio)
        self.cycles = None if cycles is None else positive_int("Cyclical cycles", cycles)

    def __call__(self, step):
        step = ops.cast(step, "int32")
        factor = _ramp(step % self.period, max(1, round(self.ratio * self.period)))
        if self.cycles is None:
            return factor
        return ops.where(step >= self.cycles * self.period, 1.0, factor)


def check(schedule):
    """`schedule` if it is None or a `KLSchedule`, else a TypeError saying what a model takes."""
    if schedule is None or isinstance(schedule, KLSchedule):
        return schedule
    if isinstance(schedule, dict):  # a serialised one, from a model's config
        return check(keras.saving.deserialize_keras_object(schedule))
    raise TypeError(f"kl_schedule must be a keras_vae.schedules.LinearWarmup or Cyclical (or None), "
                    f"got {type(schedule).__name__}")


def from_epochs(settings, steps_per_epoch, epochs):
    """The schedule a recipe's `kl_schedule` describes, in steps: `{"warmup_epochs": E}` warms up over E epochs,
    `{"cycles": M, "ratio": R}` anneals over M equal cycles of the run's `epochs` (Fu et al.'s M = 4, R = 0.5).

    Args:
        settings: the recipe's `kl_schedule` dict (checked by `keras_vae.recipes`), or None for no schedule.
        steps_per_epoch: optimizer steps per epoch.
        epochs: epochs of the run.

    Example:
        >>> from_epochs({"warmup_epochs": 10}, steps_per_epoch=938, epochs=30)
        LinearWarmup(steps=9380)
    """
    if settings is None:
        return None
    if "warmup_epochs" in settings:
        return LinearWarmup(settings["warmup_epochs"] * steps_per_epoch)
    return Cyclical(max(1, epochs * steps_per_epoch // settings["cycles"]), settings.get("ratio", 0.5),
                    settings["cycles"])
