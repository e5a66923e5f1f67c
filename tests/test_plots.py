"""The tutorials' figures (keras_vae.plots), checked for what they show on pretrained zoo models and real MNIST."""

import json
import re

import keras
import matplotlib.image
import numpy as np
import pytest
from PIL import Image

from keras_vae import plots, zoo
from keras_vae.losses import kl_divergence
from keras_vae.models.vq_vae import is_quantized
from keras_vae.plots.canvas import DPI
from keras_vae.plots.comparison import GridCheck
from harness import fit, labels_of, numpy, one_per_architecture

#: the hand-made models' posterior: q(z|x) = N(MEANS + x[:3], diag(STDS ** 2)), x[:3] the image's first three pixels
MEANS, STDS = np.array([0.6, -2.0, 0.0]), np.array([1.0, 0.5, 0.2])
#: their decoder: a 4 x 4 image is sigmoid(z @ DECODER); z[2] draws nothing
DECODER = np.concatenate([np.random.default_rng(0).normal(size=(2, 16)), np.zeros((1, 16))])


@pytest.fixture(scope="module")
def test_set(mnist):
    """1,000 real MNIST test images with labels, every digit present."""
    _, (x_test, y_test) = mnist
    return x_test[:1000], y_test[:1000]


@pytest.fixture(scope="module")
def trained():
    """The pretrained zoo models, loaded once per module."""
    cache = {}
    return lambda name: cache.setdefault(name, zoo.get(name, pretrained=True))


@pytest.fixture(scope="module")
def vq_vae():
    """A small untrained VQ-VAE whose 16 codes are distinct and near its encoder's outputs, so that most are used."""
    from keras_vae.models import VQVAE

    model = VQVAE(num_codes=16, code_dim=4, prior={"filters": 8, "num_layers": 2}, seed=0)
    model.quantizer.codebook.assign(0.05 * np.random.default_rng(0).normal(size=(16, 4)).astype("float32"))
    return model


def hand_made(model_class):
    """A model of 4 x 4 images with a 3-D latent whose linear layers are set by hand: its code (a VAE's latent mean)
    is the image's first three pixels plus MEANS (an autoencoder: plus 0), a VAE's log-variances are log(STDS ** 2)
    for every image, and it decodes z to sigmoid(z @ DECODER)."""
    from keras_vae.models import DenseBody

    model = model_class(latent_dim=3, body=DenseBody(hidden_units=(3,), activation="linear"), image_shape=(4, 4, 1))
    dense = [layer for layer in model.encoder.layers if isinstance(layer, keras.layers.Dense)]
    hidden = next(layer for layer in dense if layer.name not in model.encoder_heads)
    hidden.set_weights([np.eye(16, 3), np.zeros(3)])  # h = the first three pixels
    model.encoder.get_layer(model.encoder_heads[0]).set_weights(
        [np.eye(3), MEANS if model.encoder_heads == ("z_mean", "z_log_var") else np.zeros(3)])
    if "z_log_var" in model.encoder_heads:
        model.encoder.get_layer("z_log_var").set_weights([np.zeros((3, 3)), np.log(STDS ** 2)])
    up, logits = [layer for layer in model.decoder.layers if isinstance(layer, keras.layers.Dense)]
    up.set_weights([np.eye(3), np.zeros(3)])
    logits.set_weights([DECODER, np.zeros(16)])
    return model


@pytest.fixture(scope="module")
def hand_made_vae():
    from keras_vae.models import VAE

    return hand_made(VAE)


@pytest.fixture(scope="module")
def hand_made_ae():
    from keras_vae.models import Autoencoder

    return hand_made(Autoencoder)


def images_with(corners):
    """4 x 4 images whose first three pixels are `corners` (one row per image), the other pixels random."""
    corners = np.asarray(corners, "float32")
    images = np.random.default_rng(1).uniform(size=(len(corners), 16)).astype("float32")
    images[:, :3] = corners
    return images.reshape(-1, 4, 4, 1)


