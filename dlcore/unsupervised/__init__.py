"""Energy-based models and autoencoders (``dlcore.unsupervised``), and their greedy pre-training.

``RBM`` (CD-k / PCD-k, Bernoulli or Gaussian visible units), ``DBN`` (a greedy stack of RBMs,
``to_mlp``, sampling), ``DBM`` (two hidden layers: greedy initialisation, mean-field
inference, fine-tuning), ``Autoencoder`` and ``StackedAutoencoder``; ``greedy`` holds the
layer-wise pre-training loops they share (``pretrain_rbms``, ``pretrain_autoencoders``).
Each model turns into a ``dlcore.models.MLP``-shaped net for supervised fine-tuning.
"""
from dlcore.unsupervised.rbm import RBM, stack_to_mlp
from dlcore.unsupervised.dbn import DBN
from dlcore.unsupervised.dbm import DBM
from dlcore.unsupervised.autoencoder import Autoencoder, StackedAutoencoder
from dlcore.unsupervised.greedy import pretrain_autoencoders, pretrain_rbms

__all__ = ["RBM", "DBN", "DBM", "Autoencoder", "StackedAutoencoder", "pretrain_rbms", "pretrain_autoencoders",
           "stack_to_mlp"]
