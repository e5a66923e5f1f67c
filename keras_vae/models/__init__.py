"""The model families; importing this module registers their zoo entries."""

from keras_vae.models.autoencoder import Autoencoder
from keras_vae.models.beta_tcvae import BetaTCVAE
from keras_vae.models.bodies import ConvBody, DenseBody
from keras_vae.models.conv_vae import ConvVAE
from keras_vae.models.cvae import ConditionalVAE
from keras_vae.models.factor_vae import FactorVAE
from keras_vae.models.hvae import HierarchicalVAE
from keras_vae.models.iwae import IWAE
from keras_vae.models.pixelcnn import GatedPixelCNN
from keras_vae.models.vae import VAE, BetaVAE
from keras_vae.models.vq_vae import VQVAE

__all__ = ["Autoencoder", "VAE", "BetaVAE", "BetaTCVAE", "ConvVAE", "ConditionalVAE", "FactorVAE", "IWAE",
           "HierarchicalVAE", "VQVAE", "GatedPixelCNN", "DenseBody", "ConvBody"]