def decoded_by_hand(z):
    """What the hand-made models decode latent vectors z (..., 3) to: sigmoid(z @ DECODER) as 4 x 4 images."""
    return (1 / (1 + np.exp(-(z @ DECODER)))).reshape(*z.shape[:-1], 4, 4)


def row_labels(figure):
    return [t.get_text() for t in figure.axes[0].get_yticklabels()]


def column_labels(figure):
    return [t.get_text() for t in figure.axes[0].get_xticklabels()]


def shown(figure, index=0):
    """The image array of a figure's axes `index` (image tiles, NaN in the gaps)."""
    return np.asarray(figure.axes[index].images[0].get_array(), dtype=float)


def tiles(canvas, size=28, gap=2):
    """Cuts a `canvas.tile` canvas back into a (rows, cols, size, size) array of tiles."""
    step = size + gap
    rows, cols = (canvas.shape[0] + gap) // step, (canvas.shape[1] + gap) // step
    return np.array([[canvas[r * step:r * step + size, c * step:c * step + size] for c in range(cols)]
                     for r in range(rows)])


def test_saved_png_has_the_figure_size(trained, test_set, tmp_path):
    x, y = test_set
    path = tmp_path / "scatter.png"
    figure = plots.latent_scatter(trained("vae"), x, y, path=path)
    width, height = figure.get_size_inches() * DPI
    assert matplotlib.image.imread(path).shape[:2] == (round(height), round(width))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scatter.png"]  # no temporary left behind


def test_latent_scatter_draws_each_code_in_its_class_colour(trained, test_set):
    x, y = test_set
    model = trained("vae")
    figure = plots.latent_scatter(model, x, y)
    axes = figure.axes[0]
    points = axes.collections[0]
    z_mean = numpy(model.encode(x)[0])
    order = np.lexsort(np.asarray(points.get_offsets()).T)
    np.testing.assert_allclose(np.asarray(points.get_offsets())[order], z_mean[np.lexsort(z_mean.T)], atol=1e-5)
    assert len({tuple(c) for c in points.get_facecolors()}) == 10
    assert [t.get_text() for t in axes.get_legend().get_texts()] == [str(d) for d in range(10)]
    assert axes.get_title() == "1,000 images: latent means"
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("z[0]", "z[1]")


def test_a_larger_latent_is_shown_through_pca_and_the_title_says_so(trained, test_set):
    x, y = test_set
    model = trained("vae_binarized")
    axes = plots.latent_scatter(model, x, y, class_names=list("abcdefghij")).axes[0]
    z_mean = numpy(model.encode(x)[0]).astype(np.float64)
    variances, components = np.linalg.eigh(np.cov(z_mean, rowvar=False))  # ascending
    explained = variances[-2:].sum() / variances.sum()
    assert (f"first two principal components of the 32-D latent means ({explained:.0%} of their variance)"
            in axes.get_title())
    # the points are the codes' coordinates along the two largest components (each up to its sign)
    points = np.asarray(axes.collections[0].get_offsets())
    for axis, component in enumerate((components[:, -1], components[:, -2])):
        along = np.sort((z_mean - z_mean.mean(axis=0)) @ component)
        assert any(np.allclose(np.sort(points[:, axis]), sign * along[::sign], atol=1e-4) for sign in (1, -1))
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("PC 1", "PC 2")
    assert axes.get_legend().get_texts()[3].get_text() == "d"


def test_latent_histograms_give_each_class_mean_and_std(trained, test_set):
    x, y = test_set
    model = trained("vae")
    figure = plots.latent_histograms(model, x, y)
    assert len(figure.axes) == 2
    z_mean = numpy(model.encode(x)[0])
    for dim, axes in enumerate(figure.axes):
        assert axes.get_xlabel() == f"z[{dim}]"
        texts = [t.get_text() for t in axes.get_legend().get_texts()]
        mine = z_mean[y == 7, dim]
        assert texts[7] == f"7: μ={mine.mean():.2f}, σ={mine.std():.2f}"
        assert len(axes.patches) == 10
    assert figure.get_suptitle() == "latent means of 1,000 images per class"


