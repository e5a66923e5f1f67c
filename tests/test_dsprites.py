"""dSprites: the rendered images against real frames of the dataset, the factor order its README publishes, and the
npz's checks (NumPy only: no backend changes them)."""

import numpy as np
import pytest

from keras_vae import data
from keras_vae.data import DataFileError, dsprites
from tests.dsprites_match import nearest, real_frames

pytestmark = pytest.mark.backend_independent


#: the largest mean share of a real frame's pixels that its nearest rendered image may get wrong, per shape
BOUNDS = {"square": 0.03, "ellipse": 0.08, "heart": 0.15}


def _mean_shares(frames, classes):
    share = (dsprites.render(classes) != frames).sum((1, 2)) / frames.sum((1, 2))
    return {name: share[classes[:, 0] == shape].mean() for shape, name in enumerate(dsprites.SHAPES)}


def test_rendered_sprites_match_the_real_frames_of_dsprites_gif():
    frames = real_frames()[::2]  # 160 of the 320 frames
    classes, errors = nearest(frames)
    # Each frame has a rendered image that differs from it along the outline only, by little enough on average
    # that every image one class step away in scale, orientation or position is out of bounds.
    assert (errors / frames.sum((1, 2))).max() < 0.25
    means = _mean_shares(frames, classes)
    assert all(means[name] < bound for name, bound in BOUNDS.items()), means
    for factor in range(1, 5):
        neighbours = classes.copy()
        neighbours[:, factor] += np.where(classes[:, factor] < dsprites.SIZES[factor] - 1, 1, -1)
        means = _mean_shares(frames, neighbours)
        assert all(means[name] > bound for name, bound in BOUNDS.items()), (dsprites.NAMES[factor], means)
    # The gif shows all three shapes, the smallest and largest scales, and positions at both ends of each axis.
    assert set(classes[:, 0]) == {0, 1, 2} and {0, 5} <= set(classes[:, 1])
    assert {0, 31} <= set(classes[:, 3]) and {0, 31} <= set(classes[:, 4])


def test_the_order_and_values_are_those_the_dataset_publishes():
    """dSprites' README: position y varies fastest, then x, orientation, scale and shape; its metadata lists the
    values (a position step of 0.03225806, an orientation step of 0.16110732 rad)."""
    sizes = {1: [0, 0, 0, 0, 1], 32: [0, 0, 0, 1, 0], 1024: [0, 0, 1, 0, 0], 40960: [0, 1, 0, 0, 0],
             245760: [1, 0, 0, 0, 0], 737279: [2, 5, 39, 31, 31]}
    for index, classes in sizes.items():
        np.testing.assert_array_equal(dsprites.classes_of(index), classes)
    factors = dsprites.factors_of(dsprites.classes_of(np.array([0, 1, 1024, 40960, 245760 * 2 + 40960 * 5])))
    np.testing.assert_allclose(factors[:, 4], [0, 0.03225806, 0, 0, 0], atol=1e-7)
    np.testing.assert_allclose(factors[:, 2], [0, 0, 0.16110732, 0, 0], atol=1e-7)
    np.testing.assert_allclose(factors[:, 1], [0.5, 0.5, 0.5, 0.6, 1.0], atol=1e-7)
    np.testing.assert_array_equal(factors[:, 0], [1, 1, 1, 1, 3])
    assert dsprites.VALUES[2][-1] == pytest.approx(6.28318531)


@pytest.fixture
def small_grid(monkeypatch):
    """dSprites' layout on a 24-image grid (2 scales, 2 orientations, 2 x 1 positions), so that an npz is small."""
    monkeypatch.setattr(dsprites, "SIZES", (3, 2, 2, 2, 1))
    classes = dsprites.classes_of(np.arange(24))
    images = dsprites.render(classes).astype(np.uint8)
    return images, np.concatenate([np.zeros((24, 1), int), classes], 1)


