"""Every column of every model card reproduces on this backend, on the documented subset.

Each zoo folder holds `check.json`, written on TensorFlow by the card's own command on a subset: the first 100 test
images, 100 importance samples, and a digit classifier trained on the first 5,000 training images:

    keras-vae evaluate NAME --pretrained --k 100 --limit 100 --classifier-images 5000 --json zoo/NAME/check.json

The test repeats the measurement and compares every number: to 1e-5 on the backend that wrote it (evaluation is
seeded), and elsewhere to a tolerance that covers what differs between backends, the random streams of the
posterior samples; a VQ-VAE draws nothing, but a grid vector almost as near two codes may take either, so its
codebook and prior columns agree within `ACROSS_BACKENDS`. Pixel errors draw nothing, so they must agree to 1e-3
on every backend. The IWAE bound, the class accuracy and the share of a VQ-VAE's samples that the classifier
recognises are re-measured on the backend that wrote them only: on the CPU, JAX and PyTorch take minutes over them
(the digit classifier's convolution gradients, the bound's many small decodes), and their code is the same
`keras.ops` that tests/test_evaluate.py runs on every backend.
"""

import json

import keras
import pytest

from keras_vae import data, evaluate, zoo
from keras_vae.models.vq_vae import is_quantized

#: column -> absolute tolerance on a backend other than the one that wrote check.json (the KL term: iwae's
#: 50-dimensional posterior, 10 draws per image, gave 21.35 on JAX and 21.28 on PyTorch against TensorFlow's 21.23)
ACROSS_BACKENDS = {("test_elbo", "loss"): 2.0, ("test_elbo", "reconstruction_loss"): 2.0, ("test_elbo", "kl_loss"): 0.5,
                   ("codebook", "codes_used"): 0.01, ("codebook", "perplexity"): 1.0, ("prior", "bits_per_code"): 0.01}
DRAWS_NOTHING = {("reconstruction_error", "pixel_mse"), ("reconstruction_error", "pixel_mae")}
WRITERS_BACKEND_ONLY = {("iwae_nll", "nll"), ("class_accuracy", "accuracy"),
                        ("class_accuracy", "classifier_test_accuracy"), ("recognised_samples", "share")}


def _columns(card):
    known = ACROSS_BACKENDS.keys() | DRAWS_NOTHING | WRITERS_BACKEND_ONLY
    return {(part, key): value for part, values in card.items() if isinstance(values, dict)
            for key, value in values.items() if (part, key) in known}


def _measure(name, check, everything):
    """The card's measurement on the first 100 test images: every part, or the test ELBO and pixel errors."""
    model = zoo.get(name, pretrained=True)
    if everything:
        return evaluate.report(model, dataset=check["dataset"], k=100, limit=100, classifier_images=5000)
    _, (x_test, y_test) = data.load(check["dataset"])
    labels = y_test[:100] if model.num_classes else None
    measured = {"test_elbo": evaluate.elbo(model, x_test[:100], labels),
                "reconstruction_error": evaluate.reconstruction_error(model, x_test[:100], labels)}
    if is_quantized(model):
        measured.update(codebook=evaluate.codebook_use(model, x_test[:100]),
                        prior=evaluate.prior_bits(model, x_test[:100]))
    return measured


@pytest.mark.parametrize("name", zoo.list_models())
def test_the_cards_numbers_reproduce_on_this_backend(name):
    check = json.loads((zoo.folder(name) / "check.json").read_text())
    assert check["weights"] == "pretrained" and check["test_images"] == 100
    assert check.get("iwae_nll", {}).get("k", 100) == 100
    for part in ("class_accuracy", "recognised_samples"):
        assert check.get(part, {}).get("classifier_images", 5000) == 5000
    writer = keras.config.backend() == check["backend"]
    expected, found = _columns(check), _columns(_measure(name, check, everything=writer))
    if not writer:
        expected = {column: value for column, value in expected.items() if column not in WRITERS_BACKEND_ONLY}
    assert found.keys() == expected.keys()
    for column, value in expected.items():
        if column in DRAWS_NOTHING:
            tolerance = dict(rel=1e-3)
        elif writer:
            tolerance = dict(rel=1e-5)
        else:
            tolerance = dict(abs=ACROSS_BACKENDS[column])
        assert found[column] == pytest.approx(value, **tolerance), column
