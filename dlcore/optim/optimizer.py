"""``Optimizer``: the base class every update rule plugs into.

``step()`` walks the parameters in order; for each one with a gradient it forms

    g = ∇θ + weight_decay · θ + l1 · sign(θ)

(without touching ``p.grad``, which may be shared) and calls the subclass's
``update(xp, param, g, state)``, which changes the array ``param`` (``p.data``) in place.
``state`` is that parameter's dict of buffers (the names in ``buffers``), created lazily as
zeros on the parameter's device with its dtype, and keyed by the parameter's dotted name so
training can be saved and resumed. Each ``update`` is written once against ``xp``; a fused
CuPy kernel can later replace one subclass's ``update`` without touching the others.
Nothing here synchronises with the device: hyperparameters, the step count and bias
corrections are Python numbers.
"""
from __future__ import annotations

from types import MappingProxyType

import numpy

import backends
from backends.capture import is_capturing
from dlcore.checks import ArgumentTypeError, ArgumentValueError, finite_number, flag
from dlcore.core import Tensor


def named_params(params, owner: str = "optimizer") -> dict[str, Tensor]:
    """{name: parameter} from a Module, (name, parameter) pairs, a dict, or plain parameters.

    Plain parameters are named "0", "1", … in order. Raises ValueError for an empty list,
    a repeated name or a parameter given twice, and TypeError for anything but tensors
    (a single Tensor, or the method ``model.parameters`` not called, included). ``owner``
    (the optimizer's class name) starts every message.

    Example::

        >>> sorted(optim.named_params(nn.Linear(2, 1)))
        ['bias', 'weight']
        >>> list(optim.named_params([nn.Parameter(np.zeros(2, "float32"))]))    # plain parameters: "0", "1", …
        ['0']
    """
    if isinstance(params, Tensor):  # iterable (its rows), so it would not fail on its own
        raise ArgumentTypeError(f"{owner}: params is a single {type(params).__name__} of shape "
                                f"{tuple(params.shape)}; pass a list of parameters, e.g. [p], or the model")
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    elif isinstance(params, dict):
        params = params.items()
    elif callable(params):
        if hasattr(params, "__self__"):
            what = f"the bound method {type(params.__self__).__name__}.{getattr(params, '__name__', '?')}"
        else:
            what = f"the callable {getattr(params, '__qualname__', type(params).__name__)}"
        raise ArgumentTypeError(f"{owner}: pass the model or model.parameters() (called), got {what}")
    try:
        params = iter(params)
    except TypeError:
        raise ArgumentTypeError(f"{owner}: params must be a Module, a dict or an iterable of Parameters or "
                                f"(name, Parameter) pairs, got {type(params).__name__} {params!r}") from None
    items = list(params)
    if not items:
        raise ArgumentValueError(f"{owner} got an empty parameter list; pass a Module, "
                                 "model.named_parameters() or a list of Parameters")
    pairs = []
    for i, item in enumerate(items):
        if isinstance(item, Tensor):
            pairs.append((str(i), item))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Tensor):
            pairs.append((str(item[0]), item[1]))
        else:
            raise ArgumentTypeError(f"{owner}: parameter {i} is a {type(item).__name__}; expected a "
                                    f"Parameter/Tensor or a (name, Parameter) pair")
    named = dict(pairs)
    if len(named) != len(pairs):
        raise ArgumentValueError(f"{owner} got repeated parameter names: {[n for n, _ in pairs]}")
    if len({id(p) for p in named.values()}) != len(named):
        raise ArgumentValueError(f"{owner} got the same parameter twice (it would be updated twice)")
    return named


