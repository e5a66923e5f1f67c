"""The built wheel carries the zoo: installed in a fresh venv, outside the checkout, a pretrained entry loads."""

import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent  # packaging: no backend changes what the wheel holds

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import sys
import keras
import keras_vae
from keras_vae import zoo
assert keras_vae.__file__.startswith(sys.prefix), keras_vae.__file__
model = zoo.get("vae", pretrained=True)
images = keras.ops.convert_to_numpy(model.sample(4, seed=0))
assert images.shape == (4, 28, 28, 1) and 0.0 <= images.min() and images.max() <= 1.0
print(zoo.folder("vae"))
"""


def running_site_packages():
    """The site-packages directories of the interpreter running the tests: a virtual environment's, or the system's
    (and the user's, where Python reads it)."""
    return [*site.getsitepackages(), *([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])]


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory):
    """A fresh venv with only the wheel of this checkout installed, which sees TensorFlow and Keras where the tests
    run: a .pth file in it names the running interpreter's site-packages. Python does not read the .pth files of
    the directories a .pth file names, so the checkout's editable install stays out of the venv."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(work / "dist"), str(ROOT)], check=True, capture_output=True)
    wheel, = (work / "dist").glob("keras_vae-*.whl")
    venv.create(work / "venv", with_pip=False)
    python = work / "venv" / "bin" / "python"
    site_packages, = (work / "venv" / "lib").glob("python*/site-packages")
    (site_packages / "running_environment.pth").write_text("\n".join(running_site_packages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    str(wheel)], check=True, capture_output=True)
    return work, python


def test_pretrained_entry_loads_from_the_installed_wheel(installed_wheel):
    work, python = installed_wheel
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ""}
    run = subprocess.run([str(python), "-c", CHECK], cwd=work, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    folder = Path(run.stdout.strip().splitlines()[-1])
    assert folder.is_relative_to(work / "venv") and (folder / "model.weights.h5").is_file()
