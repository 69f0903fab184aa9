"""``Module`` and ``Parameter``: layers that own parameters, buffers and sub-modules."""
from __future__ import annotations

from collections.abc import Iterator

import numpy

import backends
from dlcore import checks, modes
from dlcore.core import Tensor


def check_input_type(layer, x, weight) -> None:
    """TypeError naming ``layer`` unless input ``x`` is a Tensor or array of its ``weight``'s dtype: a
    float64 batch into a float32 layer would otherwise turn the rest of the step into float64 math,
    silently and slowly."""
    if not hasattr(x, "dtype"):
        raise TypeError(f"{layer!r} takes a Tensor (or an array), got {type(x).__name__}; "
                        f"wrap the data with dlcore.Tensor(numpy.asarray(data, '{weight.dtype}'))")
    if x.dtype != weight.dtype:
        raise TypeError(f"{layer!r} has {weight.dtype} weights but got a {x.dtype} input of shape "
                        f"{tuple(x.shape)}; convert the input with .astype('{weight.dtype}')")


class Parameter(Tensor):
    """A tensor a module learns: it always requires a gradient.

    Example::

        >>> w = nn.Parameter(np.array([1.0, -2.0], "float32"))
        >>> w.requires_grad
        True
        >>> (w * w).sum().backward()    # d(Σw²)/dw = 2w
        >>> print(w.grad)
        [ 2. -4.]
    """

    __slots__ = ()

    def __init__(self, data):
        super().__init__(data, requires_grad=True)


