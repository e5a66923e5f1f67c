"""keras_vae.export: a SavedModel that serves encode / decode / reconstruct / sample with TensorFlow alone.

The models are exported once per module, from the backend under test (PyTorch through the TensorFlow-backend
process `export` starts), and compared with that backend's models. The SavedModels
are loaded by one subprocess that imports TensorFlow and numpy only, which runs every call of the tables
below and returns the outputs and errors through files.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from harness import build, fit, numpy, snapshot
from keras_vae import export
from keras_vae.models import VQVAE

BACKEND = keras.backend.backend()
# vq_vae_certain: a VQ-VAE whose prior draws CERTAIN_CODE at every position
NAMES = ("vae", "conv_vae", "ae", "cvae", "vq_vae", "vq_vae_certain")
CERTAIN_CODE = 11
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
TF_ERRORS = {"ValueError", "TypeError", "InvalidArgumentError"}

# Loads the SavedModels with TensorFlow alone and runs the calls written beside them (`write_calls`); an
# endpoint "signatures/NAME" is called as TF Serving does, through the signature (a concrete function).
PROBE = """
import json, sys
import numpy as np
import tensorflow as tf

folder, names = sys.argv[1], sys.argv[2:]
report = {}
for name in names:
    served = tf.saved_model.load(f"{folder}/{name}")
    calls = json.loads(open(f"{folder}/{name}.calls.json").read())
    arrays = np.load(f"{folder}/{name}.inputs.npz")
    outputs, errors = {}, {}
    for call, endpoint in calls.items():
        inputs = {key.split(".")[1]: tf.constant(arrays[key]) for key in arrays.files if key.startswith(call + ".")}
        signature = endpoint.startswith("signatures/")
        function = served.signatures[endpoint.split("/")[1]] if signature else getattr(served, endpoint)
        try:
            result = function(**inputs)
        except (ValueError, TypeError, tf.errors.InvalidArgumentError) as error:
            errors[call] = type(error).__name__
            continue
        outputs.update({f"{call}.{key}": value.numpy() for key, value in result.items()})
    np.savez(f"{folder}/{name}.outputs.npz", **outputs)
    signatures = {key: {"inputs": sorted(fn.structured_input_signature[1]), "outputs": sorted(fn.structured_outputs)}
                  for key, fn in served.signatures.items()}
    report[name] = {"errors": errors, "signatures": signatures}
report["keras_vae_imported"] = "keras_vae" in sys.modules
open(f"{folder}/report.json", "w").write(json.dumps(report))
"""

# What the Keras model computes for an endpoint's inputs, keyed as the endpoint's outputs.
KERAS = {
    "encode": lambda model, images, labels=None: dict(zip(heads(model), _listed(model.encode(images, labels)))),
    "decode": lambda model, **inputs: {"images": model.decode(**inputs)},  # z (a VQ-VAE: codes), labels
    "reconstruct": lambda model, images, labels=None: {"images": model.reconstruct(images, labels)},
    "prior_logits": lambda model, codes: {"logits": model.prior(codes)},
}
KERAS["serve"] = KERAS["signatures/serving_default"] = KERAS["reconstruct"]


def _listed(outputs):
    return outputs if isinstance(outputs, (list, tuple)) else [outputs]


def is_vq(model):
    return isinstance(model, VQVAE)


def heads(model):
    """The names of `encode`'s outputs: the encoder's heads, or a VQ-VAE's `codes`."""
    return ("codes",) if is_vq(model) else model.encoder_heads


def latent(model, n, wider=0):
    """`decode`'s input for n images: {"z": latent vectors}, or for a VQ-VAE {"codes": int32 grids}; `wider`
    adds columns (a wrong shape)."""
    rng = np.random.default_rng(0)
    if is_vq(model):
        height, width = model.grid_shape
        return {"codes": rng.integers(0, model.num_codes, (n, height, width + wider)).astype("int32")}
    return {"z": rng.normal(size=(n, model.latent_dim + wider)).astype("float32")}


