"""Presets: `zoo.save_preset` writes keras-hub's folder layout with a Hugging Face model card, and `zoo.get` loads it
back from the folder or a `hf://` handle. The card's numbers are those of the zoo's metrics.json, read here on their
own; the reloaded model's outputs on real MNIST test images are the original's. (A training run's preset:
tests/test_training.py; `.keras` and `.weights.h5` files from elsewhere: tests/test_untrusted_files.py.)"""

import json
import re
import shutil

import huggingface_hub
import keras
import numpy as np
import pytest
import yaml

import keras_vae
from harness import assert_raised_by_keras_vae, numpy, snapshot
from keras_vae import zoo

LAYOUT = ["README.md", "config.json", "metadata.json", "model.weights.h5"]  # keras-hub's preset files


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    """The zoo's pretrained 'vae' as a preset, its card's numbers by default those of zoo/vae/metrics.json."""
    return zoo.save_preset(zoo.get("vae", pretrained=True), tmp_path_factory.mktemp("presets") / "vae")


def front_matter(folder):
    """The YAML front matter of the folder's README.md, parsed by PyYAML."""
    text = (folder / "README.md").read_text()
    assert text.startswith("---\n"), text[:100]
    return yaml.safe_load(text.split("---\n")[1])


def copy_of(preset, folder):
    shutil.copytree(preset, folder)
    return folder


@pytest.mark.backend_independent
def test_a_preset_folder_has_keras_hubs_layout(preset):
    assert sorted(path.name for path in preset.iterdir()) == LAYOUT
    assert list(preset.parent.iterdir()) == [preset]  # no temporary left beside it
    metadata = json.loads((preset / "metadata.json").read_text())
    assert (metadata["keras_version"], metadata["keras_vae_version"]) == (keras.__version__, keras_vae.__version__)
    config = json.loads((preset / "config.json").read_text())
    assert (config["module"], config["class_name"]) == ("keras_vae.models.vae", "VAE")


@pytest.mark.backend_independent
def test_the_card_carries_hugging_face_metadata_and_the_zoo_entrys_numbers(preset):
    card = front_matter(preset)
    assert (card["library_name"], card["license"], card["datasets"]) == ("keras", "apache-2.0", ["mnist"])
    assert {"keras", "keras-vae", "vae", "variational-autoencoder"} <= set(card["tags"])
    (model,) = card["model-index"]
    (result,) = model["results"]
    assert model["name"] == "vae" and result["dataset"] == {"name": "MNIST", "type": "mnist", "split": "test"}
    measured = json.loads((zoo.folder("vae") / "metrics.json").read_text())
    elbo, error = measured["test_elbo"], measured["reconstruction_error"]
    expected = {"loss": elbo["loss"], "reconstruction_loss": elbo["reconstruction_loss"],
                "kl_divergence": elbo["kl_loss"], "mse": error["pixel_mse"], "mae": error["pixel_mae"],
                "nll": measured["iwae_nll"]["nll"]}
    assert {metric["type"]: metric["value"] for metric in result["metrics"]} == expected
    assert "k = 5000" in next(metric["name"] for metric in result["metrics"] if metric["type"] == "nll")
    body = (preset / "README.md").read_text().split("---\n", 2)[2]
    rows = [line for line in body.splitlines() if line.startswith("| ") and line != "| metric | value |"]
    assert [float(row.split("|")[2]) for row in rows] == pytest.approx(list(expected.values()), rel=1e-5)
    for text in ('keras_vae.zoo.get("path/to/folder")', 'keras_vae.zoo.get("hf://owner/repo")', "zoo/vae/metrics.json",
                 "keras-vae evaluate vae --pretrained"):
        assert text in body, text


def test_a_preset_loads_back_as_the_model_it_saved(preset, mnist):
    _, (x_test, _) = mnist
    images = x_test[:500]
    original, loaded = zoo.get("vae", pretrained=True), zoo.get(str(preset))
    assert type(loaded) is type(original) and not loaded.compiled
    for head, expected in zip(loaded.encode(images), original.encode(images), strict=True):
        np.testing.assert_allclose(numpy(head), numpy(expected), atol=1e-6)
    z = numpy(original.code(images))
    np.testing.assert_allclose(numpy(loaded.decode(z)), numpy(original.decode(z)), atol=1e-6)


