"""Unsupervised pre-training (``dlcore.unsupervised``): RBMs, a DBM, autoencoders.

``RBM`` (CD-k / PCD-k, Bernoulli or Gaussian visible units), ``DBM`` (two hidden layers:
greedy initialisation, mean-field inference, fine-tuning), ``Autoencoder`` and
``StackedAutoencoder``; the deep belief net is ``dlcore.models.DBN``.
"""
from dlcore.unsupervised.rbm import RBM, pretrain_stack, stack_to_mlp
from dlcore.unsupervised.dbm import DBM
from dlcore.unsupervised.autoencoder import Autoencoder, StackedAutoencoder

__all__ = ["RBM", "DBM", "pretrain_stack", "stack_to_mlp", "Autoencoder", "StackedAutoencoder"]