def small_vq_vae(certain=None):
    """A small VQ-VAE with distinct code vectors; with `certain`, its prior's logits are one large entry for that
    code whatever the codes before: every position draws it."""
    model = VQVAE(num_codes=16, code_dim=4, prior={"filters": 8, "num_layers": 2}, seed=0)
    model.quantizer.codebook.assign(np.random.default_rng(0).normal(size=(16, 4)).astype("float32"))
    if certain is not None:
        logits = model.prior.logits
        logits.kernel.assign(np.zeros(logits.kernel.shape, "float32"))
        logits.bias.assign(np.where(np.arange(16) == certain, 40.0, 0.0).astype("float32"))
    return model


def run_python(code, *args):
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                            env=ENV, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def has_prior(model):
    return "z_log_var" in model.encoder_heads or is_vq(model)


def good_calls(model, x, y):
    """call id -> (endpoint, inputs): calls that must succeed, with batch sizes differing between endpoints."""
    latents = latent(model, 3)
    cond = (lambda labels: {"labels": labels}) if model.num_classes else (lambda labels: {})
    calls = {
        "encode": ("encode", {"images": x[:8], **cond(y[:8])}),
        "decode": ("decode", {**latents, **cond(y[:3])}),
        "reconstruct": ("reconstruct", {"images": x[:5], **cond(y[:5])}),
        "serve": ("serve", {"images": x[:5], **cond(y[:5])}),
        "serving_default": ("signatures/serving_default", {"images": x[:6], **cond(y[:6])}),
    }
    if model.num_classes:
        other = (y + 1) % model.num_classes
        calls["decode_other"] = ("decode", {**latents, "labels": other[:3]})
        calls["reconstruct_other"] = ("reconstruct", {"images": x[:5], "labels": other[:5]})
    if has_prior(model):
        for call, n, seed, labels in (("sample", 5, 3, y[:5]), ("sample_again", 5, 3, y[:5]),
                                      ("sample_seed4", 5, 4, y[:5]), ("sample_n2", 2, 3, y[:2])):
            calls[call] = ("sample", {"n": np.int32(n), "seed": np.int32(seed), **cond(labels)})
    if is_vq(model):
        calls["prior_logits"] = ("prior_logits", latent(model, 4))
    if has_prior(model) and model.num_classes:
        calls["sample_other"] = ("sample", {"n": np.int32(5), "seed": np.int32(3), "labels": other[:5]})
        calls["sample_one_label"] = ("sample", {"n": np.int32(4), "seed": np.int32(3), "labels": y[:1]})
        calls["sample_same_labels"] = ("sample", {"n": np.int32(4), "seed": np.int32(3), "labels": np.repeat(y[:1], 4)})
    return calls


def bad_calls(model, x, y):
    """call id -> (endpoint, inputs): calls whose inputs are wrong, which TensorFlow must reject."""
    cond = (lambda labels: {"labels": labels}) if model.num_classes else (lambda labels: {})
    calls = {
        "images_without_channel_axis": ("encode", {"images": x[:2, ..., 0], **cond(y[:2])}),
        "float64_images": ("reconstruct", {"images": x[:2].astype("float64"), **cond(y[:2])}),
        "latent_of_wrong_size": ("decode", {**latent(model, 2, wider=1), **cond(y[:2])}),
        "half_images_to_the_signature": ("signatures/serving_default", {"images": x[:2, :14], **cond(y[:2])}),
    }
    if model.num_classes:
        calls["fewer_labels_than_images"] = ("reconstruct", {"images": x[:4], "labels": y[:3]})
        calls["no_labels"] = ("decode", latent(model, 2))
        calls["float_labels"] = ("encode", {"images": x[:2], "labels": y[:2].astype("float32")})
    if is_vq(model):
        calls["float_codes"] = ("decode", {"codes": latent(model, 2)["codes"].astype("float32")})
    if has_prior(model):
        calls["zero_images"] = ("sample", {"n": np.int32(0), "seed": np.int32(1), **cond(y[:1])})
        calls["n_not_a_scalar"] = ("sample", {"n": np.int32([2]), "seed": np.int32(1), **cond(y[:2])})
    return calls


