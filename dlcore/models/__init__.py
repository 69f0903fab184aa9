"""Ready-made models (``dlcore.models``)."""
from dlcore.models.cnn import AlexNetSmall, LeNet, alexnet_small, lenet
from dlcore.models.mlp import MLP
from dlcore.models.perceptron import Perceptron
from dlcore.models.resnet import BasicBlock, ResNet, resnet
from dlcore.models.unet import UNet, unet
from dlcore.models.dbn import DBN  # after MLP: dbn → dlcore.unsupervised → (lazily) dlcore.models.mlp

__all__ = ["MLP", "Perceptron", "LeNet", "lenet", "AlexNetSmall", "alexnet_small", "BasicBlock", "ResNet", "resnet",
           "UNet", "unet", "DBN"]
