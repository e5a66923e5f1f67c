"""The VAEs in plain PyTorch: an `nn.Module`, Adam, and the usual training loop (eager or `torch.compile`)."""

import torch
from torch import nn
from torch.nn import functional

import timing


class ConvVAE(nn.Module):
    """Conv2D 32/64 (3x3, stride 2) -> Dense 16 -> latent; Dense 7x7x64 -> ConvTranspose 64/32 -> 1."""

    def __init__(self, latent_dim=2):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
                                     nn.Flatten(), nn.Linear(64 * 7 * 7, 16), nn.ReLU())
        self.heads = nn.Linear(16, 2 * latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 64, 3, 2, 1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 3, 2, 1, output_padding=1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 3, 1, 1))

    def forward(self, x):
        z_mean, z_log_var = self.heads(self.encoder(x)).chunk(2, dim=1)
        z = z_mean + torch.exp(0.5 * z_log_var) * torch.randn_like(z_mean)
        return self.decoder(z), z_mean, z_log_var


class DenseVAE(ConvVAE):
    """784-128-16-latent, mirrored."""

    def __init__(self, latent_dim=2):
        nn.Module.__init__(self)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 16), nn.ReLU())
        self.heads = nn.Linear(16, 2 * latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, 16), nn.ReLU(), nn.Linear(16, 128), nn.ReLU(),
                                     nn.Linear(128, 784), nn.Unflatten(1, (1, 28, 28)))


def loss(x, logits, z_mean, z_log_var):
    """Negative ELBO per image: BCE summed over pixels + KL, averaged over the batch."""
    reconstruction = functional.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + z_log_var - z_mean.square() - z_log_var.exp())
    return (reconstruction + kl) / x.shape[0]


def runner(architecture, images, steps, compiled=False):
    """A function training `steps` Adam steps on `images` (NHWC NumPy, moved to the GPU if there is one).

    Args:
        architecture: `"conv"` or `"dense"`.
        images: one batch, float32 (batch, 28, 28, 1).
        steps: steps per call.
        compiled: wrap the model in `torch.compile`.
    """
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    model = {"conv": ConvVAE, "dense": DenseVAE}[architecture]().to(device)
    forward = torch.compile(model) if compiled else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().to(device)

    def run():
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            value = loss(x, *forward(x))
            value.backward()
            optimizer.step()
        return value.item()  # waits for the device

    return run


def measure(architecture, images, steps, settings, **kwargs):
    """`timing.measure` of `runner(architecture, images, steps, **kwargs)` with the run's repeats."""
    return timing.measure(runner(architecture, images, steps, **kwargs), len(images) * steps, settings["repeats"],
                          settings["min_seconds"])