def write_calls(folder, name, calls):
    np.savez(folder / f"{name}.inputs.npz",
             **{f"{call}.{key}": value for call, (_, inputs) in calls.items() for key, value in inputs.items()})
    (folder / f"{name}.calls.json").write_text(json.dumps({call: endpoint for call, (endpoint, _) in calls.items()}))


@pytest.fixture(scope="module")
def models(small_mnist):
    """Tiny models; the VAE is fitted for two steps so that no weight keeps its initial value."""
    (x, y), _ = small_mnist
    built = {name: build(name) for name in NAMES[:4]}
    fit(built["vae"], x[:128], y[:128], batch_size=64, epochs=1)
    built.update(vq_vae=small_vq_vae(), vq_vae_certain=small_vq_vae(certain=CERTAIN_CODE))
    return built


@pytest.fixture(scope="module")
def exported(models, tmp_path_factory):
    """The folder holding one SavedModel per model, named as the model."""
    folder = tmp_path_factory.mktemp("exports")
    for name, model in models.items():
        assert export.export_saved_model(model, folder / name) == folder / name
    return folder


@pytest.fixture(scope="module")
def served(models, exported, small_mnist):
    """Runs every good and bad call in a TensorFlow-only process: (calls, outputs per model, report)."""
    _, (x, y) = small_mnist
    calls = {name: (good_calls(model, x, y), bad_calls(model, x, y)) for name, model in models.items()}
    for name, (good, bad) in calls.items():
        write_calls(exported, name, {**good, **bad})
    run_python(PROBE, exported, *NAMES)
    outputs = {name: dict(np.load(exported / f"{name}.outputs.npz")) for name in NAMES}
    return calls, outputs, json.loads((exported / "report.json").read_text())


def test_loading_needs_neither_keras_vae_nor_its_code(served):
    _, _, report = served
    assert report["keras_vae_imported"] is False  # (importing TensorFlow imports Keras itself)


@pytest.mark.parametrize("name", NAMES)
def test_signatures_have_the_documented_names(name, served):
    _, _, report = served
    labels = ["labels"] if name == "cvae" else []
    vq = name.startswith("vq_vae")
    expected = {
        "encode": (["images", *labels], ["code"] if name == "ae" else ["codes"] if vq else ["z_log_var", "z_mean"]),
        "decode": (sorted(["codes" if vq else "z", *labels]), ["images"]),
        "reconstruct": (["images", *labels], ["images"]),
        "serve": (["images", *labels], ["images"]),
        "serving_default": (["images", *labels], ["images"]),
    }
    if name != "ae":  # the autoencoder has no prior to sample
        expected["sample"] = (sorted(["n", "seed", *labels]), ["images"])
    if vq:  # the logits of the prior that sample draws codes from
        expected["prior_logits"] = (["codes"], ["logits"])
    signatures = report[name]["signatures"]
    assert {key: (sig["inputs"], sig["outputs"]) for key, sig in signatures.items()} == expected


@pytest.mark.parametrize("name", NAMES)
def test_served_outputs_equal_the_keras_model(name, models, served):
    model, (calls, outputs, _) = models[name], served
    good, outputs = calls[name][0], outputs[name]
    compared = [call for call, (endpoint, _) in good.items() if endpoint in KERAS]
    assert len(compared) >= 5
    for call in compared:
        endpoint, inputs = good[call]
        for key, expected in KERAS[endpoint](model, **inputs).items():
            np.testing.assert_allclose(outputs[f"{call}.{key}"], numpy(expected), rtol=0, atol=1e-5,
                                       err_msg=f"{name}: {call} -> {key}")


