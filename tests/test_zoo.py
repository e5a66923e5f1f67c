"""The registry, recipes and pretrained entries: every entry is described, and loads weights that are trained.

(Bad recipes and altered weights: test_untrusted_files.py; the cards' numbers on each backend: test_cards.py.)"""

import json
import shutil

import numpy as np
import pytest

from keras_vae import data, evaluate, recipes, zoo

MODELS = zoo.list_models()


#: name -> (class, latent size (a VQ-VAE's: the length of its code vectors), dataset): the registry, written out by hand
REGISTRY = {
    "ae": ("Autoencoder", 2, "mnist"),
    "beta_vae": ("BetaVAE", 2, "mnist"),
    "conv_vae": ("ConvVAE", 2, "mnist"),
    "conv_vae_bn": ("ConvVAE", 128, "mnist"),
    "conv_vae_fashion": ("ConvVAE", 2, "fashion_mnist"),
    "cvae": ("ConditionalVAE", 2, "mnist"),
    "iwae": ("IWAE", 50, "mnist"),
    "vae": ("VAE", 2, "mnist"),
    "vae_binarized": ("VAE", 32, "mnist"),
    "vq_vae": ("VQVAE", 16, "mnist"),
    "vq_vae_fashion": ("VQVAE", 16, "fashion_mnist"),
}


def test_the_registry_lists_every_entry():
    assert MODELS == sorted(REGISTRY)


@pytest.mark.parametrize("name", MODELS)
def test_every_entry_is_described_with_its_recipe_and_card(name):
    described = zoo.describe(name)
    assert described["name"] == name
    config = described["config"]
    assert (described["class"], config.get("latent_dim", config.get("code_dim")), described["dataset"]) == REGISTRY[name]
    assert described["pretrained"], f"{name} has no trained weights in zoo/{name}"
    assert described["recipe"]["model"] == name
    card = described["card"]
    assert card["model"] == name and card["weights"] == "pretrained"
    assert (zoo.folder(name) / "README.md").is_file() and (zoo.folder(name) / "reconstructions.png").is_file()
    assert (zoo.folder(name) / "samples.png").is_file() == (name != "ae")  # the autoencoder has no prior


@pytest.mark.parametrize("name", MODELS)
def test_pretrained_weights_are_trained(name):
    """The weights are a trained model's: their pixel error on 500 test images is below half an untrained model's
    (0.02 to 0.22 of it for the zoo's). The cards' numbers themselves reproduce in test_cards.py."""
    _, (x_test, y_test) = data.load(zoo.entry(name).dataset)
    model = zoo.get(name, pretrained=True)
    images, labels = x_test[:500], (y_test[:500] if model.num_classes else None)
    trained, untrained = (evaluate.reconstruction_error(m, images, labels)["pixel_mse"] for m in (model, zoo.get(name)))
    assert trained < 0.5 * untrained, (trained, untrained)


def test_get_builds_fresh_or_pretrained_models():
    trained = zoo.get("vae", pretrained=True)
    again = zoo.get("vae", pretrained=True, seed=7)  # overrides that keep the architecture are fine
    for weights, expected in zip(again.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_array_equal(weights, expected)
    with pytest.raises(ValueError, match="does not fit 'vae'"):
        zoo.get("vae", pretrained=True, latent_dim=3)


def test_missing_weights_name_the_file(private_zoo):
    (private_zoo / recipes.WEIGHTS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="model.weights.h5.*missing"):
        zoo.get("vae", pretrained=True)


def test_an_entry_without_weights_says_which_have_them(private_zoo):
    shutil.rmtree(private_zoo)
    with pytest.raises(FileNotFoundError, match="no pretrained weights for 'vae'"):
        zoo.get("vae", pretrained=True)


def test_recipe_fills_in_training_defaults(tmp_path):
    (tmp_path / recipes.RECIPE_FILE).write_text(json.dumps({"model": "vae", "training": {"epochs": 3}}))
    recipe = recipes.read(tmp_path)
    assert recipe["training"] == {**recipes.TRAINING_DEFAULTS, "epochs": 3} and recipe["weights"] is None


def test_every_recipe_in_the_zoo_is_valid_and_names_its_folder():
    for name in MODELS:
        recipe = recipes.read(zoo.folder(name))
        assert recipe["model"] == name
        assert recipes.weights_path(zoo.folder(name)).name == recipes.WEIGHTS_FILE
