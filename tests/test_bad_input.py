"""Bad input to the models, bodies, registry and command line gets a clear error before it reaches a backend,
and writes nothing."""

import json
import re
import types

import keras
import numpy as np
import pytest

from harness import assert_raised_by_keras_vae, run_cli, snapshot
from keras_vae import evaluate, export, plots, recipes, zoo
from keras_vae.models import VAE, Autoencoder, ConditionalVAE, ConvBody, ConvVAE, DenseBody, bodies

IMAGES = np.full((4, 28, 28, 1), 0.5, np.float32)
LABELS = np.arange(4)


@pytest.mark.parametrize("make, error, message", [
    (lambda: zoo.get("conv_vea"), ValueError, "Did you mean 'conv_vae'"),
    (lambda: VAE(latent_dim=0), ValueError, "latent_dim must be a positive int"),
    (lambda: VAE(latent_dim=2.5), ValueError, "latent_dim must be a positive int"),
    (lambda: VAE(beta=-1.0), ValueError, "beta must be a non-negative number"),
    (lambda: VAE(likelihood="poisson"), ValueError, "likelihood must be one of"),
    (lambda: VAE(image_shape=(28, 28)), ValueError, "image_shape must be (height, width, channels)"),
    (lambda: ConvVAE(image_shape=(30, 30, 1)), ValueError, "set pad_to (e.g. pad_to=32)"),
    (lambda: ConvVAE(body=ConvBody(pad_to=16)), ValueError, "pad_to=16 is smaller than the image"),
    (lambda: ConvBody(filters=()), ValueError, "filters must be a non-empty sequence"),
    (lambda: DenseBody(hidden_units=(128, -1)), ValueError, "hidden_units must be"),
    (lambda: ConditionalVAE(num_classes=0), ValueError, "num_classes must be a positive int"),
    (lambda: ConditionalVAE(body=ConvBody(dense_units=None, pad_to=32, filters=(16, 32, 64))), ValueError,
     "needs a ConvBody with dense_units"),
    (lambda: bodies.get("mlp"), ValueError, "unknown body 'mlp'"),
    (lambda: bodies.get(3), TypeError, "body must be a Body"),
])
def test_bad_construction(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make()


@pytest.fixture(scope="module")
def vae():
    return VAE()


@pytest.fixture(scope="module")
def cvae():
    return ConditionalVAE()


@pytest.mark.parametrize("call, message", [
    (lambda m: m.encode(IMAGES[..., 0]), "channel axis"),
    (lambda m: m.encode(np.zeros((4, 32, 32, 1), np.float32)), "expected (N, 28, 28, 1)"),
    (lambda m: m.encode(IMAGES * 255), "divide uint8 images by 255"),
    (lambda m: m.encode(np.where(IMAGES > 0, np.nan, 0).astype(np.float32)), "NaN"),
    (lambda m: m.encode(IMAGES[:0]), "empty"),
    (lambda m: m.encode(IMAGES, labels=LABELS), "unconditional"),
    (lambda m: m.decode(np.zeros((4, 3), np.float32)), "z must have shape (batch, 2)"),
    (lambda m: m.sample(0), "n must be a positive int"),
    (lambda m: m.fit(IMAGES, LABELS), "y must be None"),
])
def test_bad_calls_to_a_vae(vae, call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call(vae)


@pytest.mark.parametrize("call, message", [
    (lambda m: m.encode(IMAGES), "needs labels"),
    (lambda m: m.encode(IMAGES, labels=LABELS + 7), r"labels must lie in \[0, 10\)"),
    (lambda m: m.encode(IMAGES, labels=LABELS.astype(float)), "labels must be 4 integers"),
    (lambda m: m.encode(IMAGES, labels=LABELS[:3]), r"shape \(4,\)"),
    (lambda m: m.sample(3), "needs labels"),
    (lambda m: m.fit(IMAGES), "pass them as y"),
    (lambda m: m.decode(np.zeros((4, 2)), labels=np.full((4, 9), 1 / 9)), r"shape \(4, 10\)"),
    (lambda m: m.decode(np.zeros((4, 2)), labels=np.full((4, 10), 0.2)), "sum to 1 in each row"),
    (lambda m: m.decode(np.zeros((2, 2)), labels=[[1.5] + [0] * 8 + [-0.5]] * 2), "non-negative"),
])
def test_bad_calls_to_a_conditional_vae(cvae, call, message):
    with pytest.raises(ValueError, match=message):
        call(cvae)


def test_autoencoder_has_no_prior_to_sample():
    with pytest.raises(NotImplementedError, match="no prior"):
        Autoencoder().sample(4)


def test_good_labels_as_one_int_broadcast(cvae):
    sevens = keras.ops.convert_to_numpy(cvae.sample(3, seed=0, labels=7))
    assert sevens.shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(sevens, keras.ops.convert_to_numpy(cvae.sample(3, seed=0, labels=[7, 7, 7])))


def test_class_weights_decode_a_blend_of_classes(cvae):
    z = np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32)
    decode = lambda labels: keras.ops.convert_to_numpy(cvae.decode(z, labels=labels))  # noqa: E731
    np.testing.assert_allclose(decode(np.eye(10)[LABELS]), decode(LABELS), atol=1e-6)
    halfway = decode(np.full((4, 10), 0.1))
    assert not np.allclose(halfway, decode(LABELS), atol=1e-3)


# --- the table of bad input: what is wrong -> the error it gets -------------------------------------------------
#
# Every row is (what is wrong, the call, the error it must raise, a fragment of its message). Each call runs in
# an empty working directory; it must raise from keras_vae's own code (or argparse's), never from deep inside a
# backend, and leave no file or directory behind, in the working directory or beside its inputs.

def row(what, call, error, message):
    return pytest.param(call, error, message, id=what)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A folder of bad inputs: a regular file, a directory named like weights, files that are not what they
    claim to be."""
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "a-file").write_text("a regular file, not a directory")
    (folder / "weights-dir.weights.h5").mkdir()
    (folder / "model-dir.tflite").mkdir()
    (folder / "weights.txt").write_text("not weights")
    (folder / "not-json.json").write_text("{not json")
    (folder / "list.json").write_text("[1, 2]")
    (folder / "history.json").write_text(json.dumps({"loss": [3.0, 2.0]}))
    (folder / "bad-data").mkdir()
    (folder / "bad-data" / "mnist.npz").write_bytes(b"not an npz archive")
    return folder


@pytest.fixture(scope="module")
def models(files):
    """The models the API rows call, compiled, and the folder of bad inputs."""
    vae, cvae = VAE(), ConditionalVAE()
    for model in (vae, cvae):
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return types.SimpleNamespace(vae=vae, cvae=cvae, files=files)


BINARY = (IMAGES > 0.4).astype(np.float32)
NAN_IMAGES = np.where(IMAGES > 0, np.nan, 0).astype(np.float32)
INF_IMAGES = np.where(IMAGES > 0, np.inf, 0).astype(np.float32)
BYTES = np.full((4, 28, 28, 1), 200, np.uint8)  # 0..255 pixels, not divided by 255

API_ROWS = [
    # wrong dtypes
    row("encode strings", lambda m: m.vae.encode(np.full((4, 28, 28, 1), "0.5")), ValueError,
        "images must be numeric, got dtype <U3"),
    row("encode an object array", lambda m: m.vae.encode(IMAGES.astype(object)), ValueError,
        "images must be numeric, got dtype object"),
    row("encode complex numbers", lambda m: m.vae.encode(IMAGES.astype(complex)), ValueError,
        "images must be numeric, got dtype complex128"),
    row("encode None", lambda m: m.vae.encode(None), TypeError, "images must be an array of shape (N, 28, 28, 1)"),
    row("encode a file name", lambda m: m.vae.encode("digit.png"), TypeError, "got str"),
    row("fit strings", lambda m: m.vae.fit(np.full((4, 28, 28, 1), "a"), verbose=0), ValueError,
        "images must be numeric"),
    row("fit a flat list of pixels", lambda m: m.vae.fit([[0.5] * 784] * 4, verbose=0), ValueError,
        "images must have rank 4 (N, 28, 28, 1); got rank 2"),
    row("decode strings", lambda m: m.vae.decode(np.full((4, 2), "0")), ValueError, "z must be numbers"),
    row("CVAE: float labels in fit", lambda m: m.cvae.fit(IMAGES, LABELS.astype(float), verbose=0), ValueError,
        "labels must be 4 integers (shape (4,)), got dtype float64"),
    row("CVAE: string labels in fit", lambda m: m.cvae.fit(IMAGES, np.array(list("0123")), verbose=0), ValueError,
        "got dtype <U1"),
    row("CVAE: one-hot labels in fit", lambda m: m.cvae.fit(IMAGES, np.eye(10)[LABELS], verbose=0), ValueError,
        "and shape (4, 10)"),
    row("CVAE: a string label", lambda m: m.cvae.sample(2, labels="7"), ValueError, "labels must be 2 integers"),
    row("CVAE: a float label", lambda m: m.cvae.sample(2, labels=7.0), ValueError, "got dtype float64"),
    # empty arrays
    row("fit no images", lambda m: m.vae.fit(IMAGES[:0], verbose=0), ValueError, "images is empty"),
    row("ELBO of no images", lambda m: evaluate.elbo(m.vae, IMAGES[:0]), ValueError, "images is empty"),
    # NaN and Inf
    row("fit NaN pixels", lambda m: m.vae.fit(NAN_IMAGES, verbose=0), ValueError,
        "images must be finite; found 3136 NaN"),
    row("fit Inf pixels", lambda m: m.vae.fit(INF_IMAGES, verbose=0), ValueError, "0 NaN and 3136 Inf values"),
    row("decode a NaN latent", lambda m: m.vae.decode(np.full((2, 2), np.nan)), ValueError,
        "z must be finite; found 4 NaN"),
    row("pixel error of NaN pixels", lambda m: evaluate.reconstruction_error(m.vae, NAN_IMAGES), ValueError,
        "must be finite"),
    # 0..255 images
    row("fit 0..255 uint8 images", lambda m: m.vae.fit(BYTES, verbose=0), ValueError, "divide uint8 images by 255"),
    row("ELBO of 0..255 images", lambda m: evaluate.elbo(m.vae, BYTES), ValueError, "divide uint8 images by 255"),
    # label ranges of the conditional VAE
    row("CVAE: label 10 in fit", lambda m: m.cvae.fit(IMAGES, LABELS + 7, verbose=0), ValueError,
        "labels must lie in [0, 10), got values from 7 to 10"),
    row("CVAE: label -1 in fit", lambda m: m.cvae.fit(IMAGES, LABELS - 1, verbose=0), ValueError,
        "labels must lie in [0, 10), got values from -1 to 2"),
    row("CVAE: labels as a list, one out of range", lambda m: m.cvae.fit(IMAGES, [0, 1, 2, 11], verbose=0),
        ValueError, "got values from 0 to 11"),
    row("CVAE: 3 labels for 4 images", lambda m: m.cvae.fit(IMAGES, LABELS[:3], verbose=0), ValueError,
        "and shape (3,)"),
    row("CVAE: sample class 10", lambda m: m.cvae.sample(2, labels=10), ValueError, "labels must lie in [0, 10)"),
    row("classifier labels out of range", lambda m: evaluate.train_classifier(IMAGES, LABELS + 7), ValueError,
        "labels must lie in [0, 10), got values from 7 to 10"),
    # unknown names
    row("misspelt constructor argument", lambda m: zoo.get("vae", latnt_dim=3), ValueError,
        "unknown argument(s) ['latnt_dim'] for 'vae' (a VAE). Did you mean 'latent_dim'?"),
    row("unknown dataset to report on", lambda m: evaluate.report(m.vae, dataset="cifar10", k=2, limit=4),
        ValueError, "Unknown dataset 'cifar10'"),
    # negative and zero sizes
    row("sample True images", lambda m: m.vae.sample(True), ValueError, "n must be a positive int, got True"),
    row("negative batch size", lambda m: evaluate.elbo(m.vae, IMAGES, batch_size=-1), ValueError,
        "batch_size must be a positive int, got -1"),
    row("zero importance samples", lambda m: evaluate.iwae_nll(m.vae, BINARY, k=0), ValueError,
        "k must be a positive int, got 0"),
    row("report on 0 test images", lambda m: evaluate.report(m.vae, k=2, limit=0), ValueError,
        "limit must be a positive int, got 0"),
    row("manifold with a negative step", lambda m: plots.manifold(m.vae, step=-0.5), ValueError,
        "step must be a positive number, got -0.5"),
    # bad paths
    row("weights that are a directory", lambda m: zoo.load_weights(m.vae, m.files / "weights-dir.weights.h5"),
        IsADirectoryError, "weights-dir.weights.h5 is a directory, not a .weights.h5 file"),
    row("weights that do not exist", lambda m: zoo.load_weights(m.vae, m.files / "nowhere.weights.h5"),
        FileNotFoundError, "nowhere.weights.h5: no such file"),
    row("weights with a wrong suffix", lambda m: zoo.load_weights(m.vae, m.files / "weights.txt"), ValueError,
        "weights.txt must be a .weights.h5 file"),
    row("recipe folder that does not exist", lambda m: recipes.read(m.files / "nowhere"), FileNotFoundError,
        "no recipe.json in"),
    row("history that is a directory", lambda m: plots.training_curves(m.files), IsADirectoryError,
        "is a directory, not a history file"),
    row("history that is not JSON", lambda m: plots.training_curves(m.files / "not-json.json"), ValueError,
        "not-json.json is not a JSON history"),
    row("export below a regular file", lambda m: export.export_saved_model(m.vae, m.files / "a-file" / "vae"),
        NotADirectoryError, "a-file is a file, not a directory"),
    row("export over a regular file", lambda m: export.export_saved_model(m.vae, m.files / "a-file", overwrite=True),
        FileExistsError, "a-file exists and is not a saved_model export"),
    row("export in an unknown format", lambda m: export.export(m.vae, m.files / "vae", "tflite"), ValueError,
        "unknown export format 'tflite'; choose one of saved_model, onnx, litert"),
    row("LiteRT export not named .tflite", lambda m: export.export(m.vae, m.files / "vae.lite", "litert"),
        ValueError, "a litert export is one file named *.tflite"),
    row("LiteRT export over a directory", lambda m: export.export(m.vae, m.files / "model-dir.tflite", "litert",
                                                                  overwrite=True),
        FileExistsError, "model-dir.tflite exists and is not a litert export"),
]


@pytest.mark.parametrize("call, error, message", API_ROWS)
def test_bad_input_to_the_api(models, call, error, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = snapshot(models.files)
    with pytest.raises(error) as caught:
        call(models)
    assert message in str(caught.value)
    assert_raised_by_keras_vae(caught.value)
    assert list(tmp_path.iterdir()) == [] and snapshot(models.files) == before


PLOT = ["--pretrained", "--out", "figures", "--limit", "100"]  # a figure of the zoo's weights, into ./figures

CLI_ROWS = [
    # negative and zero sizes, wrong types
    row("--batch-size -3", ["train", "vae", "--batch-size", "-3"], SystemExit,
        "argument --batch-size: must be a positive integer, got -3"),
    row("--latent-dim 0", ["train", "vae", "--latent-dim", "0"], SystemExit,
        "argument --latent-dim: must be a positive integer, got 0"),
    row("--limit 0", ["evaluate", "vae", "--pretrained", "--limit", "0"], SystemExit,
        "argument --limit: must be a positive integer, got 0"),
    row("--n -1", ["plot", "samples", "vae", *PLOT, "--n", "-1"], SystemExit,
        "argument --n: must be a positive integer, got -1"),
    row("--learning-rate nan", ["train", "vae", "--learning-rate", "nan"], SystemExit,
        "argument --learning-rate: must be a positive number, got nan"),
    row("--seed x", ["train", "vae", "--seed", "x"], SystemExit, "argument --seed: invalid int value: 'x'"),
    row("--epochs 1.5", ["train", "vae", "--epochs", "1.5"], SystemExit,
        "argument --epochs: must be a positive integer, got 1.5"),
    row("--learning-rate inf", ["train", "vae", "--learning-rate", "inf", "--out", "{files}/a-file"], SystemExit,
        "argument --learning-rate: must be a positive number, got inf"),
    # unknown names
    row("unknown model to plot", ["plot", "manifold", "vea", *PLOT], ValueError, "unknown model 'vea'"),
    # bad paths
    row("--weights a directory", ["evaluate", "vae", "--weights", "{files}"], IsADirectoryError,
        "is a directory"),
    row("--weights a directory named .weights.h5", ["evaluate", "vae", "--weights", "{files}/weights-dir.weights.h5"],
        IsADirectoryError, "weights-dir.weights.h5 is a directory"),
    row("--weights with a wrong suffix", ["evaluate", "vae", "--weights", "{files}/weights.txt"], ValueError,
        "weights must be a .weights.h5 or .keras file"),
    row("--recipe a missing folder", ["train", "--recipe", "{files}/nowhere"], FileNotFoundError,
        "no recipe.json in"),
    row("--recipe a regular file", ["train", "--recipe", "{files}/a-file"], FileNotFoundError, "no recipe.json in"),
    row("train --out a regular file", ["train", "vae", "--out", "{files}/a-file"], NotADirectoryError,
        "a-file is a file, not a directory"),
    row("train --tensorboard a regular file", ["train", "vae", "--tensorboard", "{files}/a-file"], NotADirectoryError,
        "a-file is a file, not a directory"),
    row("plot --out below a regular file", ["plot", "manifold", "vae", "--pretrained", "--limit", "100",
                                            "--out", "{files}/a-file/figs"], NotADirectoryError, "a-file is a file"),
    row("plot --out a regular file", ["plot", "training_curves", "vae", "--history", "{files}/history.json",
                                      "--out", "{files}/a-file"], NotADirectoryError, "a-file is a file"),
    row("evaluate --json below a regular file", ["evaluate", "vae", "--pretrained", "--limit", "8", "--k", "2",
                                                 "--json", "{files}/a-file/metrics.json"], NotADirectoryError,
        "a-file is a file"),
    row("--history not JSON", ["plot", "training_curves", "vae", "--history", "{files}/not-json.json",
                               "--out", "figures"], ValueError, "not-json.json is not a JSON history"),
    row("--history a JSON list", ["plot", "training_curves", "vae", "--history", "{files}/list.json",
                                  "--out", "figures"], ValueError, "history must be a keras History, a dict"),
    row("--history a directory", ["plot", "training_curves", "vae", "--history", "{files}", "--out", "figures"],
        IsADirectoryError, "is a directory, not a history file"),
    # value ranges a figure refuses
    row("manifold step 0", ["plot", "manifold", "vae", *PLOT, "--range=-3,3,-3,3,0"], ValueError,
        "step must be a positive number, got 0.0"),
    row("manifold range backwards", ["plot", "manifold", "vae", *PLOT, "--range=3,-3,-3,3,0.5"], ValueError,
        "the x range must go from a smaller to a larger finite number"),
    row("manifold of latent dim 5 of 2", ["plot", "manifold", "vae", *PLOT, "--dims", "0,5"], ValueError,
        "dims must be two different latent coordinates in [0, 2)"),
    row("CVAE: manifold of class 12", ["plot", "manifold", "cvae", *PLOT, "--label", "12"], ValueError,
        "labels must lie in [0, 10)"),
    row("interpolation to class 12", ["plot", "interpolation", "vae", *PLOT, "--between", "3,12"], ValueError,
        "end must be a class in [0, 10), got 12"),
]


@pytest.mark.parametrize("argv, error, message", CLI_ROWS)
def test_bad_command_line(files, argv, error, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    before = snapshot(files)
    status, err, raised = run_cli([arg.format(files=files) for arg in argv], monkeypatch, capsys)
    assert status == 2 and len(err.splitlines()) == 1 and message in err, err
    assert isinstance(raised, error), f"expected {error.__name__}, got {raised!r}"
    assert_raised_by_keras_vae(raised)
    assert list(tmp_path.iterdir()) == [] and snapshot(files) == before


def test_train_with_a_corrupt_dataset_leaves_no_run_directory(files, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_VAE_DATA_DIR", str(files / "bad-data"))
    monkeypatch.chdir(tmp_path)
    status, err, raised = run_cli(["train", "vae", "--epochs", "1", "--verbose", "0"], monkeypatch, capsys)
    assert status == 2 and "mnist.npz" in err
    assert_raised_by_keras_vae(raised)
    assert list(tmp_path.iterdir()) == []
