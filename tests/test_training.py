"""`keras_vae.train`, the training run as a library call (what `keras-vae train` runs): its files, its refusals,
recipes, a model of the caller's, extra callbacks, and a run that writes nothing. Short real runs on 512 + 128
real MNIST images. Killed and resumed runs, full disks and NaN stops: tests/test_resume.py."""

import json
import os

import huggingface_hub
import keras
import matplotlib.image
import numpy as np
import pytest

import keras_vae
from harness import snapshot
from keras_vae import callbacks

#: the loss of a model that gives every pixel probability 0.5: an untrained one scores about this
UNTRAINED_NATS = 784 * np.log(2)  # 543.4
QUIET = {"batch_size": 64, "verbose": 0}


def test_a_run_writes_its_model_history_metrics_and_figures_and_returns_them(small_data_dir, tmp_path):
    out = tmp_path / "run"
    run = keras_vae.train("vae", epochs=2, out=out, **QUIET)
    assert run.out == out and run.settings["epochs"] == 2 and run.settings["dataset"] == "mnist"
    assert len(run.history["loss"]) == len(run.history["val_loss"]) == 2
    assert run.history["loss"][1] < run.history["loss"][0] and run.test_metrics["loss"] < 0.8 * UNTRAINED_NATS
    assert json.loads((out / "history.json").read_text()) == run.history
    metrics = json.loads((out / "test_metrics.json").read_text())
    assert (metrics["model"], metrics["epochs"], metrics["backend"]) == ("vae", 2, keras.config.backend())
    assert metrics["loss"] == pytest.approx(run.test_metrics["loss"])
    grey = np.full((2, 28, 28, 1), 0.5, "float32")
    for loaded in (keras_vae.zoo.load_model(out / "model.keras", "vae"), keras_vae.zoo.get(out / "preset")):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded.reconstruct(grey)),
                                   keras.ops.convert_to_numpy(run.model.reconstruct(grey)), atol=1e-6)
    card = huggingface_hub.ModelCard.load(out / "preset" / "README.md").data  # the run's test metrics, on MNIST
    assert card.datasets == ["mnist"]
    assert {result.metric_type: result.metric_value for result in card.eval_results}["loss"] == pytest.approx(
        run.test_metrics["loss"])
    for figure in ("samples.png", "reconstructions.png"):
        pixels = matplotlib.image.imread(out / figure)
        assert pixels.shape[0] > 300 and pixels.std() > 0.1, f"{figure} looks blank"
    assert sorted(p.name for p in out.iterdir()) == [
        "history.json", "model.keras", "model.weights.h5", "preset", "reconstructions.png", "samples.png",
        "test_metrics.json"]


def test_without_out_nothing_is_written_and_extra_callbacks_run(small_data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ends = []
    run = keras_vae.train("ae", epochs=2, callbacks=[keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: ends.append((epoch, logs["loss"])))], **QUIET)
    assert run.out is None and list(tmp_path.iterdir()) == [tmp_path / "data"]
    assert [epoch for epoch, _ in ends] == [0, 1] and [loss for _, loss in ends] == pytest.approx(run.history["loss"])
    assert "kl_loss" not in run.test_metrics and run.test_metrics["loss"] < 0.8 * UNTRAINED_NATS


def test_a_model_of_your_own_is_trained_and_a_compiled_one_refused(small_data_dir):
    model = keras_vae.VAE(latent_dim=3, seed=1)
    run = keras_vae.train(model, epochs=1, learning_rate=3e-3, **QUIET)
    assert run.model is model
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(3e-3)
    assert run.test_metrics["loss"] < 0.8 * UNTRAINED_NATS
    with pytest.raises(ValueError, match="pass an uncompiled model, or call its fit yourself"):
        keras_vae.train(model, epochs=1)


def test_a_conditional_model_trains_on_dynamically_binarized_data(small_data_dir):
    run = keras_vae.train("cvae", epochs=1, binarize="dynamic", **QUIET)
    assert run.settings["binarize"] == "dynamic" and np.isfinite(run.test_metrics["loss"])