def test_latent_histograms_of_a_large_latent_show_the_first_four(trained, test_set):
    x, y = test_set
    figure = plots.latent_histograms(trained("conv_vae_bn"), x, y)
    assert len(figure.axes) == 4 and "(4 of 128 coordinates)" in figure.get_suptitle()
    assert len(plots.latent_histograms(trained("conv_vae_bn"), x, y, dims=[5, 100]).axes) == 2


def test_manifold_of_a_trained_model_shows_varied_digits_where_it_says(trained):
    model = trained("vae")
    figure = plots.manifold(model, (-2, 2), (-1, 1), step=0.5)
    grid = shown(figure)
    assert grid.shape == (5 * 28, 9 * 28)
    cells = grid.reshape(5, 28, 9, 28).transpose(0, 2, 1, 3).reshape(45, 28, 28)
    assert cells.mean(axis=(1, 2)).min() > 0.02, "a tile is blank"
    assert np.std(cells, axis=0).mean() > 0.05, "every tile looks the same"
    # top left is (x0, y1); bottom right (x1, y0)
    np.testing.assert_allclose(cells[0], numpy(model.decode(np.array([[-2.0, 1.0]], "float32")))[0, ..., 0],
                               atol=1e-5)
    np.testing.assert_allclose(cells[-1], numpy(model.decode(np.array([[2.0, -1.0]], "float32")))[0, ..., 0],
                               atol=1e-5)
    axes = figure.axes[0]
    assert axes.images[0].get_extent() == [-2.25, 2.25, -1.25, 1.25]
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("z[0]", "z[1]")
    assert axes.get_title() == "decodings over z[0] in [-2, 2], z[1] in [-1, 1]\nstep 0.5"


def test_manifold_of_a_larger_latent_holds_the_rest_at_zero(trained):
    model = trained("conv_vae_bn")
    axes = plots.manifold(model, (-1, 1), (-1, 1), step=1, dims=(3, 7)).axes[0]
    z = np.zeros((1, 128), "float32")
    z[0, 3], z[0, 7] = -1, 1
    np.testing.assert_allclose(shown(axes.figure)[:28, :28], numpy(model.decode(z))[0, ..., 0], atol=1e-5)
    assert "the other 126 coordinates at 0" in axes.get_title() and axes.get_xlabel() == "z[3]"


@pytest.mark.parametrize("kwargs, message", [
    ({"step": 0}, "step must be a positive number"),
    ({"x_range": (1, -1)}, "x range must go from a smaller to a larger"),
    ({"y_range": (0, float("nan"))}, "y range must go from a smaller to a larger finite"),
    ({"step": 0.001}, "at most 10,000 tiles"),
    ({"dims": (0, 0)}, "dims must be two different latent coordinates in [0, 2)"),
    ({"dims": (0, 2)}, "dims must be two different latent coordinates in [0, 2)"),
])
def test_bad_manifold_requests_are_refused(trained, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        plots.manifold(trained("vae"), **kwargs)


def test_a_conditional_manifold_decodes_the_class_asked_for(trained):
    model = trained("cvae")
    with pytest.raises(ValueError, match="pass the class to decode as label="):
        plots.manifold(model)
    figure = plots.manifold(model, (0, 1), (0, 1), step=1, label=4)
    np.testing.assert_allclose(shown(figure)[:28, :28],
                               numpy(model.decode(np.array([[0.0, 1.0]], "float32"), labels=4))[0, ..., 0],
                               atol=1e-5)
    assert figure.axes[0].get_title().endswith(", class 4")


def test_reconstructions_put_each_original_above_its_reconstruction(trained, test_set):
    x, y = test_set
    model = trained("conv_vae")
    figure = plots.reconstructions(model, x, n=15, ncols=10)
    cut = tiles(shown(figure))
    assert cut.shape[:2] == (4, 10)
    np.testing.assert_allclose(cut[0].reshape(10, 28, 28, 1), x[:10])
    np.testing.assert_allclose(cut[3, :5].reshape(5, 28, 28, 1), numpy(model.reconstruct(x[10:15])), atol=1e-5)
    assert np.isnan(cut[2, 5:]).all(), "the short last row must stay empty"
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert labels == ["original", "reconstruction"] * 2


def test_samples_are_seeded_and_the_cvae_draws_a_row_per_class(trained):
    model = trained("cvae")
    figure = plots.samples(model, seed=1, ncols=6, class_names=[f"digit {d}" for d in range(10)])
    cut = tiles(shown(figure))
    assert cut.shape[:2] == (10, 6)
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()][2] == "digit 2"
    np.testing.assert_array_equal(shown(plots.samples(model, seed=1, ncols=6)), shown(figure))
    assert not np.allclose(shown(plots.samples(model, seed=2, ncols=6)), shown(figure))
    drawn = tiles(shown(plots.samples(trained("vae"), n=25, ncols=10)))
    assert drawn.shape[:2] == (3, 10) and np.isnan(drawn[2, 5:]).all() and drawn[0].std() > 0.1


