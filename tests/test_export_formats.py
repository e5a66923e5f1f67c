"""keras_vae.export's ONNX and LiteRT formats: files that onnxruntime and the LiteRT interpreter run, computing what
the Keras model computes, exported from the backend under test (PyTorch, and JAX for LiteRT, through a
TensorFlow-backend process). The SavedModel format is tested in test_export.py."""

import keras
import numpy as np
import onnxruntime
import pytest
from ai_edge_litert.interpreter import Interpreter

from harness import build, fit, labels_of, numpy
from keras_vae import cli, export
from keras_vae.models import VQVAE

BACKEND = keras.backend.backend()
# Where a TensorFlow-backend process exports every format (PyTorch), the conditional VAE alone shows that path
NAMES = ("conv_vae", "cvae") if BACKEND in export.onnx.BACKENDS else ("cvae",)
ONNX_FILES = ["decode.onnx", "encode.onnx", "reconstruct.onnx"]


@pytest.fixture(scope="module")
def models(small_mnist):
    """conv_vae (transposed convolutions) and the conditional VAE (a second, int32 input), fitted for a few steps
    so that no weight keeps its initial value."""
    (x, y), _ = small_mnist
    built = {name: build(name) for name in NAMES}
    for model in built.values():
        fit(model, x[:128], y[:128], batch_size=64, epochs=1)
    return built


@pytest.fixture(scope="module")
def exported(models, tmp_path_factory):
    """name -> (ONNX folder, LiteRT file) of each model."""
    folder = tmp_path_factory.mktemp("formats")
    return {name: (export.export(model, folder / name, "onnx"),
                   export.export(model, folder / f"{name}.tflite", "litert")) for name, model in models.items()}


def expected_outputs(model, images, z, y):
    """What the Keras model computes for each endpoint, keyed by output name."""
    labels = labels_of(model, y)
    heads = model.encode(images, **labels)
    return {
        "encode": dict(zip(model.encoder_heads, map(numpy, heads))),
        "decode": {"images": numpy(model.decode(z, **labels))},
        "reconstruct": {"images": numpy(model.reconstruct(images, **labels))},
    }


def endpoint_inputs(model, images, z, y):
    labels = labels_of(model, y)
    return {"encode": {"images": images, **labels}, "decode": {"z": z, **labels},
            "reconstruct": {"images": images, **labels}}


def batches(model, small_mnist):
    """Two batch sizes (the exports have a symbolic batch): (images, z, int32 labels)."""
    _, (x, y) = small_mnist
    z = np.random.default_rng(0).normal(size=(7, model.latent_dim)).astype("float32")
    return [(x[:n], z[:n], y[:n].astype("int32")) for n in (1, 7)]


@pytest.mark.parametrize("name", NAMES)
def test_onnx_runs_in_onnxruntime_as_the_keras_model(name, models, exported, small_mnist):
    model, (folder, _) = models[name], exported[name]
    assert sorted(path.name for path in folder.iterdir()) == ONNX_FILES
    labels = ["labels"] if model.num_classes else []
    for images, z, y in batches(model, small_mnist):
        expected = expected_outputs(model, images, z, y)
        for endpoint, inputs in endpoint_inputs(model, images, z, y).items():
            session = onnxruntime.InferenceSession(str(folder / f"{endpoint}.onnx"))
            assert [i.name for i in session.get_inputs()] == [*inputs][:1] + labels
            names = [o.name for o in session.get_outputs()]
            # ONNX names a graph's inputs and outputs in one namespace: reconstruct's output is "reconstruction"
            wanted = {"reconstruction" if endpoint == "reconstruct" else key: value
                      for key, value in expected[endpoint].items()}
            assert sorted(names) == sorted(wanted)
            for key, value in zip(names, session.run(None, inputs)):
                np.testing.assert_allclose(value, wanted[key], rtol=0, atol=1e-4, err_msg=f"{endpoint} {key}")


@pytest.mark.parametrize("name", NAMES)
def test_litert_runs_in_the_litert_interpreter_as_the_keras_model(name, models, exported, small_mnist):
    model, (_, file) = models[name], exported[name]
    interpreter = Interpreter(model_path=str(file))
    labels = ["labels"] if model.num_classes else []
    assert interpreter.get_signature_list() == {
        "encode": {"inputs": ["images", *labels], "outputs": sorted(model.encoder_heads)},
        "decode": {"inputs": sorted(["z", *labels]), "outputs": ["images"]},
        "reconstruct": {"inputs": ["images", *labels], "outputs": ["images"]},
    }
    for images, z, y in batches(model, small_mnist):
        expected = expected_outputs(model, images, z, y)
        for endpoint, inputs in endpoint_inputs(model, images, z, y).items():
            outputs = interpreter.get_signature_runner(endpoint)(**inputs)
            assert set(outputs) == set(expected[endpoint])
            for key, value in outputs.items():
                np.testing.assert_allclose(value, expected[endpoint][key], rtol=0, atol=1e-4,
                                           err_msg=f"{endpoint} {key}")


@pytest.mark.backend_independent
def test_the_command_exports_each_format(tmp_path):
    weights = tmp_path / "vae.weights.h5"
    build("vae").save_weights(weights)
    for format, out in (("onnx", tmp_path / "onnx"), ("litert", tmp_path / "vae.tflite")):
        assert cli.main(["export", "vae", str(out), "--weights", str(weights), "--format", format]) == 0
    assert sorted(path.name for path in (tmp_path / "onnx").iterdir()) == ONNX_FILES
    assert set(Interpreter(model_path=str(tmp_path / "vae.tflite")).get_signature_list()) == {
        "encode", "decode", "reconstruct"}


@pytest.mark.backend_independent
def test_a_missing_converter_names_the_extra(models, tmp_path, monkeypatch):
    monkeypatch.setattr(export.onnx.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"needs tf2onnx: pip install 'keras-vae\[onnx\]'"):
        export.export(models["cvae"], tmp_path / "onnx", "onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.backend_independent
@pytest.mark.parametrize("format, target, shown", [("onnx", "onnx", "ONNX"), ("litert", "vq.tflite", "LiteRT")])
def test_a_vq_vae_is_refused_with_a_pointer_to_saved_model(format, target, shown, tmp_path):
    model = VQVAE(num_codes=16, code_dim=4, prior={"filters": 8, "num_layers": 2})
    with pytest.raises(ValueError, match=rf"the {shown} export does not support VQVAE .*format='saved_model'"):
        export.export(model, tmp_path / target, format)
    assert list(tmp_path.iterdir()) == []
