"""Files from elsewhere: weights, .keras models and recipes are refused, with an error naming the file and what
is wrong with it, when they are truncated, corrupt, another model's, hold code or lead out of their folder."""

import json
import os
import shutil
import zipfile

import keras
import numpy as np
import pytest

from harness import assert_raised_by_keras_vae, run_cli, snapshot
from keras_vae import recipes, zoo
from keras_vae.recipes import RecipeError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Weights and .keras files of fresh models, and broken copies of them."""
    folder = tmp_path_factory.mktemp("untrusted")
    vae = zoo.get("vae")
    vae.save_weights(folder / "vae.weights.h5")
    weights = (folder / "vae.weights.h5").read_bytes()
    (folder / "truncated.weights.h5").write_bytes(weights[:len(weights) // 2])
    (folder / "random.weights.h5").write_bytes(np.random.default_rng(0).bytes(len(weights)))
    corrupt = bytearray(weights)
    corrupt[16] ^= 0xFF  # the superblock's address of the root group: h5py fails while listing the variables
    (folder / "corrupt.weights.h5").write_bytes(bytes(corrupt))

    vae.save(folder / "vae.keras")
    model = (folder / "vae.keras").read_bytes()
    (folder / "truncated.keras").write_bytes(model[:len(model) // 2])
    (folder / "random.keras").write_bytes(np.random.default_rng(1).bytes(len(model)))
    zoo.get("ae").save(folder / "ae.keras")
    keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Lambda(lambda x: x * 2)]).save(folder / "lambda.keras")
    zoo.get("conv_vae").save(folder / "conv_vae.keras")
    with zipfile.ZipFile(folder / "vae.keras") as config, zipfile.ZipFile(folder / "conv_vae.keras") as weights, \
            zipfile.ZipFile(folder / "swapped.keras", "w") as swapped:  # the VAE's config, conv_vae's weights
        for name in config.namelist():
            swapped.writestr(name, (weights if name == "model.weights.h5" else config).read(name))
    return folder


def assert_refused(call, error, path, message):
    """`call()` raises `error` from keras_vae, with a message naming `path` and holding `message`."""
    with pytest.raises(error) as caught:
        call()
    assert str(path) in str(caught.value) and message in str(caught.value), str(caught.value)
    assert "\n" not in str(caught.value)
    assert_raised_by_keras_vae(caught.value)


def assert_cli_refuses(argv, path, message, monkeypatch, capsys, tmp_path):
    """`keras-vae ARGV` exits 2 with one line naming `path` and holding `message`, and writes nothing."""
    monkeypatch.chdir(tmp_path)
    before = snapshot(path.parent)
    status, err, raised = run_cli([str(arg) for arg in argv], monkeypatch, capsys)
    assert status == 2 and len(err.splitlines()) == 1 and str(path) in err and message in err, err
    assert_raised_by_keras_vae(raised)
    assert list(tmp_path.iterdir()) == [] and snapshot(path.parent) == before


# --- .weights.h5 and .keras ----------------------------------------------------------------------------------

BAD_WEIGHTS = [
    pytest.param("truncated.weights.h5", "truncated file", id="truncated"),
    pytest.param("random.weights.h5", "is not a readable .weights.h5 file", id="random bytes"),
    pytest.param("corrupt.weights.h5", "is not a readable .weights.h5 file", id="corrupt header"),
    pytest.param("vae.weights.h5", "does not fit 'conv_vae': it holds", id="another model's"),
]


@pytest.mark.parametrize("name, message", BAD_WEIGHTS)
def test_bad_weights_are_refused_by_load_weights(files, name, message):
    assert_refused(lambda: zoo.load_weights(zoo.get("conv_vae"), files / name, "'conv_vae'"), ValueError,
                   files / name, message)


BAD_MODELS = [
    ("truncated.keras", "not a zip archive"),
    ("random.keras", "not a zip archive"),
    ("lambda.keras", "Requested the deserialization of a `Lambda` layer"),  # safe_mode=True
    ("swapped.keras", "could not be loaded"),
    ("ae.keras", "Autoencoder, not the VAE of 'vae'"),
]


@pytest.mark.parametrize("name, message", BAD_MODELS, ids=[bad[0] for bad in BAD_MODELS])
def test_bad_keras_files_are_refused_by_load_model(files, name, message):
    assert_refused(lambda: zoo.load_model(files / name, "vae"), ValueError, files / name, message)


@pytest.mark.parametrize("model, name, message", [
    ("conv_vae", "corrupt.weights.h5", "is not a readable .weights.h5 file"),
    ("vae", "lambda.keras", "Requested the deserialization of a `Lambda` layer"),
], ids=["weights", "keras"])
def test_the_command_line_refuses_them_and_writes_nothing(files, model, name, message, monkeypatch, capsys,
                                                          tmp_path):
    """The loaders' errors above, through `--weights` (which picks the loader by the file's suffix)."""
    assert_cli_refuses(["evaluate", model, "--weights", files / name, "--limit", "8", "--k", "2"], files / name,
                       message, monkeypatch, capsys, tmp_path)


def test_load_model_without_a_name_takes_any_zoo_model_but_nothing_else(files, tmp_path):
    assert type(zoo.load_model(files / "ae.keras")).__name__ == "Autoencoder"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(tmp_path / "dense.keras")
    assert_refused(lambda: zoo.load_model(tmp_path / "dense.keras"), ValueError, tmp_path / "dense.keras",
                   "holds a Sequential, not a model of the zoo")


# --- recipes -----------------------------------------------------------------------------------------------

WEIGHTS = {"file": "model.weights.h5", "sha256": "0" * 64}


@pytest.mark.backend_independent
@pytest.mark.parametrize("recipe, message", [
    pytest.param({"model": "vae", "weights": {**WEIGHTS, "file": "../x"}}, "plain file name", id="weights ../x"),
    pytest.param({"model": "vae", "weights": {**WEIGHTS, "file": "/etc/passwd"}}, "got '/etc/passwd'",
                 id="weights /etc/passwd"),
    pytest.param({"model": "vae", "weights": {**WEIGHTS, "file": "sub/model.weights.h5"}},
                 "plain file name inside the recipe's folder, got 'sub/model.weights.h5'", id="nested weights"),
    pytest.param({"model": "vae", "weights": {**WEIGHTS, "file": ".."}}, "got '..'", id="weights .."),
    pytest.param({"model": "vae", "weights": {**WEIGHTS, "sha256": 0}}, "sha256 must be 64 lowercase hex digits",
                 id="sha256 not hex"),
    pytest.param({"model": "vae", "weights": "model.weights.h5"}, '"weights" must be {"file": NAME, "sha256": HEX}',
                 id="weights a string"),
    pytest.param({"model": "vae", "code": "print('hi')"}, "unknown top-level key(s) ['code']", id="unknown key"),
    pytest.param({"model": "vae", "training": {"callbacks": []}}, "unknown training key(s) ['callbacks']",
                 id="unknown training key"),
    pytest.param({"model": "vae", "training": {"epochs": "__import__('os').system('touch pwned')"}},
                 "training epochs must be a positive integer, got \"__import__", id="code as a string"),
    pytest.param({"model": "vae", "training": {"batch_size": -3}}, "batch_size must be a positive integer",
                 id="negative batch size"),
    pytest.param({"model": "vae", "training": {"epochs": True}}, "epochs must be a positive integer, got True",
                 id="epochs true"),
    pytest.param({"model": "vae", "training": {"schedule": "linear"}}, "schedule must be one of",
                 id="unknown schedule"),
    pytest.param({"model": "vae", "training": {"dataset": "cifar10"}}, "dataset must be null or one of",
                 id="unknown dataset"),
    pytest.param({"model": "vae", "training": {"binarize": "always"}}, "binarize must be one of null",
                 id="unknown binarisation"),
    pytest.param('{"model": "vae", "training": {"epochs": __import__("os").system("touch pwned")}}',
                 "is not valid JSON", id="a Python expression"),
    pytest.param("{'model': 'vae'}", "is not valid JSON", id="a Python dict"),
    pytest.param('["vae"]', 'must be a JSON object with a "model" name', id="a JSON list"),
    pytest.param('{"model": "vae", "training": {"learning_rate": NaN}}', "NaN is a Python float, not a JSON number",
                 id="NaN"),
    pytest.param('{"model": "vae", "training": {"learning_rate": 1e999}}', "a positive finite number, got inf",
                 id="infinite learning rate"),
    pytest.param(b"\xff\xfe{}", "is not valid JSON", id="not text"),
])
def test_bad_recipes_are_refused(recipe, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / recipes.RECIPE_FILE
    if isinstance(recipe, bytes):
        path.write_bytes(recipe)
    else:
        path.write_text(recipe if isinstance(recipe, str) else json.dumps(recipe))
    assert_refused(lambda: recipes.read(tmp_path), RecipeError, path, message)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.backend_independent
def test_train_refuses_a_bad_recipe_before_it_writes(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "recipe"
    folder.mkdir()
    (folder / recipes.RECIPE_FILE).write_text(
        '{"model": "vae", "training": {"epochs": "__import__(\'os\').system(\'touch pwned\')"}}')
    work = tmp_path / "work"
    work.mkdir()
    assert_cli_refuses(["train", "--recipe", folder], folder / recipes.RECIPE_FILE,
                       "epochs must be a positive integer", monkeypatch, capsys, work)
    assert not (work / "pwned").exists()


# --- the zoo's pretrained weights and their sha256 ---------------------------------------------------------


def test_altered_zoo_weights_fail_their_sha256(private_zoo, tmp_path, monkeypatch, capsys):
    weights = private_zoo / recipes.WEIGHTS_FILE
    recorded = recipes.read(private_zoo)["weights"]["sha256"]
    raw = bytearray(weights.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    weights.write_bytes(bytes(raw))
    mismatch = f"its sha256 is {recipes.sha256(weights)}, the recipe records {recorded}"
    assert_refused(lambda: zoo.get("vae", pretrained=True), ValueError, weights, mismatch)
    work = tmp_path / "work"
    work.mkdir()
    assert_cli_refuses(["evaluate", "vae", "--pretrained", "--limit", "8"], weights, mismatch, monkeypatch, capsys,
                       work)


def test_a_link_out_of_the_zoo_folder_is_refused_even_with_its_sha256(private_zoo, tmp_path):
    """A recipe names a plain file; a link by that name must not lead the loader out of the folder."""
    outside = tmp_path / "outside.weights.h5"
    shutil.copyfile(private_zoo / recipes.WEIGHTS_FILE, outside)
    (private_zoo / recipes.WEIGHTS_FILE).unlink()
    os.symlink(outside, private_zoo / recipes.WEIGHTS_FILE)
    assert recipes.sha256(private_zoo / recipes.WEIGHTS_FILE) == recipes.read(private_zoo)["weights"]["sha256"]
    assert_refused(lambda: zoo.get("vae", pretrained=True), RecipeError, private_zoo / recipes.WEIGHTS_FILE,
                   f"is a link to {outside}, outside the recipe's folder")
