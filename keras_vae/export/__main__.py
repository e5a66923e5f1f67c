"""`python -m keras_vae.export FORMAT MODEL.keras PATH`: writes the export of a saved zoo model to PATH (an empty
directory, or the file, that `keras_vae.export.export` writes atomically). That function runs this with
`KERAS_BACKEND=tensorflow` for a backend that cannot trace FORMAT itself."""

import sys
from pathlib import Path

from keras_vae import zoo
from keras_vae.export import FORMATS

if __name__ == "__main__":
    format, model_file, path = sys.argv[1:]
    FORMATS[format].write(zoo.load_model(model_file), Path(path))
