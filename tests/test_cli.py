"""The `keras-vae` command: parsing, exit codes and messages, a start without a backend for `list` and `--help`,
output free of TensorFlow's log lines, and short real runs in-process on a small real-MNIST .npz. The training run
itself is tested through the library call, in tests/test_training.py."""

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from PIL import Image

from harness import write_mnist_npz
from keras_vae import cli, zoo

#: the loss, and the NLL, of a model that gives every pixel probability 0.5: an untrained one scores about this
UNTRAINED_NATS = 784 * np.log(2)  # 543.4
BACKENDS = {"keras", "tensorflow", "jax", "torch"}


def python(*args, env=None):
    """Runs `python ARGS` in a fresh process (in this one's environment, or `env`)."""
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True)


@pytest.mark.backend_independent
def test_list_prints_every_model_with_its_description_in_one_column(capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == zoo.list_models()  # the plain-data catalog it prints is the registry
    columns = {line.index(zoo.entry(name).description) for name, line in zip(names, lines)}
    assert len(columns) == 1 and columns.pop() > len("conv_vae_fashion")


@pytest.mark.backend_independent
@pytest.mark.parametrize("argv", [["list"], ["--help"], ["train", "--help"], ["plot", "--help"]])
def test_list_and_help_import_no_backend(argv):
    run = python("-c", f"""
import sys
from keras_vae import cli
try:
    status = cli.main({argv!r})
except SystemExit as exit_:  # --help
    status = exit_.code
loaded = {BACKENDS!r} & {{name.split(".")[0] for name in sys.modules}}
assert status == 0 and not loaded, (status, loaded)
""")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip()


@pytest.mark.backend_independent
def test_import_keras_vae_starts_no_backend_and_loads_modules_on_first_use():
    run = python("-c", f"""
import sys
import keras_vae
assert not {BACKENDS!r} & set(sys.modules), "import keras_vae imported a backend"
assert {{"export", "plots", "zoo", "VAE"}} <= set(dir(keras_vae)) & set(keras_vae.__all__)
assert callable(keras_vae.export.export_saved_model) and callable(keras_vae.plots.manifold)
assert keras_vae.zoo.entry("vae").model_class is keras_vae.VAE
assert not hasattr(keras_vae, "no_such_module")
""")
    assert run.returncode == 0, run.stderr


NATIVE_LINES = {  # what TensorFlow's libraries write as they load, by severity, and a line of another kind
    "notice": "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    "I": "I0000 00:00:1796120901.034632    7507 cudart_stub.cc:31] Could not find cuda drivers on your machine\n",
    "W": "W0000 00:00:1796120901.034700    7507 cpu_allocator.cc:12] Allocation exceeds 10% of free memory\n",
    "E": "E0000 00:00:1796120906.666057    7507 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n",
    "other": "UserWarning: a line that is not TensorFlow's\n",
}


@pytest.mark.backend_independent
@pytest.mark.parametrize("level, kept", [("0", ["notice", "I", "W", "E", "other"]), ("2", ["E", "other"]),
                                         ("3", ["other"])])
def test_lines_a_library_logs_as_it_loads_are_dropped_below_tf_cpp_min_log_level(level, kept, tmp_path, monkeypatch,
                                                                                  capfd):
    written = "".join(NATIVE_LINES.values()).encode()
    (tmp_path / "loud_library.py").write_text(f"import os\nos.write(2, {written!r})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "loud_library", raising=False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", level)
    cli._import_quietly(["loud_library"])
    assert capfd.readouterr().err == "".join(NATIVE_LINES[kind] for kind in kept)


@pytest.mark.backend_independent
def test_a_real_command_on_tensorflow_writes_no_tensorflow_log_lines():
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    run = python("-m", "keras_vae.cli", "evaluate", "vae", "--pretrained", "--limit", "16", "--k", "2",
                 env={**env, "KERAS_BACKEND": "tensorflow"})
    assert run.returncode == 0 and json.loads(run.stdout)["backend"] == "tensorflow", run.stderr
    native = [line for line in run.stderr.splitlines() if re.match(r"[IWEF]\d{4} ", line) or "absl::" in line]
    assert not native, run.stderr


@pytest.mark.backend_independent
@pytest.mark.parametrize("argv, message", [  # more in test_bad_input.py's table
    (["train", "vae", "--dataset", "cifar10"], "--dataset: invalid choice"),
    (["fly"], "invalid choice"),
    (["evaluate", "vae"], "one of the arguments --pretrained --weights is required"),
    (["evaluate", "vae", "--weights", "nowhere.weights.h5"], "no such file"),
    (["export", "vae", "out", "--weights", "nowhere.keras"], "no such file"),
    (["plot", "scatter", "vae", "--pretrained", "--out", "figures"], "argument kind: invalid choice"),
    (["plot", "manifold", "vae", "--out", "figures"], "pass --pretrained (the zoo's weights) or --weights FILE"),
    (["plot", "manifold", "vae", "--pretrained"], "the following arguments are required: --out"),
    (["plot", "manifold", "vae", "--pretrained", "--range", "1,2", "--out", "figures"],
     "--range: expected 5 comma-separated floats, got '1,2'"),
    (["plot", "interpolation", "vae", "--pretrained", "--between", "3,x", "--out", "figures"],
     "--between: expected 2 comma-separated ints"),
    (["plot", "training_curves", "vae", "--out", "figures"], "training_curves needs --history FILE"),
    (["plot", "training_curves", "vae", "--history", "nowhere.json", "--out", "figures"], "no history file"),
])
def test_bad_command_lines_exit_2_with_one_line(argv, message, capsys):
    try:
        status = cli.main(argv)
    except SystemExit as exit_:
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


