"""``DistributedOptimizer``: average the gradients over the ranks, then the wrapped step."""
from __future__ import annotations

from dlcore.distributed.communicator import Communicator


class DistributedOptimizer:
    """Wraps any ``dlcore.optim`` optimizer: ``step()`` = ``comm.allreduce_grads`` over the
    optimizer's parameters (one flat buffer per step) followed by the wrapped ``step()``.

    Every other attribute (``lr`` and the other hyperparameters, ``params``, ``state``,
    ``t``, ``zero_grad``, ``state_dict``, ``load_state_dict``) is the wrapped optimizer's:
    reading and assigning them goes through, so learning-rate schedules and checkpoints
    work unchanged, and a checkpoint written by a distributed run loads into a plain
    optimizer of the same type (and back).
    """

    def __init__(self, optimizer, comm: Communicator):
        object.__setattr__(self, "optimizer", optimizer)
        object.__setattr__(self, "comm", comm)

    def step(self) -> None:
        self.comm.allreduce_grads(self.optimizer.params)
        self.optimizer.step()

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, d: dict) -> None:
        self.optimizer.load_state_dict(d)

    def __getattr__(self, name):
        return getattr(self.optimizer, name)

    def __setattr__(self, name, value):
        setattr(self.optimizer, name, value)

    def __repr__(self) -> str:
        return f"DistributedOptimizer({self.optimizer!r}, {self.comm!r})"
