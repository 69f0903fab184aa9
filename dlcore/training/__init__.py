"""Training: the Trainer, its training steps and callbacks, History and run configurations (``dlcore.training``)."""
from dlcore.training.callbacks import (Callback, Checkpoint, CosineLR, EarlyStopping, ExponentialLR, LinearWarmup,
                                       LRSchedule, ReduceLROnPlateau, StepLR)
from dlcore.training.history import History
from dlcore.training.step import CaptureError, EagerStep, GraphStep
from dlcore.training.trainer import DivergenceError, Trainer, summary_table

__all__ = ["Trainer", "DivergenceError", "EagerStep", "GraphStep", "CaptureError", "History", "Callback",
           "Checkpoint", "EarlyStopping", "LRSchedule", "StepLR", "ExponentialLR", "CosineLR", "LinearWarmup", "ReduceLROnPlateau", "summary_table"]
