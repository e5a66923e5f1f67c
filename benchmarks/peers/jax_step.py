"""The VAEs in pure JAX: parameters in a dict, the forward pass in `jax.lax`, Adam written out, and one
hand-written `jax.jit` training step whose state (parameters, Adam moments, random key) stays on the device.
"""

import jax
import jax.numpy as jnp
import numpy as np

import timing

_CONV = ("NHWC", "HWIO", "NHWC")


def _dense(rng, fan_in, fan_out):
    limit = np.sqrt(6 / (fan_in + fan_out))  # Glorot uniform, as Keras initialises
    return {"w": jnp.asarray(rng.uniform(-limit, limit, (fan_in, fan_out)), "float32"),
            "b": jnp.zeros(fan_out, "float32")}


def _conv(rng, fan_in, fan_out):
    limit = np.sqrt(6 / (9 * (fan_in + fan_out)))
    return {"w": jnp.asarray(rng.uniform(-limit, limit, (3, 3, fan_in, fan_out)), "float32"),
            "b": jnp.zeros(fan_out, "float32")}


def init(architecture, latent_dim=2, seed=0):
    """The parameters of the conv or dense VAE."""
    rng = np.random.default_rng(seed)
    if architecture == "conv":
        return {"c1": _conv(rng, 1, 32), "c2": _conv(rng, 32, 64), "d1": _dense(rng, 3136, 16),
                "mean": _dense(rng, 16, latent_dim), "log_var": _dense(rng, 16, latent_dim),
                "d2": _dense(rng, latent_dim, 3136), "t1": _conv(rng, 64, 64), "t2": _conv(rng, 64, 32),
                "t3": _conv(rng, 32, 1)}
    return {"e1": _dense(rng, 784, 128), "e2": _dense(rng, 128, 16), "mean": _dense(rng, 16, latent_dim),
            "log_var": _dense(rng, 16, latent_dim), "g1": _dense(rng, latent_dim, 16), "g2": _dense(rng, 16, 128),
            "g3": _dense(rng, 128, 784)}


def _linear(p, x):
    return x @ p["w"] + p["b"]


def _conv2d(p, x, stride):
    return jax.lax.conv_general_dilated(x, p["w"], (stride, stride), "SAME", dimension_numbers=_CONV) + p["b"]


def _conv2d_transpose(p, x, stride):
    return jax.lax.conv_transpose(x, p["w"], (stride, stride), "SAME", dimension_numbers=_CONV) + p["b"]


def _encode(params, x):
    if "c1" in params:
        h = jax.nn.relu(_conv2d(params["c2"], jax.nn.relu(_conv2d(params["c1"], x, 2)), 2))
        h = jax.nn.relu(_linear(params["d1"], h.reshape(len(x), -1)))
    else:
        h = jax.nn.relu(_linear(params["e2"], jax.nn.relu(_linear(params["e1"], x.reshape(len(x), -1)))))
    return _linear(params["mean"], h), _linear(params["log_var"], h)


def _decode(params, z):
    if "c1" in params:
        h = jax.nn.relu(_linear(params["d2"], z)).reshape(len(z), 7, 7, 64)
        h = jax.nn.relu(_conv2d_transpose(params["t2"], jax.nn.relu(_conv2d_transpose(params["t1"], h, 2)), 2))
        return _conv2d_transpose(params["t3"], h, 1)
    h = jax.nn.relu(_linear(params["g2"], jax.nn.relu(_linear(params["g1"], z))))
    return _linear(params["g3"], h).reshape(len(z), 28, 28, 1)


def loss(params, x, key):
    """Negative ELBO per image (BCE from logits summed over pixels + KL), averaged over the batch."""
    z_mean, z_log_var = _encode(params, x)
    z = z_mean + jnp.exp(0.5 * z_log_var) * jax.random.normal(key, z_mean.shape)
    logits = _decode(params, z)
    bce = jnp.maximum(logits, 0) - logits * x + jnp.log1p(jnp.exp(-jnp.abs(logits)))
    kl = -0.5 * jnp.sum(1 + z_log_var - z_mean ** 2 - jnp.exp(z_log_var))
    return (jnp.sum(bce) + kl) / len(x)


@jax.jit
def _step(state, x):
    params, m, v, t, key = state
    key, noise = jax.random.split(key)
    value, grads = jax.value_and_grad(loss)(params, x, noise)
    t = t + 1
    m = jax.tree.map(lambda m, g: 0.9 * m + 0.1 * g, m, grads)
    v = jax.tree.map(lambda v, g: 0.999 * v + 0.001 * g * g, v, grads)
    rate = 1e-3 * jnp.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
    params = jax.tree.map(lambda p, m, v: p - rate * m / (jnp.sqrt(v) + 1e-7), params, m, v)
    return (params, m, v, t, key), value


def runner(architecture, images, steps):
    """A function training `steps` Adam steps on `images` (one batch, put on the default device)."""
    params = init(architecture)
    zeros = jax.tree.map(jnp.zeros_like, params)
    holder = [(params, zeros, zeros, jnp.zeros((), "float32"), jax.random.key(0))]
    x = jax.device_put(images)

    def run():
        for _ in range(steps):
            holder[0], value = _step(holder[0], x)
        return float(value)  # waits for the device

    return run


def measure(architecture, images, steps, settings, **kwargs):
    """`timing.measure` of `runner(architecture, images, steps, **kwargs)` with the run's repeats."""
    return timing.measure(runner(architecture, images, steps, **kwargs), len(images) * steps, settings["repeats"],
                          settings["min_seconds"])
