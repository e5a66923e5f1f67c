"""The figures of the tutorials this project grew from, for every zoo model.

Each function returns a `matplotlib.figure.Figure` and, given `path=`, also writes it as a PNG (atomically).
They work on the TensorFlow, JAX and PyTorch backends, and from the command line as
`keras-vae plot KIND NAME --pretrained --out DIR`.

| figure | what it shows |
|---|---|
| `latent_scatter` | encodings coloured by label (a larger latent through PCA, said in the title) |
| `latent_histograms` | per-class density histograms of each latent coordinate, mean and std in the legend |
| `manifold` | decodings of a regular latent grid, ticks in latent units |
| `reconstructions` | originals above their reconstructions |
| `samples` | draws from the prior (a conditional model: one row per class) |
| `class_means` | the decoding of each class's mean latent vector |
| `interpolation` | decodings along the line between two class means, as a strip and a GIF |
| `training_curves` | loss, reconstruction and KL per epoch, training and validation |
| `ae_vs_vae` | an autoencoder's and a VAE's latent spaces, and how much of each decodes to nonsense |
| `codebook_usage` | a VQ-VAE's codes sorted by how often they are chosen, and what the most used decode to |
| `traversals` | one image's code with one latent dimension swept per row, rows by KL to the prior (AE: spread) |
| `kl_per_dimension` | a VAE's mean KL to the prior of each latent dimension, in nats: which dimensions it uses |

A VQ-VAE encodes to a grid of discrete codes, not to a latent vector: it has reconstructions, samples (from its
PixelCNN prior), codebook_usage and training_curves, and `draw` refuses it the figures of latent vectors
(`kinds.VECTOR_KINDS`) with a ValueError.

Example:
    >>> import keras_vae
    >>> from keras_vae import plots
    >>> _, (x_test, y_test) = keras_vae.data.load("mnist")
    >>> vae = keras_vae.zoo.get("vae", pretrained=True)
    >>> plots.latent_scatter(vae, x_test, y_test, path="latent.png")
    >>> plots.manifold(vae, (-2, 2), (-2, 2), step=0.2, path="manifold.png")
"""

from keras_vae import _lazy

#: the figures `keras-vae plot` draws, by name
KINDS = ("latent_scatter", "latent_histograms", "manifold", "reconstructions", "samples", "class_means",
         "interpolation", "training_curves", "ae_vs_vae", "codebook_usage", "traversals", "kl_per_dimension")

# imported on first use, so that `KINDS` needs neither matplotlib nor a backend (the command line's parser)
__getattr__, __dir__, _loaded_on_use = _lazy.attach(
    __name__,
    submodules=["canvas", "codebook", "comparison", "curves", "dimensions", "encodings", "images", "kinds",
                "latent"],
    attributes={"canvas": ["image_grid", "save"], "codebook": ["codebook_usage"],
                "comparison": ["GridCheck", "ae_vs_vae", "grid_check"],
                "curves": ["training_curves"],
                "images": ["class_means", "interpolation", "manifold", "reconstructions", "samples"],
                "kinds": ["check_kind", "draw", "manifold_range"],
                "latent": ["latent_histograms", "latent_scatter"],
                "dimensions": ["dimension_kl", "kl_per_dimension", "traversals"]},
)
__all__ = ["KINDS", *_loaded_on_use]