class Module:
    """Base class of layers and models.

    Assigning a Parameter or a Module to an attribute registers it (in assignment order,
    which fixes the order of ``parameters()`` and ``state_dict()``); ``register_buffer``
    registers arrays that are state but not learned (BatchNorm's running statistics).
    ``__call__`` runs ``forward`` with the functional train/eval mode set to this module's.

    Example::

        >>> import dlcore.functional as F
        >>> class MLP(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden = nn.Linear(4, 8)   # registered: its parameters are the MLP's
        ...         self.out = nn.Linear(8, 1)
        ...     def forward(self, x):
        ...         return self.out(F.relu(self.hidden(x)))
        >>> model = MLP()
        >>> [name for name, p in model.named_parameters()]
        ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
        >>> model(dlcore.Tensor(np.ones((2, 4), "float32"))).shape
        (2, 1)
        >>> model.eval().training, sorted(model.state_dict())[:2]
        (False, ['hidden.bias', 'hidden.weight'])
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                               f"before assigning {name!r}")
        if isinstance(value, Parameter):
            self._modules.pop(name, None)
            self._buffers.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._buffers.pop(name, None)
            self._modules[name] = value
        elif name in self._buffers:  # a new value for a registered buffer (running statistics)
            self._buffers[name] = value
        else:  # anything else, None included, unregisters a parameter or module of that name
            self._parameters.pop(name, None)
            self._modules.pop(name, None)
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, array) -> None:
        """Keep ``array`` as state saved in ``state_dict`` and moved by ``to``, but not learned."""
        self._buffers[name] = array
        object.__setattr__(self, name, array)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} defines no forward()")

    def __call__(self, *args, **kwargs):
        token = modes.set_training(self.training)
        try:
            return self.forward(*args, **kwargs)
        finally:
            modes.reset_training(token)

    # ---- traversal ---------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module and every sub-module, depth first."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs in registration order; a shared parameter appears once."""
        seen = set()
        for prefix, m in self.named_modules():
            for name, p in m._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self) -> Iterator[tuple[str, object]]:
        for prefix, m in self.named_modules():
            for name, b in m._buffers.items():
                yield (f"{prefix}.{name}" if prefix else name), b

    # ---- random draws ------------------------------------------------------------------
    def draws_random_numbers(self) -> bool:
        """Whether this module's own forward (its children aside) draws random numbers in training mode.

        False here; a layer that samples (Dropout with p > 0) overrides it. A CUDA graph would replay
        one draw on every step, so a captured training step refuses such a model before capturing.
        """
        return False

    def random_modules(self) -> list[tuple[str, Module]]:
        """(dotted name, module) of every module in this tree that draws random numbers in training
        mode (``draws_random_numbers``), depth first; the root is named ""."""
        return [(name, m) for name, m in self.named_modules() if m.draws_random_numbers()]

    # ---- modes and gradients -----------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training behaviour (dropout active, batch statistics) for this module and its children."""
        mode = checks.flag(f"{type(self).__name__}.train", "mode", mode)
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation behaviour (dropout off, running statistics)."""
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` of every parameter (False freezes them: no gradient is computed or
        stepped, e.g. a pre-trained backbone); returns the module, as PyTorch's.

        Example::

            >>> model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
            >>> _ = model[0].requires_grad_(False)
            >>> [p.requires_grad for p in model.parameters()]
            [False, False, True, True]
        """
        flag = checks.flag(f"{type(self).__name__}.requires_grad_", "requires_grad", requires_grad)
        for p in self.parameters():
            p.requires_grad = flag
        return self

    def apply(self, fn) -> Module:
        """Call ``fn(module)`` on every sub-module (children first, depth first) and then on this one, as
        PyTorch's ``Module.apply``, e.g. to initialise the weights; returns the module.

        Example::

            >>> def one_biases(m):
            ...     if isinstance(m, nn.Linear):
            ...         m.bias.data[...] = 1.0
            >>> model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)).apply(one_biases)
            >>> print(model[2].bias.numpy())
            [1.]
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- state -------------------------------------------------------------------
    def state_dict(self) -> dict[str, numpy.ndarray]:
        """{dotted name: NumPy copy} of every parameter and buffer; the model is not moved."""
        state = {name: numpy.array(backends.to_numpy(p.data)) for name, p in self.named_parameters()}
        state.update({name: numpy.array(backends.to_numpy(b)) for name, b in self.named_buffers()})
        return state

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays from ``state`` into the parameters and buffers, on their current device.

        Raises KeyError for missing or unexpected keys (when strict) and ValueError naming
        the key when a shape or dtype differs.
        """
        if not isinstance(state, dict):
            hint = " (did you mean its .state_dict()?)" if hasattr(state, "state_dict") else ""
            raise TypeError(f"{type(self).__name__}.load_state_dict takes a dict of arrays, "
                            f"got {type(state).__name__}{hint}")
        targets = dict(self.named_parameters())
        buffers = dict(self.named_buffers())
        expected = set(targets) | set(buffers)
        if checks.flag(f"{type(self).__name__}.load_state_dict", "strict", strict):
            missing = sorted(expected - set(state))
            unexpected = sorted(set(state) - expected)
            if missing or unexpected:
                raise KeyError(f"load_state_dict into {type(self).__name__}: missing keys {missing}, "
                               f"unexpected keys {unexpected}")
        for key, value in state.items():
            if key not in expected:
                continue
            current = targets[key].data if key in targets else buffers[key]
            value = numpy.asarray(backends.to_numpy(value))
            if value.shape != current.shape:
                raise ValueError(f"load_state_dict: {key!r} has shape {value.shape} in the state "
                                 f"but {current.shape} in the model")
            if value.dtype != current.dtype:
                raise ValueError(f"load_state_dict: {key!r} has dtype {value.dtype} in the state "
                                 f"but {current.dtype} in the model")
            moved = backends.to_device(numpy.array(value), backends.backend_of(current).name)
            if key in targets:
                targets[key].data = moved
            else:
                self._set_buffer(key, moved)

    def _set_buffer(self, dotted: str, array) -> None:
        owner_name, _, name = dotted.rpartition(".")
        owner = dict(self.named_modules())[owner_name]
        owner._buffers[name] = array
        object.__setattr__(owner, name, array)

    def to(self, name: str) -> Module:
        """Move every parameter and buffer to backend ``name`` ("numpy"/"cupy") in place.

        Parameters keep their identity (optimizers holding them stay valid); gradients move too.
        """
        name = checks.backend_name(f"{type(self).__name__}.to", "name", name)
        for p in self.parameters():
            p.data = backends.to_device(p.data, name)
            if p.grad is not None:
                p.grad = backends.to_device(p.grad, name)
        for dotted, b in list(self.named_buffers()):
            self._set_buffer(dotted, backends.to_device(b, name))
        return self

    # ---- display -----------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"
