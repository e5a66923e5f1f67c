"""The importance-weighted objective of the IWAE family and of the hierarchical VAE against quadrature (see
tests/quadrature.py): with many samples the loss is minus the exact log-likelihood, with one per group the ELBO."""

import numpy as np
import pytest

from keras_vae.models import IWAE
from quadrature import IMAGES, hvae_quadrature, iwae_quadrature, tiny_hvae, tiny_iwae
from harness import bound_losses

FAMILIES = {"IWAE": (tiny_iwae, iwae_quadrature), "HierarchicalVAE": (tiny_hvae, hvae_quadrature)}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("k, groups, bound", [
    pytest.param(20_000, 1, "log p(x)", id="k large: the exact likelihood"),
    pytest.param(1, 20_000, "ELBO", id="groups of one sample (MIWAE): the ELBO"),
])
def test_the_bound_is_the_likelihood_for_many_samples_and_the_elbo_for_one(family, k, groups, bound):
    """Through evaluate (test_step) and a fit step at learning rate 0 (train_step), on four images."""
    build, quadrature = FAMILIES[family]
    model = build(k=k, groups=groups)
    log_px, elbo = quadrature(model)[:2]
    assert np.all(log_px - elbo > 0.3)  # the two bounds are 10 tolerances apart, at least
    expected = -np.mean(log_px if bound == "log p(x)" else elbo)
    evaluated, trained = bound_losses(model, IMAGES)
    assert evaluated["loss"] == pytest.approx(expected, abs=0.03)
    assert trained == pytest.approx(expected, abs=0.03)
    if family == "IWAE":  # the reported terms are the ELBO's, whatever the bound: their sum is minus the ELBO
        assert evaluated["reconstruction_loss"] + evaluated["kl_loss"] == pytest.approx(-np.mean(elbo), abs=0.03)


@pytest.mark.parametrize("arguments, message", [
    ({"k": 0}, "k must be a positive int, got 0"),
    ({"groups": 2.0}, "groups must be a positive int, got 2.0"),
])
def test_bad_sample_counts_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        IWAE(**arguments)