def test_a_recipe_gives_the_settings_the_call_does_not(small_data_dir, tmp_path):
    recipe = tmp_path / "recipe"
    recipe.mkdir()
    (recipe / "recipe.json").write_text(json.dumps(
        {"model": "vae", "training": {"epochs": 3, "schedule": "cosine", "seed": 5, "learning_rate": 0.002}}))
    run = keras_vae.train(recipe=recipe, epochs=1, learning_rate=None, **QUIET)  # None: the recipe's
    assert {key: run.settings[key] for key in ("epochs", "schedule", "seed", "learning_rate", "batch_size")} == {
        "epochs": 1, "schedule": "cosine", "seed": 5, "learning_rate": 0.002, "batch_size": 64}
    # cosine from the recipe's 0.002 down to 0 over the run's 8 steps (512 images in batches of 64)
    assert float(keras.ops.convert_to_numpy(run.model.optimizer.learning_rate)) == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError, match="trains 'vae', not 'ae'"):
        keras_vae.train("ae", recipe=recipe)


@pytest.mark.parametrize("call, error, message", [
    (dict(model_or_name="vae", epoch=3), TypeError, "unknown setting(s) ['epoch']"),
    (dict(model_or_name="vae", epochs=0), ValueError, "train() epochs must be a positive integer, got 0"),
    (dict(model_or_name="vae", schedule="linear"), ValueError, "schedule must be one of ('constant', 'cosine')"),
    (dict(model_or_name="vae", latent_dim=2.5), ValueError, "latent_dim must be a positive integer, got 2.5"),
    (dict(model_or_name="vae", kl_schedule={"warmup": 2}), ValueError,
     'kl_schedule must be null, {"warmup_epochs": E} or {"cycles": M, "ratio": R}'),
    (dict(model_or_name="vae", kl_schedule={"cycles": 4, "ratio": 1.5}), ValueError, "got {'cycles': 4, 'ratio': 1.5}"),
    (dict(model_or_name="vq_vae", kl_schedule={"cycles": 4}), ValueError, "'vq_vae' has no KL term to schedule"),
    (dict(model_or_name=keras_vae.VAE(), kl_schedule={"warmup_epochs": 1}), ValueError,
     "kl_schedule overrides a zoo model's"),
    (dict(model_or_name="vea"), ValueError, "unknown model 'vea'"),
    (dict(model_or_name=None), ValueError, "name a model"),
    (dict(model_or_name="vae", resume=True), ValueError, "pass the out folder of the interrupted run"),
    (dict(model_or_name=keras.Sequential(), epochs=1), ValueError, "trains keras_vae models"),
    (dict(model_or_name="vae", steps_per_epoch=0), ValueError, "steps_per_epoch must be null or a positive integer"),
    (dict(model_or_name="vae", dataset="dsprites"), ValueError,
     "vae takes images of shape (28, 28, 1), and dsprites's are (64, 64, 1)"),
])
def test_bad_calls_are_refused_before_any_data_is_read(call, error, message, monkeypatch):
    for loader in ("load", "load_splits"):
        monkeypatch.setattr(keras_vae.data, loader, lambda *args, **kwargs: pytest.fail("read the data"))
    with pytest.raises(error) as raised:
        keras_vae.train(**call)
    assert message in str(raised.value)


def test_a_run_on_dsprites_cuts_its_epochs_to_steps_per_epoch(tmp_path, monkeypatch):
    """dSprites' layout on a 24-image grid (its npz in KERAS_VAE_DATA_DIR), 8 test images, 2 steps of 4 per epoch."""
    from keras_vae.data import dsprites

    monkeypatch.setattr(dsprites, "SIZES", (3, 2, 2, 2, 1))
    monkeypatch.setattr(dsprites, "TEST_IMAGES", 8)
    classes = dsprites.classes_of(np.arange(24))
    np.savez(tmp_path / dsprites.FILE_NAME, imgs=dsprites.render(classes).astype(np.uint8),
             latents_classes=np.concatenate([np.zeros((24, 1), int), classes], 1))
    monkeypatch.setenv("KERAS_VAE_DATA_DIR", str(tmp_path))
    seen = []
    model = keras_vae.VAE(latent_dim=2, body=keras_vae.DenseBody(hidden_units=(8,)), image_shape=(64, 64, 1))
    run = keras_vae.train(model, dataset="dsprites", epochs=3, batch_size=4, steps_per_epoch=2, verbose=0,
                          callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))])
    assert seen == [0, 1] * 3 and len(run.history["val_loss"]) == 3
    assert run.settings["steps_per_epoch"] == 2 and run.settings["dataset"] == "dsprites"


