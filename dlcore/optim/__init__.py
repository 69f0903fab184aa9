"""Optimizers: ``SGD``, ``Momentum``, ``Nesterov``, ``AdaGrad``, ``RMSprop``, ``Adam``, ``AdamW``.

Each takes ``params`` (a Module, ``(name, Parameter)`` pairs or plain Parameters), its
hyperparameters, ``weight_decay`` (L2: adds wd·θ to the gradient) and ``l1`` (adds
l1·sign(θ)); and has ``step()``, ``zero_grad()``, ``state_dict()``, ``load_state_dict(d)``
and a settable ``lr``; or parameter groups with their own lr and weight decay (``Optimizer``). The update
formulas are in each class's docstring.
"""
from dlcore import checks
from dlcore.optim.adaptive import AdaGrad, Adam, AdamW, RMSprop
from dlcore.optim.optimizer import Optimizer, named_params
from dlcore.optim.sgd import SGD, Momentum, Nesterov

#: name (as configs and ``get`` write it) → optimizer class
OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad, "rmsprop": RMSprop,
              "adam": Adam, "adamw": AdamW}


def get(name: str) -> type[Optimizer]:
    """The optimizer class registered as ``name`` in OPTIMIZERS (``get("adam")(model, lr=1e-3)``).

    Example::

        >>> optim.get("adam")
        <class 'dlcore.optim.adaptive.Adam'>
        >>> optim.get("momentum")(nn.Linear(2, 1), lr=0.1).momentum
        0.9
    """
    return OPTIMIZERS[checks.choice("optim.get", "name", name, OPTIMIZERS)]


__all__ = ["Optimizer", "named_params", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "AdamW",
           "OPTIMIZERS", "get"]
