"""What the ready-made models share: ``Chain`` (a Sequential with named parts) and ``check_sizes``."""
from __future__ import annotations

from dlcore import checks
from dlcore.nn import Sequential


class Chain(Sequential):
    """Named sub-modules applied in the order they were assigned (dotted names such as ``features.0.weight``);
    Sequential's forward, with names chosen by the model instead of "0", "1", …"""


def check_sizes(model: str, minimum: int = 1, **values) -> None:
    """Each value an int ≥ ``minimum``, or a non-empty tuple/list of them (``checks.integer``, with
    ``model`` and the argument's name in the message)."""
    for name, value in values.items():
        items = value if isinstance(value, (tuple, list)) else (value,)
        if not items:
            raise checks.ArgumentValueError(f"{model}: {name} must be a non-empty tuple of ints ≥ {minimum}, got "
                                            f"{value!r}")
        for item in items:
            checks.integer(model, name, item, minimum)