class Optimizer:
    """Base class: applies ``update`` to every parameter with a gradient.

    ``Optimizer(params, lr, weight_decay=0.0, l1=0.0, **hyper)``: ``params`` as in
    ``named_params``; ``weight_decay`` adds wd·θ (L2) and ``l1`` adds l1·sign(θ) to the
    gradient. Every hyperparameter (``lr`` included) is a plain attribute that may be
    changed between steps (learning-rate schedules do). Subclasses set ``buffers`` (names of
    per-parameter state arrays) and implement ``update``.

    Every hyperparameter must be a finite number, and ≥ 0 unless the class's
    ``hyper_ranges`` gives it another interval. ``__setattr__`` checks it, so a bad
    value fails at construction, on assignment (schedules) and in ``load_state_dict``, with
    the class, the name and the value in the message; ``step()`` checks nothing.

    Parameter groups (PyTorch's form): ``params`` may be a list of dicts, each with ``"params"`` (a
    Module or parameters, as above) and any hyperparameters that group uses instead of the defaults
    given as arguments, e.g. ``optim.SGD([{"params": model[0], "lr": 0.1}, {"params": model[2]}],
    lr=0.01)``. Their parameters are named ``group<i>.<name>`` (``group0.weight``), so a resume must
    build the groups the same way. A group's lr is kept as a multiple of the default lr (``lr_scale``
    in ``param_groups``, 10 here): a schedule that sets ``optimizer.lr`` moves every group in
    proportion, as PyTorch's schedulers scale every group's lr. ``param_groups`` (read-only
    mappings) and ``hyperparameters(group=i)`` show each group's values; ``state_dict()`` holds them
    under "groups" (dlcore.io checkpoints do not: a loaded one keeps the groups as constructed).

    For a training step captured as a CUDA graph (``dlcore.training.GraphStep``) an optimizer
    declares whether its step can be replayed (``capture_refusal``), puts its state back after
    the capture's own steps (``snapshot``) and counts the steps a graph replays
    (``count_replayed_step``).

    Example::

        >>> class SignSGD(optim.Optimizer):    # θ ← θ − η·sign(g)
        ...     def update(self, xp, param, g, state):
        ...         param -= self.lr * xp.sign(g)
        >>> w = nn.Parameter(np.array([1.0, 1.0], "float32"))
        >>> w.grad = np.array([3.0, -0.5], "float32")
        >>> SignSGD([w], lr=0.1).step()
        >>> print(w.numpy())
        [0.9 1.1]
        >>> model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
        >>> opt = optim.SGD([{"params": model[0], "lr": 0.1}, {"params": model[2]}], lr=0.01)
        >>> list(opt.params)[:2], opt.hyperparameters(group=0)["lr"], opt.hyperparameters(group=1)["lr"]
        (['group0.weight', 'group0.bias'], 0.1, 0.01)
        >>> opt.lr = 0.001                                   # a schedule's step: both groups ×0.1
        >>> round(opt.hyperparameters(group=0)["lr"], 6)
        0.01
    """

    buffers: tuple[str, ...] = ()
    #: {hyperparameter name: interval}, e.g. {"momentum": "[0, 1)"}, as ``checks.finite_number``
    #: reads it. Names not listed (lr, weight_decay, l1, eps, …) must be ≥ 0. Subclasses replace the table.
    hyper_ranges: dict[str, str] = {}
    #: None when a CUDA graph can replay ``step()``: its update reads only state arrays, whose addresses
    #: the graph keeps, and hyperparameters, with which ``GraphStep`` captures again when one changes.
    #: Otherwise why not (a clause naming what changes from step to step); ``step()`` then raises while
    #: a graph is being captured, and ``GraphStep`` and ``run.cuda_graph`` refuse the optimizer up front.
    capture_refusal: str | None = None

    def __init__(self, params, lr: float, weight_decay: float = 0.0, l1: float = 0.0, **hyper):
        self._hyper_names = ("lr", *hyper, "weight_decay", "l1")
        for name, value in dict(hyper, lr=lr, weight_decay=weight_decay, l1=l1).items():
            setattr(self, name, value)
        self.params, groups = self._grouped(params)
        self.param_groups = tuple(MappingProxyType(g) for g in groups)
        self.t = 0
        self.state: dict[str, dict] = {}

    def _grouped(self, params) -> tuple[dict[str, Tensor], list[dict] | None]:
        """(every parameter by name, the parameter groups or None) from ``params`` (see ``param_groups``)."""
        cls = type(self).__name__
        if not (isinstance(params, (list, tuple)) and params and all(isinstance(g, dict) for g in params)):
            named = named_params(params, cls)
            self._groups = [{"params": list(named)}]
            return named, []
        named, self._groups, groups = {}, [], []
        for i, group in enumerate(params):
            if "params" not in group:
                raise ArgumentValueError(f"{cls}: parameter group {i} has no 'params' entry; write "
                                         f"{{'params': model[0], 'lr': 0.1}}")
            unknown = sorted(set(group) - {"params", *self._hyper_names})
            if unknown:
                raise ArgumentValueError(f"{cls}: parameter group {i} sets {unknown}, which {cls} does not have; "
                                         f"a group may set {list(self._hyper_names)}")
            members = {f"group{i}.{name}": p for name, p in named_params(group["params"], cls).items()}
            overrides = {k: self._checked_hyper(k, v) for k, v in group.items() if k != "params"}
            if "lr" in overrides:
                if self.lr == 0:
                    raise ArgumentValueError(f"{cls}: parameter group {i} sets lr={overrides['lr']} but the default "
                                             f"lr is 0; a group's lr is kept as a multiple of the default lr")
                overrides["lr_scale"] = overrides.pop("lr") / self.lr
            named.update(members)
            self._groups.append({"params": list(members), **overrides})
            groups.append(self._groups[-1])
        if len({id(p) for p in named.values()}) != len(named):
            raise ArgumentValueError(f"{cls} got the same parameter twice (in two groups or twice in one)")
        return named, groups

    def __setattr__(self, name, value):
        if name in self.__dict__.get("_hyper_names", ()):
            value = self._checked_hyper(name, value)
        object.__setattr__(self, name, value)

    def _checked_hyper(self, name: str, value) -> float:
        """``value`` as a Python float, or the error naming the class, ``name`` and ``value``."""
        # kept as Python floats: a NumPy float64 scalar would turn float32 updates into
        # float64 temporaries under NumPy 2's promotion rules
        return finite_number(type(self).__name__, name, value, within=self.hyper_ranges.get(name, "[0, inf)"))

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"

    def hyperparameters(self, group: int | None = None) -> dict[str, float]:
        """{name: value} of every hyperparameter (``lr`` first, then the class's own, then
        ``weight_decay`` and ``l1``), as they stand now: the optimizer's defaults, or with ``group``
        those parameter group ``group`` steps with (its lr = its ``lr_scale`` × the default lr)."""
        values = {k: getattr(self, k) for k in self._hyper_names}
        if group is not None:
            overrides = dict(self._groups[group])
            del overrides["params"]
            values.update(overrides, lr=values["lr"] * overrides.pop("lr_scale", 1.0))
        return values

    # ---- the step ---------------------------------------------------------------------
    def update(self, xp, param, g, state: dict) -> None:
        """Change ``param`` in place from the gradient ``g`` (read only) and ``state``."""
        raise NotImplementedError

    def step(self) -> None:
        """One update of every parameter whose ``grad`` is not None; ``t`` counts steps.

        Raises RuntimeError while a CUDA graph is captured if the class has a ``capture_refusal``."""
        if self.capture_refusal is not None and is_capturing():
            raise RuntimeError(f"{type(self).__name__} cannot be captured in a CUDA graph: {self.capture_refusal}; "
                               "train it with eager steps (Trainer(cuda_graph=False))")
        self.t += 1
        defaults = self.hyperparameters()
        for i, group in enumerate(self._groups):
            if len(group) > 1:  # the group's values, as plain attributes while its parameters update
                self.__dict__.update(self.hyperparameters(i))
            try:
                for name in group["params"]:
                    self._step_one(name, self.params[name])
            finally:
                self.__dict__.update(defaults)

    def _step_one(self, name, p) -> None:
        grad, data = p.grad, p.data
        if grad is None:
            return
        if type(grad) is not type(data) or grad.shape != data.shape:
            self._refuse(name, p)
        xp = backends.backend_of(data).xp
        state = self.state.get(name)
        if state is None:
            state = self.state[name] = {b: xp.zeros_like(data) for b in self.buffers}
        self.update(xp, data, self._gradient(xp, p), state)

    def _refuse(self, name, p):
        """Raise the error that explains why ``p.grad`` cannot update ``p``."""
        op = f"{type(self).__name__}.step on {name!r}"
        backends.backend_for((p.data, p.grad), op=op)
        if p.grad.shape != p.data.shape:
            raise ValueError(f"{op}: gradient shape {p.grad.shape} != parameter shape {p.data.shape}")
        raise TypeError(f"{op}: gradient of type {type(p.grad).__name__} for a parameter of type "
                        f"{type(p.data).__name__}")

    def _gradient(self, xp, p):
        """g = grad + wd·θ + l1·sign(θ): ``p.grad`` itself when both are 0, else a new array."""
        g = p.grad
        if self.weight_decay:
            g = g + self.weight_decay * p.data
        if self.l1:
            g = g + self.l1 * xp.sign(p.data)
        return g

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Set every parameter's ``grad`` to None, or (``set_to_none=False``) each existing gradient to
        zeros, a new array (a gradient may be shared, so none is zeroed in place)."""
        set_to_none = flag(type(self).__name__, "set_to_none", set_to_none)
        for p in self.params.values():
            p.grad = None if set_to_none or p.grad is None else backends.backend_of(p.grad).xp.zeros_like(p.grad)

    def _load_groups(self, groups) -> None:
        """Take the groups' values from a state dict whose groups hold the same parameters as this one's."""
        cls = type(self).__name__
        if [g["params"] for g in groups] != [g["params"] for g in self.param_groups]:
            raise KeyError(f"{cls}.load_state_dict: the state's parameter groups "
                           f"{[g['params'] for g in groups]} differ from this optimizer's "
                           f"{[g['params'] for g in self.param_groups]}")
        for group, saved in zip(self._groups, groups):
            group.update({k: finite_number(cls, k, v) for k, v in saved.items() if k != "params"})

    # ---- CUDA-graph capture ---------------------------------------------------------------
    def snapshot(self):
        """A function that puts the step count and the state back as they are now, in place.

        Each state array keeps its identity and gets its values back (a CUDA graph holds its
        address); state made after the snapshot is zeroed, the value it was made with.
        ``dlcore.cuda_graph.CapturedStep(restore=...)`` undoes its warm-up and capture steps so.
        """
        t = self.t
        saved = [(a, a.copy()) for bufs in self.state.values() for a in bufs.values()]
        existing = {id(a) for a, _ in saved}  # ``saved`` keeps them alive: no id is reused

        def restore() -> None:
            self.t = t
            for array, copy in saved:
                array[...] = copy
            for bufs in self.state.values():
                for array in bufs.values():
                    if id(array) not in existing:
                        array.fill(0)
        return restore

    def count_replayed_step(self) -> None:
        """Count one step that a replayed CUDA graph made: the graph updated the arrays on the device
        without running ``step()``, so only the host's step count ``t`` is left to move."""
        self.t += 1

    # ---- saving and resuming --------------------------------------------------------------
    def state_dict(self) -> dict:
        """{"type", "hyper", "step", "params", "state"} as plain Python and NumPy copies.

        ``state`` is {parameter name: {buffer name: NumPy array}} for the parameters that
        have been stepped; ``params`` lists every parameter name, in order.
        """
        d = {
            "type": type(self).__name__,
            "hyper": self.hyperparameters(),
            "step": self.t,
            "params": list(self.params),
            "state": {name: {b: numpy.array(backends.to_numpy(a)) for b, a in bufs.items()}
                      for name, bufs in self.state.items()},
        }
        if self.param_groups:
            d["groups"] = [dict(g, params=list(g["params"])) for g in self.param_groups]
        return d

    def load_state_dict(self, d: dict) -> None:
        """Restore hyperparameters, step count and state from ``state_dict()`` output.

        Raises TypeError when ``d`` is not a dict, ValueError when the optimizer type or an
        array's shape differs, KeyError naming the missing/unexpected parameter or buffer names. Arrays go to each
        parameter's current device and dtype.
        """
        cls = type(self).__name__
        if not isinstance(d, dict):
            raise ArgumentTypeError(f"{cls}.load_state_dict takes the dict that state_dict() returns, "
                                    f"got {type(d).__name__}")
        if d.get("type") != cls:
            raise ValueError(f"load_state_dict: the state is for {d.get('type')!r}, this optimizer is {cls!r}")
        names = list(d.get("params", d["state"]))
        missing = [n for n in self.params if n not in names]
        unexpected = [n for n in names if n not in self.params]
        unexpected += [n for n in d["state"] if n not in self.params and n not in unexpected]
        if missing or unexpected:
            raise KeyError(f"{cls}.load_state_dict: missing parameter names {missing}, "
                           f"unexpected names {unexpected}")
        state = {}
        for name, bufs in d["state"].items():
            p = self.params[name]
            if set(bufs) != set(self.buffers):
                raise KeyError(f"{cls}.load_state_dict: {name!r} has buffers {sorted(bufs)}, "
                               f"expected {sorted(self.buffers)}")
            state[name] = {}
            for b in self.buffers:
                a = numpy.asarray(backends.to_numpy(bufs[b]))
                if a.shape != p.data.shape:
                    raise ValueError(f"{cls}.load_state_dict: {name}.{b} has shape {a.shape} in the "
                                     f"state but parameter {name!r} has shape {p.data.shape}")
                host = numpy.array(a, dtype=p.data.dtype)  # a fresh copy: the dict is not shared
                state[name][b] = backends.to_device(host, backends.backend_of(p.data).name)
        if "groups" in d:  # absent from dlcore.io checkpoints: the groups stay as constructed
            self._load_groups(d["groups"])
        for k in self._hyper_names:
            if k in d["hyper"]:
                setattr(self, k, d["hyper"][k])
        self.t = int(d["step"])
        self.state = state
