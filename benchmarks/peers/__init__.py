"""The reference peers: keras_vae's conv VAE and dense VAE written as users write them elsewhere.

Each module offers `measure(architecture, images, steps, settings)`: the timing (see `timing.py`) of training
`steps` steps a call on `images` (one batch) with the run's settings (repeats, least seconds a repeat):

- `torch_loop`: an `nn.Module`, `torch.optim.Adam` and a plain loop, eager or under `torch.compile`;
- `jax_step`: pure JAX, a hand-written `jax.jit` training step with Adam written out;
- `keras_tutorial`: the Keras tutorial's VAE (a `tf.GradientTape` train_step), trained with `fit` on NumPy
  arrays (TensorFlow backend only, as the tutorial is).

`architecture` is `"conv"` (Conv2D 32/64 stride 2, Dense 16, latent 2, Conv2DTranspose 64/32/1: zoo
`conv_vae`) or `"dense"` (784-128-16-2, mirrored: zoo `vae`).
"""

ARCHITECTURES = {"conv": "conv_vae", "dense": "vae"}
