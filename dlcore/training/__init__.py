"""Training loops (``dlcore.training``)."""
from dlcore.training.trainer import Trainer

__all__ = ["Trainer"]