@pytest.mark.backend_independent
def test_a_training_runs_test_metrics_fill_the_model_index(tmp_path):
    """As keras_vae.train's test_metrics.json holds them: the settings, then the loss terms at the top level."""
    test_metrics = {"model": "ae", "dataset": "fashion_mnist", "binarize": None, "epochs": 3, "batch_size": 64,
                    "learning_rate": 0.001, "schedule": "constant", "seed": 0, "backend": "jax", "replicas": 1,
                    "loss": 261.5, "reconstruction_loss": 261.5}
    folder = zoo.save_preset(zoo.get("ae"), tmp_path / "ae", name="my_ae", metrics=test_metrics)
    card = front_matter(folder)
    assert card["datasets"] == ["fashion_mnist"] and "autoencoder" in card["tags"]
    (result,) = card["model-index"][0]["results"]
    assert result["dataset"] == {"name": "Fashion-MNIST", "type": "fashion_mnist", "split": "test"}
    assert {metric["type"]: metric["value"] for metric in result["metrics"]} == {"loss": 261.5,
                                                                                 "reconstruction_loss": 261.5}
    assert "keras_vae.train" in (folder / "README.md").read_text()


@pytest.mark.backend_independent
def test_a_model_without_the_zoos_weights_gets_none_of_its_numbers(tmp_path):
    card = front_matter(zoo.save_preset(zoo.get("vae"), tmp_path / "fresh"))  # named 'vae', but untrained
    assert card["library_name"] == "keras" and "model-index" not in card and "datasets" not in card


@pytest.mark.backend_independent
def test_an_existing_folder_is_replaced_only_with_overwrite_and_only_if_it_is_a_preset(preset, tmp_path):
    target = copy_of(preset, tmp_path / "preset")
    before = snapshot(target)
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True to replace it"):
        zoo.save_preset(zoo.get("ae"), target)
    assert snapshot(target) == before
    compiled = zoo.get("ae")
    compiled.compile(optimizer="adam")
    zoo.save_preset(compiled, target, overwrite=True)
    replaced = zoo.get(target)
    assert type(replaced).__name__ == "Autoencoder" and not replaced.compiled  # a preset holds no optimizer
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="is not a preset folder"):
        zoo.save_preset(zoo.get("ae"), notes, overwrite=True)
    assert (notes / "todo.txt").read_text() == "keep me"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes", "preset"]


@pytest.mark.backend_independent
@pytest.mark.parametrize("model, arguments, error, message", [
    ("dense", {}, TypeError, "save_preset needs a keras_vae model"),
    ("vae", {"metrics": {"loss": float("nan")}, "dataset": "mnist"}, ValueError, "metric 'loss' is nan"),
    ("vae", {"metrics": {"test_elbo": {"loss": float("inf")}}, "dataset": "mnist"}, ValueError,
     "metric 'loss' is inf"),
    ("vae", {"metrics": {"top5": 0.9}, "dataset": "mnist"}, ValueError, "hold none of the numbers a card reports"),
    ("vae", {"metrics": {"loss": 150.0}}, ValueError, "pass dataset="),
    ("vae", {"folder": "hf://alice/my-vae"}, ValueError, "save_preset writes a local folder"),
], ids=["not keras_vae's", "NaN", "infinite", "unknown metrics", "no dataset", "a handle"])
def test_a_refused_save_writes_nothing(model, arguments, error, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]) if model == "dense" else zoo.get(model)
    options = dict(arguments)
    with pytest.raises(error, match=message):
        zoo.save_preset(model, options.pop("folder", tmp_path / "preset"), **options)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.backend_independent
