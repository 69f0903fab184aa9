"""Residual (ResNet) skip connection."""
from __future__ import annotations

from dlcore import checks
from dlcore.nn.module import Module


class Residual(Module):
    """y = block(x) + shortcut(x), the shortcut being the identity when None (a ResNet block).

    Use a projection shortcut (e.g. a 1×1 Conv2d with the block's stride) when the block
    changes the shape; mismatched shapes raise a ValueError naming both.

    Example::

        >>> block = nn.Residual(nn.Sequential(nn.Linear(4, 4), nn.ReLU()))    # identity shortcut
        >>> x = dlcore.Tensor(np.ones((2, 4), "float32"))
        >>> np.allclose(block(x).numpy(), block.block(x).numpy() + x.numpy())
        True
        >>> down = nn.Residual(nn.Conv2d(3, 8, 3, stride=2, padding=1), shortcut=nn.Conv2d(3, 8, 1, stride=2))
        >>> down(dlcore.Tensor(np.zeros((1, 3, 8, 8), "float32"))).shape
        (1, 8, 4, 4)
    """

    def __init__(self, block: Module, shortcut: Module | None = None):
        super().__init__()
        self.block = checks.instance("Residual", "block", block, Module, "a Module")
        self.shortcut = None if shortcut is None else checks.instance("Residual", "shortcut", shortcut, Module,
                                                                      "a Module or None")

    def forward(self, x):
        y = self.block(x)
        s = x if self.shortcut is None else self.shortcut(x)
        if y.shape != s.shape:
            raise checks.ShapeError(f"Residual: the block gives shape {tuple(y.shape)} but the "
                                    f"{'identity' if self.shortcut is None else 'shortcut'} gives {tuple(s.shape)}; "
                                    f"pass a shortcut (e.g. a 1×1 Conv2d with the block's stride) that matches")
        return y + s