def test_the_npz_is_read_and_loaded_by_data_load(small_grid, tmp_path, monkeypatch):
    images, classes = small_grid
    images = 1 - images  # unlike anything render draws: what comes back was read
    np.savez(tmp_path / dsprites.FILE_NAME, imgs=images, latents_classes=classes, latents_values=classes * 1.0)
    loaded, factors = data.load("dsprites", data_dir=tmp_path)
    assert loaded.dtype == bool and loaded.shape == (24, 64, 64, 1)
    np.testing.assert_array_equal(loaded[..., 0], images == 1)
    some = dsprites.images_of(classes[[5, 17], 1:], data_dir=tmp_path)
    assert some.dtype == np.float32 and some.shape == (2, 64, 64, 1)
    np.testing.assert_array_equal(some[..., 0], images[[5, 17]])
    monkeypatch.setattr(dsprites, "TEST_IMAGES", 8)
    x_test, y_test = dsprites.test_split(data_dir=tmp_path)  # the test images of a run, without the others
    np.testing.assert_array_equal(x_test, data.load_splits("dsprites", data_dir=tmp_path)[1][0])
    np.testing.assert_array_equal(dsprites.images_of(classes[:, 1:], source="rendered")[..., 0], 1 - images)
    np.testing.assert_allclose(factors[[0, 23]], [[1, 0.5, 0, 0, 0], [3, 0.6, 2 * np.pi / 39, 1 / 31, 0]], rtol=1e-6)


def test_a_run_trains_on_every_image_by_shape_and_tests_on_a_fixed_sample(small_grid, monkeypatch):
    images, classes = small_grid
    monkeypatch.setattr(dsprites, "TEST_IMAGES", 8)
    factors = dsprites.factors_of(classes[:, 1:])
    (x_train, y_train), (x_test, y_test) = dsprites.splits(images[..., None] == 1, factors)
    assert len(x_train) == 24 and list(y_train) == [0] * 8 + [1] * 8 + [2] * 8  # shape is the slowest factor
    assert x_test.dtype == np.float32 and x_test.shape == (8, 64, 64, 1)
    rows = [np.flatnonzero((images == test[..., 0]).all((1, 2)))[0] for test in x_test]  # each test image's row
    assert len(set(rows)) == 8 and list(y_test) == [row // 8 for row in rows]
    again = dsprites.splits(images[..., None] == 1, factors)[1][0]
    np.testing.assert_array_equal(again, x_test)  # the same sample every time


@pytest.mark.parametrize("problem, change", [
    ("not dSprites' factor grid in its order", lambda images, classes: (images, classes[::-1])),
    ("0 and 1 only, found values up to 255", lambda images, classes: (images * 255, classes)),
    ("expected imgs of shape (24, 64, 64)", lambda images, classes: (images[:, :32], classes)),
])
def test_a_wrong_npz_is_refused(small_grid, tmp_path, problem, change):
    images, classes = change(*small_grid)
    np.savez(tmp_path / dsprites.FILE_NAME, imgs=images, latents_classes=classes)
    with pytest.raises(DataFileError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        dsprites.load(data_dir=tmp_path)


def test_missing_or_corrupt_files_and_bad_arguments_are_refused(tmp_path, monkeypatch):
    (tmp_path / dsprites.FILE_NAME).write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(DataFileError, match="not a readable dSprites npz"):
        dsprites.load(data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="No dsprites_ndarray.*source='rendered'"):
        dsprites.load(data_dir=tmp_path / "empty")
    monkeypatch.setenv("KERAS_VAE_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="No dsprites_ndarray"):
        dsprites.load(source="npz")
    with pytest.raises(ValueError, match="source must be one of"):
        dsprites.load(source="gif")
    with pytest.raises(ValueError, match="binary already"):
        data.load("dsprites", binarize="static")
    with pytest.raises(ValueError, match=r"classes must be integers of shape \(N, 5\)"):
        dsprites.render([[0, 1, 2]])
    with pytest.raises(ValueError, match="must lie below the factor sizes"):
        dsprites.render([[3, 0, 0, 0, 0]])


def test_bool_images_become_float32_batches_one_batch_at_a_time():
    images = dsprites.render(dsprites.classes_of(np.arange(0, 737280, 73728)))[..., None]
    batches = data.EpochBatches(images, batch_size=4, shuffle=False)
    assert batches.images is images  # no float copy of the whole set
    first = batches[0]
    assert first.dtype == np.float32 and set(np.unique(first)) == {0.0, 1.0}
    np.testing.assert_array_equal(first, images[:4])