def test_a_save_that_fails_while_writing_leaves_no_folder_or_the_previous_preset(preset, tmp_path, monkeypatch):
    def full_disk(card, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(huggingface_hub.ModelCard, "save", full_disk)  # the last file written
    with pytest.raises(OSError, match="No space left"):
        zoo.save_preset(zoo.get("ae"), tmp_path / "new")
    assert list(tmp_path.iterdir()) == []
    target = copy_of(preset, tmp_path / "preset")
    before = snapshot(target)
    with pytest.raises(OSError, match="No space left"):
        zoo.save_preset(zoo.get("ae"), target, overwrite=True)
    assert snapshot(target) == before and list(tmp_path.iterdir()) == [target]


@pytest.mark.backend_independent
@pytest.mark.parametrize("options", [{"pretrained": True}, {"weights": "vae.weights.h5"}, {"latent_dim": 3}],
                         ids=["pretrained", "weights", "override"])
@pytest.mark.parametrize("source", ["folder", "hf://alice/my-vae"])
def test_options_that_build_a_model_are_refused_with_a_preset(preset, source, options):
    source = preset if source == "folder" else source
    message = f"{source} is a preset: it holds its own config and weights, so {next(iter(options))} cannot apply"
    with pytest.raises(ValueError, match=re.escape(message)):
        zoo.get(source, **options)


@pytest.mark.backend_independent
@pytest.mark.parametrize("handle, message", [
    ("hf://", "expected hf://OWNER/REPO"),
    ("hf://alice/my-vae/extra", "expected hf://OWNER/REPO"),
    ("hf://my-vae", "expected hf://OWNER/REPO"),
    ("hf://alice/my--vae", "expected hf://OWNER/REPO"),  # the Hub's rule: no "--"
    ("kaggle://keras/vae/keras/1", "kaggle:// is not supported; keras_vae loads presets from the Hugging Face Hub "
                                   "(hf://OWNER/REPO) and from local folders"),
])
def test_malformed_and_unsupported_handles_are_refused_before_any_download(handle, message, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *args, **kwargs: pytest.fail("downloaded"))
    with pytest.raises(ValueError) as raised:
        zoo.get(handle)
    assert repr(handle) in str(raised.value) and message in str(raised.value), str(raised.value)
    assert_raised_by_keras_vae(raised.value)


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """huggingface_hub offline (HF_HUB_OFFLINE=1, which it reads on import) with an empty cache: the cache folder."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


@pytest.mark.backend_independent
def test_a_failed_download_is_an_oserror_naming_the_handle(offline_hub):
    with pytest.raises(OSError) as raised:
        zoo.get("hf://keras-vae-tests/no-such-preset")
    assert "the download of preset hf://keras-vae-tests/no-such-preset from the Hugging Face Hub failed" in str(
        raised.value)
    assert isinstance(raised.value.__cause__, huggingface_hub.errors.LocalEntryNotFoundError)
    assert_raised_by_keras_vae(raised.value)


@pytest.mark.backend_independent
def test_a_handle_loads_the_preset_that_the_hub_holds(preset, offline_hub):
    """Offline, from huggingface_hub's cache as a download leaves it: models--OWNER--REPO/refs/main names the
    commit, whose files are in snapshots/COMMIT/."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repository = offline_hub / "models--alice--my-vae"
    (repository / "refs").mkdir(parents=True)
    (repository / "refs" / "main").write_text(commit)
    copy_of(preset, repository / "snapshots" / commit)
    loaded = zoo.get("hf://alice/my-vae")
    assert type(loaded).__name__ == "VAE"
    for weights, expected in zip(loaded.get_weights(), zoo.get("vae", pretrained=True).get_weights(), strict=True):
        np.testing.assert_array_equal(weights, expected)


def truncate(path):
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])


def corrupt_header(path):
    raw = bytearray(path.read_bytes())
    raw[16] ^= 0xFF  # the superblock's address of the root group
    path.write_bytes(bytes(raw))


@pytest.mark.backend_independent
@pytest.mark.parametrize("damage, file, error, message", [
    (lambda path: path.unlink(), "config.json", FileNotFoundError, "has no config.json"),
    (lambda path: path.unlink(), "model.weights.h5", FileNotFoundError, "has no model.weights.h5"),
    (truncate, "model.weights.h5", ValueError, "is not a readable .weights.h5 file"),
    (corrupt_header, "model.weights.h5", ValueError, "is not a readable .weights.h5 file"),
], ids=["no config", "no weights", "truncated weights", "corrupt weights"])
def test_a_broken_preset_folder_is_refused_naming_the_file(preset, damage, file, error, message, tmp_path):
    folder = copy_of(preset, tmp_path / "vae")
    damage(folder / file)
    with pytest.raises(error) as raised:
        zoo.get(folder)
    assert str(folder / file) in str(raised.value) and message in str(raised.value), str(raised.value)
    assert_raised_by_keras_vae(raised.value)


@pytest.mark.backend_independent
def test_a_file_is_not_a_preset_folder(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="is a file; load a .keras file with zoo.load_model"):
        zoo.get(tmp_path / "model.keras")


@pytest.mark.backend_independent
@pytest.mark.parametrize("layer, message", [
    (lambda: keras.layers.Dense(1), "holds a Sequential, not a model of the zoo"),
    (lambda: keras.layers.Lambda(lambda x: x * 2), "Requested the deserialization of a `Lambda` layer"),
], ids=["not a zoo model", "code"])
def test_a_preset_folder_must_hold_a_zoo_model_and_no_code(layer, message, tmp_path):
    folder = tmp_path / "other"
    keras.Sequential([keras.Input((2,)), layer()]).save(folder, zipped=False)
    with pytest.raises(ValueError) as raised:
        zoo.get(folder)
    assert f"preset folder {folder}" in str(raised.value) and message in str(raised.value), str(raised.value)