@pytest.fixture(scope="module")
def trained_vae(tmp_path_factory, small_mnist):
    """A two-epoch `keras-vae train vae` run directory, and what the command printed."""
    directory = write_mnist_npz(tmp_path_factory.mktemp("data"), small_mnist)
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setenv("KERAS_VAE_DATA_DIR", str(directory))
        patch.setenv("KERAS_VAE_ALLOW_VARIANT", "1")  # 512 of MNIST's images: a subset, loaded by choice
        patch.chdir(tmp_path_factory.mktemp("cwd"))  # no --out: runs/vae here
        assert cli.main(["train", "vae", "--epochs", "2", "--batch-size", "64", "--seed", "3", "--kl-warmup", "1",
                         "--tensorboard", "logs", "--verbose", "0"]) == 0
        out = Path.cwd() / "runs" / "vae"
    return directory, out, printed.getvalue()


def test_train_passes_its_options_to_the_library_call_and_says_what_it_wrote(trained_vae):
    _, out, printed = trained_vae
    metrics = json.loads((out / "test_metrics.json").read_text())
    assert (metrics["epochs"], metrics["batch_size"], metrics["schedule"], metrics["seed"]) == (2, 64, "constant", 3)
    # --kl-warmup 1: the KL weight rises over the first epoch's 8 steps (0, 1/8, ..., 7/8), then stays 1
    assert metrics["kl_schedule"] == {"warmup_epochs": 1}
    history = json.loads((out / "history.json").read_text())
    assert history["kl_weight"] == [pytest.approx(3.5 / 8), 1.0] and metrics["kl_weight"] == 1.0
    for logs in ("train", "validation", "images"):  # what they hold: tests/test_training.py
        assert list((out.parents[1] / "logs" / logs).glob("events.out.tfevents.*")), logs
    assert re.fullmatch(rf"vae: test loss {metrics['loss']:.2f}, kl_loss [\d.]+, kl_weight 1.00, reconstruction_loss "
                        rf"[\d.]+; "
                        rf"wrote runs/vae/model.keras, model.weights.h5, history.json, test_metrics.json, "
                        rf"figures and preset/\n", printed), printed


@pytest.mark.parametrize("weights", ["model.weights.h5", "model.keras"])
def test_evaluate_a_run_writes_json(trained_vae, weights, tmp_path, monkeypatch):
    directory, run, _ = trained_vae
    monkeypatch.setenv("KERAS_VAE_DATA_DIR", str(directory))
    monkeypatch.setenv("KERAS_VAE_ALLOW_VARIANT", "1")
    report = tmp_path / "metrics.json"
    assert cli.main(["evaluate", "vae", "--weights", str(run / weights), "--limit", "32", "--k", "4",
                     "--json", str(report)]) == 0
    result = json.loads(report.read_text())
    assert result["model"] == "vae" and result["weights"] == str(run / weights)
    assert 0 < result["iwae_nll"]["nll"] < 0.8 * UNTRAINED_NATS
    assert 0 < result["test_elbo"]["loss"] < 0.8 * UNTRAINED_NATS


def test_weights_of_another_model_are_refused(trained_vae, capsys):
    _, run, _ = trained_vae
    assert cli.main(["evaluate", "ae", "--weights", str(run / "model.weights.h5"), "--limit", "8"]) == 2
    assert "does not fit 'ae'" in capsys.readouterr().err
    assert cli.main(["evaluate", "cvae", "--weights", str(run / "model.keras"), "--limit", "8"]) == 2
    assert "holds a VAE, not the ConditionalVAE of 'cvae'" in capsys.readouterr().err


def plot(tmp_path, *args):
    return cli.main(["plot", *args, "--out", str(tmp_path / "figures"), "--limit", "500"])


def test_plot_draws_a_pretrained_models_figure_with_its_provenance(tmp_path, capsys):
    assert plot(tmp_path, "manifold", "vae", "--pretrained", "--range=-1,1,-2,2,0.5") == 0
    path = tmp_path / "figures" / "vae-manifold.png"
    assert capsys.readouterr().out.strip() == f"wrote {path}"
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[0] > 300 and pixels.std() > 0.1


def test_plot_interpolation_writes_a_strip_and_a_gif(tmp_path):
    assert plot(tmp_path, "interpolation", "cvae", "--pretrained", "--between", "1,7", "--n", "6") == 0
    with Image.open(tmp_path / "figures" / "cvae-interpolation.gif") as gif:
        assert gif.n_frames == 6
    assert (tmp_path / "figures" / "cvae-interpolation.png").is_file()


def test_plot_samples_of_the_autoencoder_says_it_has_no_prior(tmp_path, capsys):
    assert plot(tmp_path, "samples", "ae", "--pretrained") == 2
    assert "an Autoencoder has no prior to sample from" in capsys.readouterr().err
    assert not (tmp_path / "figures" / "ae-samples.png").exists()


def test_plot_training_curves_of_a_run(trained_vae, tmp_path):
    _, run, _ = trained_vae
    assert plot(tmp_path, "training_curves", "vae", "--weights", str(run / "model.weights.h5")) == 0
    assert matplotlib.image.imread(tmp_path / "figures" / "vae-training_curves.png").std() > 0.05


def test_plot_ae_vs_vae_trains_its_classifier_and_refuses_a_conditional_model(tmp_path, capsys):
    assert plot(tmp_path, "ae_vs_vae", "cvae", "--pretrained") == 2
    assert "must be an unconditional VAE" in capsys.readouterr().err
    assert plot(tmp_path, "ae_vs_vae", "vae", "--pretrained", "--classifier-images", "1000") == 0
    assert (tmp_path / "figures" / "vae-ae_vs_vae.png").is_file()