@pytest.mark.parametrize("name", ["vae", "conv_vae", "cvae", "vq_vae"])
def test_sample_is_seeded(name, models, served):
    model, outputs = models[name], served[1][name]
    images = {call: outputs[f"{call}.images"] for call in ("sample", "sample_again", "sample_seed4", "sample_n2")}
    assert images["sample"].shape == (5, *model.image_shape)
    assert images["sample_n2"].shape == (2, *model.image_shape)
    np.testing.assert_array_equal(images["sample"], images["sample_again"])
    assert not np.allclose(images["sample"], images["sample_seed4"])
    for drawn in images.values():
        assert drawn.min() >= 0.0 and drawn.max() <= 1.0


def test_vq_vae_encodes_to_int32_codes_and_samples_them_from_its_prior(models, served):
    outputs = served[1]
    codes = outputs["vq_vae"]["encode.codes"]
    assert codes.dtype == np.int32 and codes.shape == (8, 7, 7) and len(np.unique(codes)) > 1
    model, outputs = models["vq_vae_certain"], outputs["vq_vae_certain"]
    certain, other = (numpy(model.decode(np.full((5, 7, 7), code, "int32"))) for code in (CERTAIN_CODE, 0))
    assert not np.allclose(certain, other)  # the grid's code shows in the images
    for call in ("sample", "sample_again", "sample_seed4"):
        np.testing.assert_allclose(outputs[f"{call}.images"], certain, rtol=0, atol=1e-5, err_msg=call)


def test_cvae_labels_condition_decode_reconstruct_and_sample(served):
    outputs = served[1]["cvae"]
    for call in ("decode", "reconstruct", "sample"):
        assert not np.allclose(outputs[f"{call}.images"], outputs[f"{call}_other.images"]), call
    assert outputs["sample_one_label.images"].shape == (4, 28, 28, 1)
    np.testing.assert_array_equal(outputs["sample_one_label.images"], outputs["sample_same_labels.images"])


@pytest.mark.parametrize("name", NAMES)
def test_wrong_inputs_raise_tensorflow_errors(name, served):
    calls, _, report = served
    _, bad = calls[name]
    errors = report[name]["errors"]
    assert set(errors) == set(bad)  # every good call succeeded, every bad one raised, the process lived
    assert set(errors.values()) <= TF_ERRORS, errors