def test_class_means_decode_each_class_mean(trained, test_set):
    x, y = test_set
    for name in ("vae", "cvae"):
        model = trained(name)
        figure = plots.class_means(model, x, y)
        z_mean = numpy(model.encode(x, **({"labels": y} if model.num_classes else {}))[0])
        means = np.stack([z_mean[y == d].mean(axis=0) for d in range(10)])
        expected = numpy(model.decode(means, **({"labels": np.arange(10)} if model.num_classes else {})))
        np.testing.assert_allclose(tiles(shown(figure))[0], expected[..., 0], atol=1e-4)
        assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == [str(d) for d in range(10)]
    with pytest.raises(ValueError, match="none of class 9"):
        plots.class_means(trained("vae"), x[y != 9], y[y != 9], class_names=list("0123456789"))


@pytest.mark.parametrize("name", ["vae", "cvae"])
def test_interpolation_strip_and_gif_run_from_one_class_mean_to_another(trained, test_set, name, tmp_path):
    x, y = test_set
    model = trained(name)
    gif = tmp_path / "walk.gif"
    figure = plots.interpolation(model, x, y, start=3, end=8, steps=7, path=tmp_path / "walk.png", gif=gif)
    strip = tiles(shown(figure))[0]
    assert len(strip) == 7
    labels = {"labels": y} if model.num_classes else {}
    z_mean = numpy(model.encode(x, **labels)[0])
    for index, digit in ((0, 3), (-1, 8)):
        end = numpy(model.decode(z_mean[y == digit].mean(axis=0, keepdims=True),
                                 **({"labels": digit} if model.num_classes else {})))
        np.testing.assert_allclose(strip[index], end[0, ..., 0], atol=1e-4)
    assert np.abs(np.diff(strip, axis=0)).mean(axis=(1, 2)).min() > 0, "consecutive steps are identical"
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()][3] == "0.50"
    with Image.open(gif) as animation:
        assert animation.n_frames == 7 and animation.info["loop"] == 0
        assert animation.size == (112, 120)
        animation.seek(6)
        last = np.asarray(animation.convert("L"), float)[:112] / 255
    np.testing.assert_allclose(1 - last[::4, ::4], strip[-1], atol=1 / 255 + 1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"start": 3, "end": 10}, r"end must be a class in \[0, 10\)"),
    ({"start": -1, "end": 2}, r"start must be a class in \[0, 10\)"),
    ({"start": 1, "end": 2, "steps": 1}, "steps must be an int of at least 2"),
])
def test_bad_interpolations_are_refused(trained, test_set, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plots.interpolation(trained("vae"), *test_set, **kwargs)


def test_kl_per_dimension_of_a_posterior_set_by_hand_is_its_closed_form(hand_made_vae):
    # every image's first pixels are 0, so q(z_i|x) = N(MEANS[i], STDS[i] ** 2) for all of them, and the KL of
    # dimension i is 0.5 (m^2 + s^2 - 1 - log s^2): 0.18, 2.318 and 1.129 nats
    expected = 0.5 * (MEANS ** 2 + STDS ** 2 - 1 - np.log(STDS ** 2))
    figure = plots.draw("kl_per_dimension", hand_made_vae, images_with(np.zeros((5, 3))))
    axes = figure.axes[0]
    np.testing.assert_allclose([bar.get_height() for bar in axes.patches], expected, rtol=1e-5)
    assert [bar.get_x() + bar.get_width() / 2 for bar in axes.patches] == [0, 1, 2]
    assert [text.get_text() for text in axes.texts] == ["0.18", "2.32", "1.13"]
    assert axes.get_title() == "KL to the prior per latent dimension, mean over 5 images:\n3.63 nats in all"
    assert axes.get_ylabel() == "KL(q(z_i|x) || N(0, 1)), nats"


def test_traversals_sweep_one_latent_dimension_per_row_largest_kl_first(hand_made_vae, monkeypatch):
    corners = np.zeros((4, 3))
    corners[2] = (0.5, 1.0, 0.25)
    x = images_with(corners)
    mean = MEANS + corners  # each image's latent mean, as the encoder was set
    kl = 0.5 * (np.mean(mean ** 2, axis=0) + STDS ** 2 - 1 - np.log(STDS ** 2))  # 0.286, 1.943, 1.137 nats
    order = [1, 2, 0]
    assert kl[1] > kl[2] > kl[0]
    # image 2's latent mean (1.1, -1.0, 0.25), one dimension per row set to -2 ... 2, the others as they are
    expected_z = np.tile(mean[2], (3, 5, 1))
    for row, dim in enumerate(order):
        expected_z[row, :, dim] = [-2, -1, 0, 1, 2]
    decoder_inputs = []
    decode = hand_made_vae.decode
    monkeypatch.setattr(hand_made_vae, "decode", lambda z, labels=None: decoder_inputs.append(numpy(z)) or
                        decode(z, labels))
    figure = plots.traversals(hand_made_vae, x, steps=5, span=2, index=2)
    np.testing.assert_allclose(np.concatenate(decoder_inputs).reshape(3, 5, 3), expected_z, rtol=1e-6)
    cut = tiles(shown(figure), size=4)
    np.testing.assert_allclose(cut, decoded_by_hand(expected_z), atol=1e-5)
    assert np.ptp(cut[1], axis=0).max() < 1e-6, "z[2] draws nothing: its row must be one image repeated"
    assert row_labels(figure) == [f"z[{dim}]: {kl[dim]:.2f} nats" for dim in order]
    assert column_labels(figure) == ["-2", "-1", "0", "1", "2"]
    assert figure.axes[0].get_title() == ("image 2: one latent dimension per row set to 5 values in [-2, 2],\n"
                                          "the others at its latent mean; KL to the prior over 4 images, largest "
                                          "first")
    # the command line's defaults: rows in the order asked for, n steps over the prior's +-2.5, the first image
    figure = plots.draw("traversals", hand_made_vae, x, dims=(0, 2), n=3)
    assert tiles(shown(figure), size=4).shape[:2] == (2, 3)
    assert row_labels(figure) == [f"z[0]: {kl[0]:.2f} nats", f"z[2]: {kl[2]:.2f} nats"]
    assert column_labels(figure) == ["-2.5", "0", "2.5"]
    assert not figure.axes[0].get_title().endswith("largest first")


def test_autoencoder_traversals_sweep_each_code_by_its_spread(hand_made_ae):
    # the codes are the first three pixels: standard deviations 0.071 (z[0]), 0.5 (z[1]) and 0.1 (z[2])
    x = images_with([[0.5, 0.0, 0.4], [0.5, 1.0, 0.6], [0.6, 0.0, 0.4], [0.4, 1.0, 0.6]])
    figure = plots.traversals(hand_made_ae, x, steps=3, span=2, index=1)
    # image 1's code (0.5, 1.0, 0.6), each dimension moved by -2, 0 and +2 of its standard deviation
    expected_z = np.tile([0.5, 1.0, 0.6], (3, 3, 1))
    expected_z[0, :, 1] = [0.0, 1.0, 2.0]
    expected_z[1, :, 2] = [0.4, 0.6, 0.8]
    expected_z[2, :, 0] = 0.5 + 2 * np.sqrt(0.005) * np.array([-1, 0, 1])
    np.testing.assert_allclose(tiles(shown(figure), size=4), decoded_by_hand(expected_z), atol=1e-5)
    assert row_labels(figure) == ["z[1]: σ=0.50", "z[2]: σ=0.10", "z[0]: σ=0.07"]
    assert column_labels(figure) == ["-2σ", "0σ", "2σ"]
    assert figure.axes[0].get_title() == ("image 1: one code dimension per row moved by -2 to 2 σ,\n"
                                          "the others at its code; σ of 4 images' codes, largest first")


NO_POSTERIOR = ("kl_per_dimension needs a Gaussian posterior q(z|x) (encoder heads z_mean and z_log_var); "
                "Autoencoder encodes to code alone and has no KL to a prior")


@pytest.mark.parametrize("call, message", [
    (lambda vae, ae, x: plots.kl_per_dimension(ae, x), NO_POSTERIOR),
    (lambda vae, ae, x: plots.check_kind("kl_per_dimension", ae), NO_POSTERIOR),  # the command line's, before data
    (lambda vae, ae, x: plots.traversals(vae, x, steps=1), "steps must be an int of at least 2, got 1"),
    (lambda vae, ae, x: plots.traversals(vae, x, span=0), "span must be a positive finite number, got 0"),
    (lambda vae, ae, x: plots.traversals(vae, x, span=float("inf")), "span must be a positive finite number"),
    (lambda vae, ae, x: plots.traversals(vae, x, index=4), "index must be an image in [0, 4), got 4"),
    (lambda vae, ae, x: plots.traversals(vae, x, dims=(3,)), "dims must be different latent dimensions in [0, 3)"),
    (lambda vae, ae, x: plots.traversals(ae, x, dims=(1, 1)), "dims must be different latent dimensions in [0, 3)"),
])
def test_bad_traversals_and_kl_requests_are_refused(hand_made_vae, hand_made_ae, call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call(hand_made_vae, hand_made_ae, images_with(np.zeros((4, 3))))


def test_conditional_traversals_encode_and_decode_with_the_images_label(trained, test_set):
    x, y = test_set[0][:100], test_set[1][:100]
    model = trained("cvae")
    figure = plots.traversals(model, x, y, dims=[1], steps=3, span=1, index=4)
    z = np.tile(numpy(model.encode(x[4:5], labels=y[4:5])[0]), (3, 1))
    z[:, 1] = [-1, 0, 1]
    np.testing.assert_allclose(tiles(shown(figure))[0], numpy(model.decode(z, labels=int(y[4])))[..., 0], atol=1e-5)
    assert figure.axes[0].get_title().startswith(f"image 4 (class {y[4]}): ")
    with pytest.raises(ValueError, match="ConditionalVAE needs labels"):
        plots.traversals(model, x)


@pytest.mark.backend_independent
def test_training_curves_draw_every_term_of_a_real_fit(small_mnist, tmp_path):
    (x, _), (x_test, _) = small_mnist
    model = zoo.get("vae")
    model.compile(optimizer="adam")
    history = fit(model, x[:256], None, epochs=3, batch_size=64, validation_data=(x_test[:64],))
    figure = plots.training_curves(history)
    assert [a.get_title() for a in figure.axes] == ["loss", "reconstruction loss", "kl loss"]
    for axes, term in zip(figure.axes, ("loss", "reconstruction_loss", "kl_loss")):
        training, validation = axes.get_lines()
        np.testing.assert_allclose(training.get_ydata(), history.history[term])
        np.testing.assert_allclose(validation.get_ydata(), history.history[f"val_{term}"])
        np.testing.assert_array_equal(training.get_xdata(), [1, 2, 3])
        assert [t.get_text() for t in axes.get_legend().get_texts()] == ["training", "validation"]
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"loss": [3.0, 2.0], "reconstruction_loss": [2.5, 1.8]}))
    from_file = plots.training_curves(path)
    assert len(from_file.axes) == 2 and from_file.get_suptitle() == "training curves over 2 epochs"


