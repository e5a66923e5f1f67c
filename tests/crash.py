"""Runs `keras_vae.train("vae", epochs=5, batch_size=64, out=OUT)` in this process and SIGKILLs it at a chosen
moment of a backup's write (tests/test_resume.py).

    python tests/crash.py torn 2 run             # dies with epoch 2's backup half written
    python tests/crash.py swap 3 run --resume    # resumes run, and dies between the renames of epoch 3's swap
    python tests/crash.py none 0 run             # left to run (or to be killed from outside)

torn N: the backup after epoch N has its weights file half on disk and no metadata yet, in its temporary
directory. swap N: the previous backup has been renamed aside and the new one not yet renamed into place.
"""

import os
import signal
import sys
from pathlib import Path

import keras_vae
from keras_vae import callbacks

EPOCHS = 5


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


def torn(epoch):
    write_json = callbacks.write_json

    def write(path, value):
        if Path(path).name == "training_metadata.json" and value["epoch"] == epoch:
            weights = Path(path).with_name("latest.weights.h5")
            os.truncate(weights, weights.stat().st_size // 2)
            _die()
        write_json(path, value)

    callbacks.write_json = write


def swap(epoch):
    replace, moved_aside = os.replace, []

    def replace_then_die(source, target):
        replace(source, target)
        if Path(source).name == "backup":  # the previous backup, moved aside by the swap of epoch 2, 3, ...
            moved_aside.append(target)
            if len(moved_aside) == epoch - 1:
                _die()

    os.replace = replace_then_die  # the one os module: keras_vae.files uses it too


if __name__ == "__main__":
    mode, epoch, out, *resume = sys.argv[1:]
    {"torn": torn, "swap": swap, "none": lambda epoch: None}[mode](int(epoch))
    keras_vae.train("vae", epochs=EPOCHS, batch_size=64, verbose=0, out=out, resume=resume == ["--resume"])
