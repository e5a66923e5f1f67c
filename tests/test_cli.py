"""The `keras-vae` command, run in-process on a small real-MNIST .npz so training takes seconds."""

import json

import keras
import matplotlib.image
import numpy as np
import pytest
from PIL import Image

from harness import write_mnist_npz
from keras_vae import cli


def train(out, *args):
    return cli.main(["train", *args, "--batch-size", "64", "--out", str(out), "--verbose", "0"])


def test_list_names_every_model(capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == cli.zoo.list_models()


def test_train_writes_model_history_metrics_and_figures(small_data_dir, tmp_path):
    out = tmp_path / "run"
    assert train(out, "vae", "--epochs", "2") == 0
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == len(history["val_loss"]) == 2
    assert history["loss"][1] < history["loss"][0]
    metrics = json.loads((out / "test_metrics.json").read_text())
    assert metrics["model"] == "vae" and metrics["epochs"] == 2
    assert metrics["loss"] == pytest.approx(metrics["reconstruction_loss"] + metrics["kl_loss"], rel=1e-3)
    model = keras.saving.load_model(out / "model.keras", safe_mode=True)
    assert model.get_config()["latent_dim"] == 2
    for figure in ("samples.png", "reconstructions.png"):
        pixels = matplotlib.image.imread(out / figure)
        assert pixels.shape[0] > 300 and pixels.std() > 0.1, f"{figure} looks blank"
    assert not (out / "backup").exists()
    assert sorted(p.name for p in out.iterdir()) == [
        "history.json", "model.keras", "model.weights.h5", "reconstructions.png", "samples.png", "test_metrics.json"]


def test_train_refuses_to_overwrite_a_finished_run(small_data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, "ae", "--epochs", "1") == 0
    assert not (out / "samples.png").exists()  # no prior, no samples
    before = (out / "model.keras").read_bytes()
    assert train(out, "ae", "--epochs", "1") == 2
    assert "already holds a trained model.keras" in capsys.readouterr().err
    assert (out / "model.keras").read_bytes() == before


def test_resume_continues_an_interrupted_run(small_data_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    original = cli.HistoryWriter.on_epoch_end

    def crash_after_second_epoch(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise RuntimeError("simulated crash")

    monkeypatch.setattr(cli.HistoryWriter, "on_epoch_end", crash_after_second_epoch)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(out, "vae", "--epochs", "3")
    monkeypatch.setattr(cli.HistoryWriter, "on_epoch_end", original)
    assert (out / "backup").exists() and not (out / "model.keras").exists()

    assert train(out, "vae", "--epochs", "3") == 2
    assert "--resume" in capsys.readouterr().err
    assert train(out, "vae", "--epochs", "3", "--resume") == 0
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 3 and history["loss"][2] < history["loss"][0]
    assert not (out / "backup").exists()


def test_conditional_model_trains_on_dynamically_binarized_data(small_data_dir, tmp_path):
    out = tmp_path / "run"
    assert train(out, "cvae", "--epochs", "1", "--binarize", "dynamic") == 0
    metrics = json.loads((out / "test_metrics.json").read_text())
    assert metrics["binarize"] == "dynamic" and np.isfinite(metrics["loss"])


@pytest.mark.parametrize("argv, message", [
    (["train", "conv_vea"], "Did you mean 'conv_vae'"),
    (["train", "vae", "--epochs", "0"], "--epochs: must be a positive integer"),
    (["train", "vae", "--dataset", "cifar10"], "--dataset: invalid choice"),
    (["train", "vae", "--learning-rate", "-1"], "--learning-rate: must be a positive number"),
    (["fly"], "invalid choice"),
    (["evaluate", "vae"], "one of the arguments --pretrained --weights is required"),
    (["evaluate", "vae", "--weights", "nowhere.weights.h5"], "no such file"),
    (["evaluate", "vae", "--pretrained", "--k", "0"], "--k: must be a positive integer"),
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


def test_unwritable_output_fails_before_training(small_data_dir, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert train(blocker / "run", "vae", "--epochs", "1") == 2
    assert str(blocker) in capsys.readouterr().err


def test_train_from_a_recipe_with_command_line_overrides(small_data_dir, tmp_path):
    recipe = tmp_path / "recipe"
    recipe.mkdir()
    (recipe / "recipe.json").write_text(json.dumps(
        {"model": "vae", "training": {"epochs": 3, "schedule": "cosine", "seed": 5, "learning_rate": 0.002}}))
    out = tmp_path / "run"
    assert train(out, "--recipe", str(recipe), "--epochs", "2") == 0
    metrics = json.loads((out / "test_metrics.json").read_text())
    assert (metrics["model"], metrics["epochs"], metrics["schedule"], metrics["seed"]) == ("vae", 2, "cosine", 5)
    assert metrics["learning_rate"] == 0.002 and metrics["batch_size"] == 64
    assert len(json.loads((out / "history.json").read_text())["loss"]) == 2


def test_a_recipe_for_another_model_is_refused(tmp_path, capsys):
    (tmp_path / "recipe.json").write_text(json.dumps({"model": "vae"}))
    assert train(tmp_path / "run", "ae", "--recipe", str(tmp_path)) == 2
    assert "trains 'vae', not 'ae'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained_vae(tmp_path_factory, small_mnist):
    """A one-epoch `keras-vae train vae` run directory."""
    directory = write_mnist_npz(tmp_path_factory.mktemp("data"), small_mnist)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_VAE_DATA_DIR", str(directory))
        out = tmp_path_factory.mktemp("runs") / "vae"
        assert train(out, "vae", "--epochs", "1") == 0
    return directory, out


@pytest.mark.parametrize("weights", ["model.weights.h5", "model.keras"])
def test_evaluate_a_run_writes_json(trained_vae, weights, tmp_path, monkeypatch):
    directory, run = trained_vae
    monkeypatch.setenv("KERAS_VAE_DATA_DIR", str(directory))
    report = tmp_path / "metrics.json"
    assert cli.main(["evaluate", "vae", "--weights", str(run / weights), "--limit", "32", "--k", "4",
                     "--json", str(report)]) == 0
    result = json.loads(report.read_text())
    assert result["model"] == "vae" and result["weights"] == str(run / weights)
    assert 0 < result["iwae_nll"]["nll"] < 784 * np.log(2) * 1.5
    assert result["test_elbo"]["loss"] == pytest.approx(
        result["test_elbo"]["reconstruction_loss"] + result["test_elbo"]["kl_loss"], rel=1e-3)


def test_weights_of_another_model_are_refused(trained_vae, capsys):
    _, run = trained_vae
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
    _, run = trained_vae
    assert plot(tmp_path, "training_curves", "vae", "--weights", str(run / "model.weights.h5")) == 0
    assert matplotlib.image.imread(tmp_path / "figures" / "vae-training_curves.png").std() > 0.05


def test_plot_ae_vs_vae_trains_its_classifier_and_refuses_a_conditional_model(tmp_path, capsys):
    assert plot(tmp_path, "ae_vs_vae", "cvae", "--pretrained") == 2
    assert "must be an unconditional VAE" in capsys.readouterr().err
    assert plot(tmp_path, "ae_vs_vae", "vae", "--pretrained", "--classifier-images", "1000") == 0
    assert (tmp_path / "figures" / "vae-ae_vs_vae.png").is_file()
