"""KL schedules: their factors by hand, and the weights a VAE's training steps really use, on every backend."""

import keras
import numpy as np
import pytest

from keras_vae import schedules
from keras_vae.models import VAE, DenseBody
from harness import narrow_posterior, numpy_loss_terms


@pytest.mark.parametrize("schedule, steps, factors", [
    (schedules.LinearWarmup(steps=8), (0, 2, 6, 8, 9, 10_000), (0.0, 0.25, 0.75, 1.0, 1.0, 1.0)),
    # Fu et al.'s shape: each period of 10 rises over its first 4 steps (ratio 0.4), then holds 1; after 2 cycles, 1
    (schedules.Cyclical(period=10, ratio=0.4, cycles=2), (0, 1, 3, 4, 9, 10, 12, 19, 20, 21, 35),
     (0.0, 0.25, 0.75, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0, 1.0, 1.0)),
    (schedules.Cyclical(period=10, ratio=1.0), (5, 15, 1005), (0.5, 0.5, 0.5)),  # no end: cycles for good
])
def test_the_factor_at_each_step(schedule, steps, factors):
    found = [float(keras.ops.convert_to_numpy(schedule(keras.ops.convert_to_tensor(step)))) for step in steps]
    assert found == pytest.approx(factors, abs=1e-7)


def test_recipe_epochs_become_steps():
    assert schedules.from_epochs({"warmup_epochs": 3}, steps_per_epoch=100, epochs=30) == schedules.LinearWarmup(300)
    assert schedules.from_epochs({"cycles": 4}, steps_per_epoch=100, epochs=30) == schedules.Cyclical(750, 0.5, 4)
    assert schedules.from_epochs(None, steps_per_epoch=100, epochs=30) is None


@pytest.mark.parametrize("schedule, message", [
    ("linear", r"kl_schedule must be a keras_vae.schedules.LinearWarmup or Cyclical \(or None\), got str"),
    (schedules.LinearWarmup, "got type"),
])
def test_a_model_refuses_what_is_not_a_schedule(schedule, message):
    with pytest.raises(TypeError, match=message):
        VAE(kl_schedule=schedule)


@pytest.mark.parametrize("arguments, message", [
    ({"steps": 0}, "LinearWarmup steps must be a positive int, got 0"),
    ({"period": 10, "ratio": 0.0}, r"Cyclical ratio must be a number in \(0, 1\], got 0.0"),
    ({"period": 10, "cycles": 2.5}, "Cyclical cycles must be a positive int, got 2.5"),
])
def test_bad_schedule_arguments_are_refused(arguments, message):
    family = schedules.LinearWarmup if "steps" in arguments else schedules.Cyclical
    with pytest.raises(ValueError, match=message):
        family(**arguments)


def test_training_weighs_the_kl_term_by_the_scheduled_factor_and_evaluation_by_beta(small_mnist, tmp_path):
    """Eight batches of a fixed model (SGD at rate 0) under a 4-step warm-up to beta 2: batch b's loss is its
    reconstruction term plus 2 * min(1, b / 4) times its KL term, from NumPy; a second fit continues the
    schedule from the optimizer's step; evaluation weighs the KL term by beta; the schedule survives a .keras file."""
    (x, _), _ = small_mnist
    x = x[:256]
    model = VAE(latent_dim=3, body=DenseBody(hidden_units=(32,)), beta=2.0, kl_schedule=schedules.LinearWarmup(4))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    narrow_posterior(model, seed=3)  # z is z_mean: every term is exact
    batches = [numpy_loss_terms(model, x[start:start + 32]) for start in range(0, 256, 32)]
    weights = 2.0 * np.minimum(1.0, np.arange(8) / 4)
    history = model.fit(x, batch_size=32, epochs=1, shuffle=False, verbose=0).history
    assert history["kl_weight"] == [pytest.approx(weights.mean(), abs=1e-6)]
    expected = np.mean([terms["reconstruction_loss"] + weight * terms["kl_loss"]
                        for terms, weight in zip(batches, weights)])
    assert history["loss"] == [pytest.approx(expected, rel=1e-5)]
    assert model.fit(x, batch_size=32, epochs=1, shuffle=False, verbose=0).history["kl_weight"] == [2.0]

    evaluated = model.evaluate(x, batch_size=256, verbose=0, return_dict=True)
    whole = numpy_loss_terms(model, x)
    assert evaluated["loss"] == pytest.approx(whole["reconstruction_loss"] + 2.0 * whole["kl_loss"], rel=1e-5)
    assert evaluated["kl_weight"] == 2.0

    model.save(tmp_path / "warm.keras")
    loaded = keras.saving.load_model(tmp_path / "warm.keras", safe_mode=True)
    assert loaded.kl_schedule == schedules.LinearWarmup(4) and loaded.beta == 2.0
