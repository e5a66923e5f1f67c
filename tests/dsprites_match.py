"""How far `keras_vae.data.dsprites.render` is from real dSprites images: the 320 frames of DeepMind's dsprites.gif.

The gif does not say which factors each frame shows, so each frame is matched with the nearest rendered image: every
shape, scale and orientation (720 candidates), each placed at the grid position that puts its centroid nearest the
frame's. Run it to print the measurement the README quotes:

    python tests/dsprites_match.py
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np

from keras_vae.data import dsprites

FRAMES = Path(__file__).parent / "data" / "dsprites_gif_frames.npz"


def real_frames() -> np.ndarray:
    """The 320 frames of dsprites.gif, bool ``(320, 64, 64)``."""
    with np.load(FRAMES) as npz:
        return np.unpackbits(npz["frames"], axis=-1).astype(bool)


def _centroids(images: np.ndarray) -> np.ndarray:
    """The (x, y) centroid of each image's pixels, in pixels (a pixel's centre at i + 0.5)."""
    rows, columns = np.arange(dsprites.SIDE) + 0.5, np.arange(dsprites.SIDE) + 0.5
    count = images.sum((1, 2))
    return np.stack([(images.sum(1) * columns).sum(1) / count, (images.sum(2) * rows).sum(1) / count], -1)


def nearest(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each frame, the classes ``(N, 5)`` of the nearest rendered image and its count of differing pixels."""
    poses = np.array(list(itertools.product(range(3), range(6), range(40))))
    middle = np.full((len(poses), 2), 15)  # 16 + 32 * 15 / 31 = 31.5 pixels: near the middle
    drawn = dsprites.render(np.concatenate([poses, middle], 1))
    offsets = _centroids(drawn) - (16 + 32 * 15 / 31)  # each pose's centroid relative to its centre
    step = 32 / 31  # pixels from one position class to the next
    best_classes, best_errors = [], []
    for frame, centroid in zip(frames, _centroids(frames)):
        position = np.clip(np.rint((centroid - offsets - 16) / step), 0, 31).astype(int)
        classes = np.concatenate([poses, position], 1)
        errors = (dsprites.render(classes) != frame).sum((1, 2))
        best_classes.append(classes[errors.argmin()])
        best_errors.append(errors.min())
    return np.array(best_classes), np.array(best_errors)


def main() -> None:
    frames = real_frames()
    classes, errors = nearest(frames)
    drawn = dsprites.render(classes)
    report = {}
    for shape, name in enumerate(dsprites.SHAPES):
        mine = classes[:, 0] == shape
        report[name] = {
            "frames": int(mine.sum()),
            "real_pixels_mean": round(float(frames[mine].sum((1, 2)).mean()), 1),
            "rendered_pixels_mean": round(float(drawn[mine].sum((1, 2)).mean()), 1),
            "differing_pixels_mean": round(float(errors[mine].mean()), 1),
            "differing_pixels_max": int(errors[mine].max()),
            "differing_share_of_real_mean": round(float((errors[mine] / frames[mine].sum((1, 2))).mean()), 3),
        }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
