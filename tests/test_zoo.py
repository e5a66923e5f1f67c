"""The registry, recipes and pretrained entries: every entry loads its weights and reproduces its card."""

import json
import shutil

import numpy as np
import pytest

from keras_vae import evaluate, recipes, zoo
from keras_vae.recipes import RecipeError

MODELS = zoo.list_models()


@pytest.mark.parametrize("name", MODELS)
def test_every_entry_is_described_with_its_recipe_and_card(name):
    described = zoo.describe(name)
    assert described["name"] == name and described["config"]["latent_dim"] > 0
    assert described["pretrained"], f"{name} has no trained weights in zoo/{name}"
    assert described["recipe"]["model"] == name
    card = described["card"]
    assert card["model"] == name and card["weights"] == "pretrained"
    assert (zoo.folder(name) / "README.md").is_file() and (zoo.folder(name) / "reconstructions.png").is_file()
    assert (zoo.folder(name) / "samples.png").is_file() == (name != "ae")  # the autoencoder has no prior


@pytest.mark.parametrize("name", MODELS)
def test_pretrained_weights_reproduce_the_card_on_this_backend(name):
    """The card was measured on TensorFlow; the same weights give the same numbers on every backend."""
    card = zoo.describe(name)["card"]
    model = zoo.get(name, pretrained=True)
    (_, _), (x_test, y_test) = _test_set(card["dataset"])
    labels = y_test if model.num_classes else None
    measured = evaluate.reconstruction_error(model, x_test, labels)
    assert measured["pixel_mse"] == pytest.approx(card["reconstruction_error"]["pixel_mse"], rel=1e-3)
    untrained = evaluate.reconstruction_error(zoo.get(name), x_test[:500], labels if labels is None else labels[:500])
    assert measured["pixel_mse"] < 0.5 * untrained["pixel_mse"]


def _test_set(dataset):
    from keras_vae import data

    return data.load(dataset)


def test_get_builds_fresh_or_pretrained_models():
    fresh, trained = zoo.get("vae"), zoo.get("vae", pretrained=True)
    assert not np.allclose(fresh.decoder.get_weights()[0], trained.decoder.get_weights()[0])
    again = zoo.get("vae", pretrained=True, seed=7)  # overrides that keep the architecture are fine
    np.testing.assert_array_equal(again.decoder.get_weights()[0], trained.decoder.get_weights()[0])
    with pytest.raises(ValueError, match="does not fit 'vae'"):
        zoo.get("vae", pretrained=True, latent_dim=3)


@pytest.fixture
def private_zoo(tmp_path, monkeypatch):
    """A copy of zoo/vae in tmp_path, served as the zoo's folder for 'vae'."""
    folder = tmp_path / "vae"
    shutil.copytree(zoo.folder("vae"), folder)
    monkeypatch.setattr(zoo, "folder", lambda name: tmp_path / zoo.entry(name).name)
    return folder


def test_corrupt_weights_are_refused(private_zoo):
    weights = private_zoo / recipes.WEIGHTS_FILE
    raw = bytearray(weights.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="sha256"):
        zoo.get("vae", pretrained=True)


def test_missing_weights_name_the_file(private_zoo):
    (private_zoo / recipes.WEIGHTS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="model.weights.h5.*missing"):
        zoo.get("vae", pretrained=True)


def test_an_entry_without_weights_says_which_have_them(private_zoo):
    shutil.rmtree(private_zoo)
    with pytest.raises(FileNotFoundError, match="no pretrained weights for 'vae'"):
        zoo.get("vae", pretrained=True)


def test_weights_of_another_model_are_refused_even_with_a_valid_sha(private_zoo, tmp_path):
    other = tmp_path / "ae.weights.h5"
    zoo.get("conv_vae").save_weights(other)
    recipes.record_weights(private_zoo, other)
    assert recipes.read(private_zoo)["weights"]["sha256"] == recipes.sha256(other)
    with pytest.raises(ValueError, match="does not fit 'vae'"):
        zoo.get("vae", pretrained=True)


@pytest.mark.parametrize("recipe, message", [
    ("{not json", "not valid JSON"),
    ('["vae"]', "JSON object"),
    ('{"model": "vae", "trainng": {}}', "unknown top-level key"),
    ('{"model": "vae", "training": {"epoch": 3}}', "unknown training key"),
    ('{"model": "vae", "training": {"schedule": "linear"}}', "schedule must be one of"),
    ('{"model": "vae", "weights": {"file": "../../etc/passwd", "sha256": "0"}}', "plain file name"),
    ('{"model": "vae", "weights": {"file": "/tmp/x.weights.h5", "sha256": "0"}}', "plain file name"),
    ('{"model": "vae", "weights": "model.weights.h5"}', "must be"),
])
def test_bad_recipes_are_refused(recipe, message, tmp_path):
    (tmp_path / recipes.RECIPE_FILE).write_text(recipe)
    with pytest.raises(RecipeError, match=message):
        recipes.read(tmp_path)


def test_recipe_fills_in_training_defaults(tmp_path):
    (tmp_path / recipes.RECIPE_FILE).write_text(json.dumps({"model": "vae", "training": {"epochs": 3}}))
    recipe = recipes.read(tmp_path)
    assert recipe["training"] == {**recipes.TRAINING_DEFAULTS, "epochs": 3} and recipe["weights"] is None


def test_every_recipe_in_the_zoo_is_valid_and_names_its_folder():
    for name in MODELS:
        recipe = recipes.read(zoo.folder(name))
        assert recipe["model"] == name
        assert recipes.weights_path(zoo.folder(name)).name == recipes.WEIGHTS_FILE
