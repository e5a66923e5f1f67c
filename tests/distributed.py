"""Runs keras_vae in this process on N virtual CPU devices (tests/test_distribution.py).

    python tests/distributed.py 4 train vae --distribute data-parallel --out run    # 4 devices, then the CLI
    python tests/distributed.py 2 sgd-step MODE OUT.npz      # a batch-norm VAE: one SGD step on 64 images, under MODE
    python tests/distributed.py 4 steps MODE N               # the dense VAE: N steps of batch 32 on noise, under MODE

A multi-worker run's cluster comes from TF_CONFIG. `sgd-step` saves the step's losses, the weights after it
(batch norm's moving statistics included) and whether a batch norm layer is still synchronized. SGD, unlike Adam,
does not turn the last bits of a gradient into a whole step, so the weights after a step split across replicas
can be compared with one device's.
"""

import sys

import numpy as np

from keras_vae import cli, distribution


def sgd_step(mode, path):
    import keras

    from harness import small_batch_norm_vae

    images = np.random.default_rng(0).random((64, 28, 28, 1), dtype=np.float32)
    keras.utils.set_random_seed(0)
    with distribution.scope(mode) as replicas:
        model = small_batch_norm_vae()  # conv_vae_bn's design, small: JAX compiles it in a fraction of the time
        model.compile(optimizer=keras.optimizers.SGD(0.01))
        history = model.fit(images, batch_size=64, epochs=1, shuffle=False, verbose=0).history
    synchronized = any(getattr(layer, "synchronized", False) for layer in model._flatten_layers())
    np.savez(path, replicas=replicas, synchronized_after=synchronized,
             **{f"log/{key}": values[0] for key, values in history.items()},
             **{f"weight/{weight.path}": keras.ops.convert_to_numpy(weight) for weight in model.weights})
    return 0


def steps(mode, count):
    """`count` training steps of batch 32 and an evaluation: many steps, each short (what overlaps on XLA:CPU)."""
    from keras_vae import zoo

    images = np.random.default_rng(0).random((32 * int(count), 28, 28, 1), dtype=np.float32)
    with distribution.scope(mode):
        model = zoo.get("vae")
        model.compile(optimizer="adam")
        model.fit(images, batch_size=32, epochs=1, verbose=0, validation_data=(images[:3200],))
    return 0


if __name__ == "__main__":
    devices, *argv = sys.argv[1:]
    if int(devices) > 1:
        distribution.virtual_cpu_devices(int(devices))
    commands = {"sgd-step": sgd_step, "steps": steps}
    sys.exit(commands[argv[0]](*argv[1:]) if argv[0] in commands else cli.main(argv))