@pytest.mark.parametrize("history, message", [
    ({}, "the history has none of loss, reconstruction_loss, kl_loss; it has nothing"),
    ({"accuracy": [0.5]}, "it has accuracy"),
    ({"loss": []}, "must be a non-empty list of numbers"),
    ({"loss": ["a"]}, "must be a non-empty list of numbers"),
    ([1, 2], "must be a keras History, a dict or a JSON file"),
])
def test_bad_histories_are_refused(history, message):
    with pytest.raises(ValueError, match=message):
        plots.training_curves(history)


def test_bad_history_files_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no history file"):
        plots.training_curves(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text('{"loss": [1.0,')
    with pytest.raises(ValueError, match="broken.json is not a JSON history"):
        plots.training_curves(tmp_path / "broken.json")


def test_an_empty_cell_is_one_with_no_code():
    points = np.array([[0.0, 0.0], [0.1, 0.1], [1.0, 1.0]])
    check = GridCheck(plane=None, points=points, box=(0.0, 1.0, 0.0, 1.0), tiles=3, decoded=None,
                      confidence=np.array([0.95, 0.5, 0.99, 0.2]), threshold=0.9)
    assert check.empty == pytest.approx(7 / 9)  # two of the nine cells hold codes
    assert check.unrecognised == 0.5
    assert check.extent == (-0.25, 1.25, -0.25, 1.25)


def test_ae_vs_vae_shows_the_vaes_latent_space_has_fewer_holes(trained, test_set, digit_classifier, tmp_path):
    """The figure's point, on the zoo's weights: of an 8 x 8 grid over the codes, the AE leaves more cells empty
    (0.27 against the VAE's 0.16) and more of its decodings unrecognised (0.52 to 0.53 against 0.39 to 0.44). An
    untrained model's decodings are all unrecognised."""
    x, y = test_set
    ae, vae = trained("ae"), trained("vae")
    figure = plots.ae_vs_vae(ae, vae, x, y, digit_classifier, tiles=8, path=tmp_path / "both.png")
    assert len(figure.axes) == 4
    checks = [plots.grid_check(model, digit_classifier, x, tiles=8) for model in (ae, vae)]
    for check, grid in zip(checks, figure.axes[2:]):
        assert check.decoded.shape == (64, 28, 28, 1)
        assert grid.get_title() == (f"{check.unrecognised:.0%} of the 8 x 8 decodings unrecognised (red)\n"
                                    f"{check.empty:.0%} of the grid's cells hold no code")
        assert grid.images[0].get_array().shape == (8 * 28, 8 * 28)
        x0, x1, y0, y1 = check.box
        inside = ((check.points[:, 0] >= x0) & (check.points[:, 0] <= x1) & (check.points[:, 1] >= y0)
                  & (check.points[:, 1] <= y1))
        assert 0.95 <= inside.mean() < 1.0  # the central 98% along each axis
    ae_check, vae_check = checks
    assert vae_check.empty < ae_check.empty and vae_check.unrecognised < ae_check.unrecognised < 0.8
    assert figure.axes[0].get_title() == "AE: codes" and figure.axes[1].get_title() == "VAE: latent means"
    with pytest.raises(ValueError, match="must be an unconditional VAE"):
        plots.ae_vs_vae(ae, trained("cvae"), x, y, digit_classifier)
    with pytest.raises(ValueError, match="must be an autoencoder"):
        plots.ae_vs_vae(vae, vae, x, y, digit_classifier)


def test_codebook_usage_counts_the_code_of_every_grid_position(vq_vae, test_set):
    x = test_set[0][:200]
    counts = np.bincount(numpy(vq_vae.encode(x)).reshape(-1), minlength=16)
    frequencies = counts[counts > 0] / counts.sum()
    perplexity = np.exp(-np.sum(frequencies * np.log(frequencies)))
    figure = plots.codebook_usage(vq_vae, x, top=4)
    bars, panel = figure.axes
    np.testing.assert_array_equal([bar.get_height() for bar in bars.patches], np.sort(counts)[::-1])
    used = np.count_nonzero(counts)
    assert bars.get_title() == (f"{used} of 16 codes used ({used / 16:.0%}), perplexity {perplexity:.1f},\n"
                                "over the 9,800 grid positions of 200 images")
    # the panel decodes the most used codes, each from a 7 x 7 grid of it alone, labelled with its share
    labels = [label.get_text() for label in panel.get_xticklabels()]
    drawn = [int(re.match(r"code (\d+)\n", label)[1]) for label in labels]
    assert len(drawn) == min(4, used) and sorted(counts[drawn]) == sorted(counts)[-len(drawn):]
    assert labels[0].endswith(f"\n{counts[drawn[0]] / 9800:.1%}")
    expected = numpy(vq_vae.decode(np.repeat(drawn, 49).reshape(-1, 7, 7)))[..., 0]
    np.testing.assert_allclose(tiles(shown(figure, 1))[0], expected, atol=1e-6)


def test_a_vq_vae_gets_reconstructions_and_samples_and_no_vector_figure(vq_vae, test_set):
    x, y = test_set[0][:50], test_set[1][:50]
    figure = plots.draw("reconstructions", vq_vae, x, y, n=5)
    np.testing.assert_allclose(tiles(shown(figure))[1, :5].reshape(5, 28, 28, 1), numpy(vq_vae.reconstruct(x[:5])),
                               atol=1e-5)
    figure = plots.draw("samples", vq_vae, n=3, seed=1)
    assert tiles(shown(figure)).shape[:2] == (1, 3)
    assert figure.axes[0].get_title() == "3 samples from the PixelCNN prior over codes (seed 1)"
    for kind in ("latent_scatter", "latent_histograms", "manifold", "class_means", "interpolation", "ae_vs_vae",
                 "traversals", "kl_per_dimension"):
        with pytest.raises(ValueError, match=f"^{kind} draws latent vectors, and VQVAE encodes to a grid of discrete "
                                             "codes: for a VQ-VAE plot reconstructions, samples, codebook_usage"):
            plots.draw(kind, vq_vae, x, y)
    with pytest.raises(ValueError, match="codebook_usage needs a VQ-VAE .*; VAE has none"):
        plots.draw("codebook_usage", zoo.get("vae"), x, y)


@pytest.mark.parametrize("name", one_per_architecture())
def test_every_architecture_gets_its_figures(trained, test_set, name, tmp_path):
    model = trained(name)
    x, y = test_set[0][:300], test_set[1][:300]
    if is_quantized(model):  # a VQ-VAE: a grid of codes, no latent vectors to draw
        first = plots.codebook_usage(model, x)
        pictures = [plots.reconstructions(model, x).axes[0], plots.samples(model, n=10).axes[0]]
    else:
        label = {"label": 0} if model.num_classes else {}
        first = plots.latent_scatter(model, x, y)
        figures = [plots.manifold(model, (-1, 1), (-1, 1), step=1, **label), plots.reconstructions(model, x, y),
                   plots.class_means(model, x, y), plots.interpolation(model, x, y, 0, 1, steps=3)]
        plots.latent_histograms(model, x, y, dims=[0])
        figures.append(plots.traversals(model, x, y, dims=[0], steps=3))
        if name != "ae":
            figures.append(plots.samples(model, n=10))
            # the bars add up to the KL term of the model's loss (before beta), each image's averaged
            bars = plots.kl_per_dimension(model, x, y).axes[0].patches
            assert len(bars) == model.latent_dim
            np.testing.assert_allclose(sum(bar.get_height() for bar in bars),
                                       numpy(kl_divergence(*model.encode(x, **labels_of(model, y)))).mean(),
                                       rtol=1e-4)
        pictures = [figure.axes[0] for figure in figures]
    for axes in pictures:
        canvas = np.asarray(axes.images[0].get_array(), float)
        assert np.nanmin(canvas) >= 0 and np.nanmax(canvas) <= 1 and np.nanstd(canvas) > 0.02, name
    plots.save(first, tmp_path / "first.png")
    assert matplotlib.image.imread(tmp_path / "first.png").std() > 0.05