def test_saved_model_cli_lists_every_signature(exported, served):
    signatures = served[2]["cvae"]["signatures"]
    cli = shutil.which("saved_model_cli")
    command = [cli] if cli else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    result = subprocess.run([*command, "show", "--dir", str(exported / "cvae"), "--all"], capture_output=True,
                            text=True, env=ENV, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(signatures) == 6
    for signature in signatures:
        assert f"signature_def['{signature}']" in result.stdout


@pytest.mark.skipif(BACKEND != "tensorflow", reason="keras.layers.TFSMLayer runs on the TensorFlow backend only")
def test_tfsm_layer_wraps_decode(models, exported):
    model = models["vae"]
    layer = keras.layers.TFSMLayer(exported / "vae", call_endpoint="decode")
    z = np.random.default_rng(1).normal(size=(4, model.latent_dim)).astype("float32")
    np.testing.assert_allclose(numpy(layer(z)["images"]), numpy(model.decode(z)), rtol=0, atol=1e-5)


@pytest.mark.backend_independent
def test_bad_models_get_clear_errors(tmp_path):
    with pytest.raises(TypeError, match="export needs a keras_vae model"):
        export.export_saved_model(keras.Sequential([keras.layers.Dense(2)]), tmp_path / "model")
    model = build("ae")
    model.built = False
    with pytest.raises(ValueError, match="is not built"):
        export.export_saved_model(model, tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


# --- atomic writes --------------------------------------------------------------------------------------------


def archive_class():
    """The class of the archives `keras.export.ExportArchive()` makes on this backend."""
    return type(keras.export.ExportArchive())


def write_partly_then(error):
    def write_out(self, filepath, **kwargs):
        Path(filepath, "saved_model.pb").write_bytes(b"half")
        raise error
    return write_out


@pytest.fixture
def old_export(models, tmp_path):
    """An export of the autoencoder at tmp_path / "model", and a copy of its files' bytes."""
    path = export.export_saved_model(models["ae"], tmp_path / "model")
    return path, snapshot(path)


@pytest.mark.backend_independent
@pytest.mark.parametrize("error", [KeyboardInterrupt(), OSError("disk full")], ids=["interrupted", "failed"])
def test_a_failed_export_leaves_nothing(models, tmp_path, monkeypatch, error):
    monkeypatch.setattr(archive_class(), "write_out", write_partly_then(error))
    with pytest.raises(type(error)):
        export.export_saved_model(models["vae"], tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.backend_independent
def test_an_existing_export_is_kept_without_overwrite(models, old_export):
    path, files = old_export
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export.export_saved_model(models["vae"], path)
    assert snapshot(path) == files and list(path.parent.iterdir()) == [path]


@pytest.mark.backend_independent
def test_an_existing_export_survives_a_failed_overwrite(models, old_export, monkeypatch):
    path, files = old_export
    monkeypatch.setattr(archive_class(), "write_out", write_partly_then(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        export.export_saved_model(models["vae"], path, overwrite=True)
    assert snapshot(path) == files and list(path.parent.iterdir()) == [path]


@pytest.mark.backend_independent
def test_overwrite_replaces_an_existing_export(models, old_export):
    path, files = old_export
    (path / "stale.txt").write_text("from the old export")
    export.export_saved_model(models["vae"], path, overwrite=True)
    assert not (path / "stale.txt").exists() and snapshot(path) != files
    assert list(path.parent.iterdir()) == [path]


# Scores a Bernoulli VAE's SavedModel with TensorFlow and NumPy alone: the IWAE bound of each image from `encode`
# (z_mean, z_log_var) and `decode` (pixel probabilities), k draws of the posterior from NumPy's generator.
SCORE = """
import json, sys
import numpy as np
import tensorflow as tf

folder, k = sys.argv[1], int(sys.argv[2])
served = tf.saved_model.load(f"{folder}/model")
images = np.load(f"{folder}/images.npy")
rng = np.random.default_rng(0)
nll = []
for image in images:
    posterior = served.encode(images=tf.constant(image[None]))
    mean, log_var = (posterior[key].numpy()[0].astype("float64") for key in ("z_mean", "z_log_var"))
    noise = rng.standard_normal((k, mean.size))
    z = mean + np.exp(0.5 * log_var) * noise
    p = served.decode(z=tf.constant(z, tf.float32))["images"].numpy().reshape(k, -1).astype("float64")
    p, x = np.clip(p, 1e-7, 1 - 1e-7), image.reshape(-1)
    log_weights = ((x * np.log(p) + (1 - x) * np.log(1 - p)).sum(1) - 0.5 * (z ** 2).sum(1)
                   + 0.5 * (noise ** 2 + log_var).sum(1))  # log p(x|z) + log p(z) - log q(z|x); the 2 pi cancel
    nll.append(np.log(k) - np.logaddexp.reduce(log_weights))
json.dump({"nll": float(np.mean(nll)), "keras_vae_imported": "keras_vae" in sys.modules},
          open(f"{folder}/score.json", "w"))
"""


@pytest.mark.backend_independent  # the export of every backend is tested above; this scores one entry's weights
def test_the_iwae_entry_is_scored_by_tensorflow_alone(tmp_path):
    """The card's IWAE bound (check.json: k = 100, the first 100 binarised test images) from the SavedModel alone."""
    from keras_vae import data, zoo

    check = json.loads((zoo.folder("iwae") / "check.json").read_text())
    _, (binary, _) = data.load("mnist", binarize="dynamic", seed=0)
    np.save(tmp_path / "images.npy", binary[:100])
    export.export_saved_model(zoo.get("iwae", pretrained=True), tmp_path / "model")
    run_python(SCORE, tmp_path, "100")
    score = json.loads((tmp_path / "score.json").read_text())
    assert score["keras_vae_imported"] is False
    # other draws of the posterior than keras_vae.evaluate's: the mean over 100 images moves by about 0.1 nats
    assert score["nll"] == pytest.approx(check["iwae_nll"]["nll"], abs=0.5)
