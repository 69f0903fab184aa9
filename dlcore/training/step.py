"""The training step as an object the Trainer is given: eager, or captured as a CUDA graph.

The Trainer runs epochs, validation, callbacks and the device-side bookkeeping of losses; how
one batch trains is the step's business (as Chainer's Updater separates the step from the
loop). ``Trainer.fit`` hands the step its model, loss and optimizer (``bind``), then calls it
with each training batch, and it returns the (outputs, loss) tensors of that batch:

    Trainer(step=GraphStep())          # the same as Trainer(cuda_graph=True)

``EagerStep`` runs forward, loss, backward and update operation by operation. ``GraphStep``
captures that step once as a CUDA graph (``dlcore.cuda_graph.CapturedStep``) and replays it;
what capture needs to know it asks the objects: the optimizer's ``capture_refusal``,
``snapshot`` and ``count_replayed_step``, and the model's ``random_modules``.
"""
from __future__ import annotations

from backends import UserError
from dlcore.core import Tensor
from dlcore.cuda_graph import CapturedStep


class CaptureError(UserError, RuntimeError):
    """A training step that a CUDA graph cannot replay was to be captured: the message says what and why.

    Example::

        >>> model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
        >>> training.GraphStep().bind(model, losses.MSELoss(), optim.SGD(model, lr=0.1))
        Traceback (most recent call last):
            ...
        dlcore.training.step.CaptureError: GraphStep: the model draws random numbers in training (1 Dropout(p=0.5)): ...
    """


class EagerStep:
    """One training step run operation by operation: forward, loss, zero_grad, backward, optimizer step.

    Example::

        >>> model = nn.Linear(2, 1)
        >>> step = training.EagerStep()    # what Trainer() uses unless given another step
        >>> step.bind(model, losses.MSELoss(), optim.SGD(model, lr=0.1))
        >>> before = model.weight.numpy().copy()
        >>> out, loss = step(np.ones((4, 2), "float32"), np.zeros((4, 1), "float32"))
        >>> out.shape, loss.shape, bool((model.weight.numpy() != before).all())    # one update done
        ((4, 1), (), True)
    """

    def bind(self, model, loss, optimizer, batch_size: int | None = None) -> None:
        """Train ``model`` on ``loss`` with ``optimizer`` from now on (``Trainer.fit`` calls this before its
        first step); ``batch_size`` is the training loader's (None when it has none)."""
        self.model, self.loss, self.optimizer = model, loss, optimizer

    def __call__(self, xb, yb):
        """Train on the batch (``xb``, ``yb``); returns the (outputs, loss) tensors."""
        out = self.model(Tensor(xb))
        loss = self.loss(out, yb)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return out, loss


class GraphStep(EagerStep):
    """The training step captured as a CUDA graph and replayed with one launch (CuPy backend only).

    Batches of the loader's ``batch_size`` are copied into two device buffers that the graph
    reads; a batch of another size (a last short one) runs eagerly. The graph holds the batch
    shapes and the optimizer's hyperparameters as they were when it was captured, so the step
    is captured again when either changes (a learning-rate schedule's new lr, say); the old
    graph and its memory are let go first. Each capture runs ``warmup`` eager calls and the
    captured one, whose effect on the model and the optimizer is undone (``restore``), so the
    first replay is the next step. A replay runs no Python: the optimizer's step count is
    moved here (``count_replayed_step``).

    ``bind`` raises CaptureError when the optimizer declares it cannot be captured
    (``capture_refusal``) or a module of the model draws random numbers in training
    (``random_modules``: a graph would replay one draw on every step).

    Example::

        >>> trainer = training.Trainer(step=training.GraphStep(warmup=2))    # = Trainer(cuda_graph=True)
        >>> model = nn.Linear(2, 1)
        >>> training.GraphStep().bind(model, losses.MSELoss(), optim.SGD(model, lr=0.1))    # SGD can be captured
        >>> training.GraphStep().bind(model, losses.MSELoss(), optim.Adam(model))
        Traceback (most recent call last):
            ...
        dlcore.training.step.CaptureError: GraphStep: Adam cannot be captured in a CUDA graph: ...
    """

    def __init__(self, warmup: int = 2):
        self.warmup = warmup
        self.key = self.captured = None

    def bind(self, model, loss, optimizer, batch_size: int | None = None) -> None:
        refusal = getattr(optimizer, "capture_refusal", None)
        if refusal is not None:
            raise CaptureError(f"GraphStep: {type(optimizer).__name__} cannot be captured in a CUDA graph: "
                               f"{refusal}; train with eager steps (Trainer(cuda_graph=False))")
        drawing = model.random_modules()
        if drawing:
            names = ", ".join(f"{name or 'the model'} {module!r}" for name, module in drawing)
            raise CaptureError(f"GraphStep: the model draws random numbers in training ({names}): a CUDA graph "
                               "would replay one draw on every step; train with eager steps "
                               "(Trainer(cuda_graph=False))")
        super().bind(model, loss, optimizer, batch_size)
        self.batch_size = batch_size
        self.key = self.captured = None  # a graph of an earlier fit is let go

    def __call__(self, xb, yb):
        if len(xb) != self.batch_size:
            return super().__call__(xb, yb)
        key = (xb.shape, yb.shape, tuple(self.optimizer.hyperparameters().items()))
        if key != self.key:
            self.key = self.captured = None  # let the old graph's memory go before the new capture
            x, y = xb.copy(), yb.copy()
            self.captured = CapturedStep(lambda: EagerStep.__call__(self, x, y), self.warmup,
                                         restore=(self.model, self.optimizer))
            self.key, self.x, self.y = key, x, y
        self.x[...] = xb
        self.y[...] = yb
        outputs = self.captured()
        self.optimizer.count_replayed_step()
        return outputs


__all__ = ["EagerStep", "GraphStep", "CaptureError"]