def test_a_finished_run_is_never_overwritten(small_data_dir, tmp_path):
    out = tmp_path / "run"
    keras_vae.train("ae", epochs=1, out=out, **QUIET)
    assert not (out / "samples.png").exists()  # no prior, no samples
    before = snapshot(out)
    with pytest.raises(FileExistsError, match="already holds a trained model.keras"):
        keras_vae.train("ae", epochs=1, out=out, **QUIET)
    assert snapshot(out) == before


def test_an_interrupted_run_is_refused_without_resume_and_continued_with_it(small_data_dir, tmp_path, monkeypatch):
    out = tmp_path / "run"
    original = callbacks.HistoryWriter.on_epoch_end

    def crash_after_second_epoch(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise RuntimeError("simulated crash")

    monkeypatch.setattr(callbacks.HistoryWriter, "on_epoch_end", crash_after_second_epoch)
    with pytest.raises(RuntimeError, match="simulated crash"):
        keras_vae.train("vae", epochs=3, out=out, **QUIET)
    monkeypatch.setattr(callbacks.HistoryWriter, "on_epoch_end", original)
    assert (out / "backup").exists() and not (out / "model.keras").exists()
    with pytest.raises(FileExistsError, match="holds an interrupted run: resume it"):
        keras_vae.train("vae", epochs=3, out=out, **QUIET)
    run = keras_vae.train("vae", epochs=3, out=out, resume=True, **QUIET)
    assert len(run.history["loss"]) == 3 and run.history["loss"][2] < run.history["loss"][0]
    assert not (out / "backup").exists()


def test_an_unwritable_out_or_a_foreign_preset_folder_fails_before_training(small_data_dir, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setattr(keras_vae.zoo, "get", lambda *args, **kwargs: pytest.fail("built the model"))
    with pytest.raises(NotADirectoryError, match="a-file"):
        keras_vae.train("vae", out=blocker / "run", **QUIET)
    assert sorted(os.listdir(tmp_path)) == ["a-file", "data"]
    mine = tmp_path / "run" / "preset"  # a folder of the user's where the run would write its preset
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="preset exists and is not a preset folder"):
        keras_vae.train("vae", out=tmp_path / "run", **QUIET)
    assert os.listdir(tmp_path / "run") == ["preset"] and os.listdir(mine) == ["notes.txt"]


def events(folder):
    """tag -> [(step, value as a NumPy array)] of the TensorBoard event files in `folder`."""
    import tensorflow as tf

    found = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, tf.make_ndarray(value.tensor)))
    return found


def test_tensorboard_logs_the_loss_terms_and_image_grids_per_epoch(small_data_dir, small_mnist, tmp_path):
    import tensorflow as tf

    run = keras_vae.train("cvae", epochs=2, tensorboard=tmp_path / "logs", **QUIET)
    for folder, prefix in (("train", ""), ("validation", "val_")):
        logged = events(tmp_path / "logs" / folder)
        for term in ("loss", "reconstruction_loss", "kl_loss"):
            steps, values = zip(*logged[f"epoch_{term}"])
            assert steps == (0, 1) and [float(v) for v in values] == pytest.approx(run.history[prefix + term])
    images = events(tmp_path / "logs" / "images")
    assert [step for step, _ in images["reconstructions"]] == [step for step, _ in images["samples"]] == [0, 1]
    grids = {tag: [tf.io.decode_png(value[2]).numpy() / 255 for _, value in logged] for tag, logged in images.items()}
    # 2 rows of 8 tiles of 28 x 28, 2 pixels apart; the top row holds the first 8 test images as they are
    assert grids["reconstructions"][0].shape == (58, 238, 1)
    _, (x_test, _) = small_mnist
    np.testing.assert_allclose(grids["reconstructions"][0][:28, 30:58], x_test[1], atol=1 / 255)
    # the same prior draws each epoch, decoded by the weights of that epoch
    assert np.abs(grids["samples"][1] - grids["samples"][0]).mean() > 0.01
